"""Which LTX-2 recipe a request runs, decided before anything loads (pipeline/ltx2/recipe.py)."""

from __future__ import annotations

import mlx.core as mx
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.ltx2.guidance import LTX2_DEV_DEFAULTS, LTX23_DEV_DEFAULTS
from ltx_mlx_core.pipeline.ltx2.recipe import (
    DEV_ONE_STAGE,
    DEV_TWO_STAGE,
    DISTILLED,
    IC_LORA,
    RETAKE,
    recipe_for,
)
from ltx_mlx_core.pipeline.request import GenerationRequest


def request(**fields) -> GenerationRequest:
    return GenerationRequest(prompt="rain", model="ltx-2.3-22b-distilled", **fields)


def test_distilled_weights_run_the_distilled_two_stage_recipe_and_2_5_steps_ancestrally() -> None:
    recipe = recipe_for(request(), "2.3", "distilled", "ltx-2.3-22b-distilled", False)
    assert (recipe.kind, recipe.stages, recipe.side_multiple) == (
        DISTILLED,
        ("first_pass", "upsample", "second_pass"),
        64,
    )
    assert recipe.ancestral is None and recipe.guidance is None and recipe.dtype == mx.bfloat16
    newest = recipe_for(request(), "2.5", "distilled", "ltx-2.5-22b-distilled", False)
    assert newest.ancestral is not None and newest.ancestral.eta == 1.0


def test_dev_weights_take_their_release_constants_and_the_distilled_lora_decides_the_stages() -> None:
    two = recipe_for(request(), "2.3", "dev", "ltx-2.3-22b-dev", True)
    assert two.kind == DEV_TWO_STAGE and two.steps == LTX23_DEV_DEFAULTS.num_inference_steps
    assert two.guidance == LTX23_DEV_DEFAULTS.guidance() and two.uses_negative
    one = recipe_for(request(), "2", "dev", "ltx-2-19b-dev", False)
    assert one.kind == DEV_ONE_STAGE and one.steps == LTX2_DEV_DEFAULTS.num_inference_steps and one.side_multiple == 32
    with pytest.raises(InvalidRequest, match="distilled LoRA"):
        recipe_for(request(config_overrides={"pipeline": DEV_TWO_STAGE}), "2.3", "dev", "ltx-2.3-22b-dev", False)


def test_overrides_change_steps_and_guidance_field_by_field_and_typos_are_refused() -> None:
    changed = recipe_for(
        request(config_overrides={"steps": 3, "video_guidance": {"cfg_scale": 2.0, "stg_blocks": [1]}}),
        "2.3", "dev", "ltx-2.3-22b-dev", False,
    )  # fmt: skip
    video = changed.guidance.video.at(1.0)
    assert changed.steps == 3 and video.cfg_scale == 2.0 and video.stg_blocks == (1,)
    assert video.rescale_scale == LTX23_DEV_DEFAULTS.video.rescale_scale
    assert changed.guidance.audio.at(1.0) == LTX23_DEV_DEFAULTS.audio
    for overrides, message in (
        ({"guidance_scale": 3}, "take only these settings"),
        ({"video_guidance": {"cfg": 2}}, "video_guidance takes"),
        ({"steps": 0}, "positive whole number"),
        ({"compute_dtype": "int8"}, "compute_dtype"),
    ):
        with pytest.raises(InvalidRequest, match=message):
            recipe_for(request(config_overrides=overrides), "2.3", "dev", "ltx-2.3-22b-dev", False)
    with pytest.raises(InvalidRequest, match="no pipeline YAML"):
        recipe_for(request(pipeline_config="tiny.yaml"), "2.3", "distilled", "x", False)


def test_control_and_retake_choose_their_recipes() -> None:
    control = request(control_path="depth.mp4")
    assert recipe_for(control, "2.3", "distilled", "ltx-2.3-22b-distilled", False).kind == IC_LORA
    with pytest.raises(InvalidRequest, match="distilled weights"):
        recipe_for(control, "2.3", "dev", "ltx-2.3-22b-dev", True)
    retake = request(retake_path="clip.mp4", retake_end=1.0)
    assert recipe_for(retake, "2.3", "distilled", "m", False).stages == (RETAKE,)
    assert recipe_for(retake, "2.3", "dev", "m", False).guidance is not None
    with pytest.raises(InvalidRequest, match="step cache"):
        recipe_for(request(retake_path="clip.mp4", step_cache="faster"), "2.3", "distilled", "m", False)
