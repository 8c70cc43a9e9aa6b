"""Pipeline YAMLs: official files load, unknown keys are ignored, overrides merge."""

from __future__ import annotations

import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.paths import configs_dir
from ltx_mlx_core.pipeline.config import PipelineConfig, deep_merge, find_config_file, load_pipeline_config

OFFICIAL_DEV_13B = {
    "pipeline_type": "multi-scale",
    "prompt_enhancer_llm_model_name_or_path": "unsloth/Llama-3.2-3B-Instruct",
    "first_pass": {
        "guidance_scale": [1, 1, 6, 8, 6, 1, 1],
        "stg_scale": [0, 0, 4, 4, 4, 2, 1],
        "rescaling_scale": [1, 1, 0.5, 0.5, 1, 1, 1],
        "guidance_timesteps": [1.0, 0.996, 0.9933, 0.9850, 0.9767, 0.9008, 0.6180],
        "skip_block_list": [[], [11, 25, 35, 39], [22, 35, 39], [28], [28], [28], [28]],
        "num_inference_steps": 30,
        "skip_final_inference_steps": 3,
        "cfg_star_rescale": True,
    },
    "second_pass": {
        "guidance_scale": [1],
        "guidance_timesteps": [1.0],
        "num_inference_steps": 30,
        "skip_initial_inference_steps": 17,
    },
}


def test_official_distilled_config_loads_by_name():
    config = load_pipeline_config("ltxv-13b-0.9.8-distilled")
    assert config.is_multiscale
    assert config.first_pass.timesteps == [1.0000, 0.9937, 0.9875, 0.9812, 0.9750, 0.9094, 0.7250]
    assert config.second_pass.timesteps == [0.9094, 0.7250, 0.4219]
    assert config.second_pass.tone_map_compression_ratio == 0.6
    assert config.decode_timestep == 0.05 and config.decode_noise_scale == 0.025
    assert config.stg_mode == "attention_values"
    assert not config.uses_cfg()
    assert [name for name, _ in config.passes()] == ["first_pass", "second_pass"]


def test_every_shipped_config_loads():
    names = sorted(p.stem for p in configs_dir().glob("*.yaml"))
    assert "tiny" in names
    for name in names:
        assert load_pipeline_config(name).name == name


def test_dev_config_with_guidance_schedules_and_unknown_keys():
    config = PipelineConfig.from_dict(OFFICIAL_DEV_13B)
    assert config.first_pass.uses_cfg()
    assert config.uses_cfg()
    assert config.first_pass.skip_final_inference_steps == 3
    assert config.second_pass.skip_initial_inference_steps == 17


def test_base_config_reads_its_single_pass_from_top_level_keys():
    config = PipelineConfig.from_dict(
        {
            "pipeline_type": "base",
            "guidance_scale": 3,
            "stg_scale": 1,
            "num_inference_steps": 40,
            "skip_block_list": [19],
        }
    )
    assert [name for name, _ in config.passes()] == ["denoise"]
    assert config.single_pass.guidance_scale == 3
    assert config.single_pass.num_inference_steps == 40
    assert config.uses_cfg()


def test_overrides_merge_into_nested_passes_without_losing_siblings():
    config = load_pipeline_config(
        "ltxv-2b-0.9.8-distilled", {"first_pass": {"guidance_scale": 3.0}, "decode_timestep": 0.1}
    )
    assert config.first_pass.guidance_scale == 3.0
    assert config.first_pass.timesteps[0] == 1.0  # sibling key kept
    assert config.decode_timestep == 0.1
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 5}}) == {"a": {"b": 5, "c": 2}}


def test_config_can_be_given_as_a_file_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("pipeline_type: base\nnum_inference_steps: 3\n")
    assert find_config_file(str(path)) == path
    assert load_pipeline_config(str(path)).single_pass.num_inference_steps == 3


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"pipeline_type": "three-scale"}, "pipeline_type"),
        ({"first_pass": {"timesteps": [0.5, 0.9]}}, "strictly decreasing"),
        ({"first_pass": {"timesteps": [1.5]}}, "(0, 1]"),
        ({"stg_mode": "nope"}, "stg_mode"),
        ({"first_pass": {"guidance_scale": [1, 2], "guidance_timesteps": [1.0]}}, "guidance_timesteps"),
    ],
)
def test_bad_settings_are_rejected_with_the_setting_named(data, fragment):
    with pytest.raises(InvalidRequest, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        PipelineConfig.from_dict(data)


def test_unknown_config_name_lists_the_available_ones():
    with pytest.raises(InvalidRequest, match="ltxv-2b-0.9.8-distilled"):
        load_pipeline_config("no-such-config")
