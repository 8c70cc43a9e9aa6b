"""Which LTX-2 recipe a request runs, with what settings: decided before anything loads.

- distilled weights: the distilled two-stage recipe (LTX-2.5: Euler-ancestral first stage,
  as diffusers' LTX-2.5 pipeline);
- dev weights with the distilled LoRA installed: the dev two-stage recipe (guided stage 1,
  stage 2 by the dev transformer with the distilled LoRA fused);
- dev weights without it: the dev one-stage recipe at full size.

A request adjusts a recipe through `config_overrides` (the key names below); anything else
there is refused, so a typo is never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.ltx2.guidance import (
    LTX2_DEV_DEFAULTS,
    LTX23_DEV_DEFAULTS,
    DevDefaults,
    DevGuidance,
    GuiderParams,
)
from ltx_mlx_core.pipeline.ltx2.schedule import AncestralStep
from ltx_mlx_core.pipeline.request import GenerationRequest

DISTILLED = "distilled"
DEV_TWO_STAGE = "dev_two_stage"
DEV_ONE_STAGE = "dev_one_stage"
IC_LORA = "ic_lora"
RETAKE = "retake"
STAGES = {
    DISTILLED: ("first_pass", "upsample", "second_pass"),
    DEV_TWO_STAGE: ("first_pass", "upsample", "second_pass"),
    DEV_ONE_STAGE: ("denoise",),
    IC_LORA: ("first_pass", "upsample", "second_pass"),
    RETAKE: ("retake",),
}
DTYPES = {"bfloat16": mx.bfloat16, "float16": mx.float16, "float32": mx.float32}
# Random-weight test models run in float32 (their point is exactness, and the CPU has no bf16 speed-up).
TEST_MODEL_PREFIX = "tiny"
OVERRIDE_KEYS = ("compute_dtype", "steps", "pipeline", "video_guidance", "audio_guidance")
GUIDANCE_FIELDS = {f.name for f in fields(GuiderParams)}


@dataclass(frozen=True)
class LTX2Recipe:
    kind: str
    dtype: mx.Dtype
    steps: int = 0  # dev recipes: stage-1 (or only-stage) steps
    guidance: DevGuidance | None = None
    ancestral: AncestralStep | None = None

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES[self.kind]

    @property
    def two_stage(self) -> bool:
        return len(self.stages) > 1

    @property
    def side_multiple(self) -> int:
        """Width and height must be multiples of this: a half-size first stage needs 64."""
        return 64 if self.two_stage else 32

    @property
    def uses_negative(self) -> bool:
        return self.guidance is not None and self.guidance.uses_negative()


def dev_defaults(version: str) -> DevDefaults:
    return LTX2_DEV_DEFAULTS if version == "2" else LTX23_DEV_DEFAULTS


def recipe_for(
    request: GenerationRequest, family_version: str, variant: str, model_id: str, has_distilled_lora: bool
) -> LTX2Recipe:
    """The recipe for this request on this model; InvalidRequest naming a bad override."""
    overrides = dict(request.config_overrides or {})
    unknown = sorted(set(overrides) - set(OVERRIDE_KEYS))
    if unknown:
        raise InvalidRequest(
            f"LTX-2 models take only these settings: {', '.join(OVERRIDE_KEYS)}; got {', '.join(unknown)}."
        )
    if request.pipeline_config:
        raise InvalidRequest(
            "LTX-2 models have no pipeline YAML; choose the recipe with the 'pipeline' setting "
            f"({', '.join(STAGES)}) instead of '{request.pipeline_config}'."
        )
    default_dtype = "float32" if model_id.startswith(TEST_MODEL_PREFIX) else "bfloat16"
    dtype_name = overrides.get("compute_dtype", default_dtype)
    if dtype_name not in DTYPES:
        raise InvalidRequest(f"compute_dtype must be one of {', '.join(DTYPES)}; got '{dtype_name}'.")
    dtype = DTYPES[dtype_name]
    if request.retake_path is not None or request.control_path is not None:
        return _edit_recipe(request, family_version, variant, dtype, overrides)
    if variant == "dev":
        kind = DEV_TWO_STAGE if has_distilled_lora else DEV_ONE_STAGE
    else:
        kind = DISTILLED
    kind = overrides.get("pipeline", kind)
    if kind in (IC_LORA, RETAKE):
        raise InvalidRequest(
            f"The '{kind}' recipe runs when the request has a {'control clip' if kind == IC_LORA else 'clip to retake'}."
        )
    if kind not in STAGES:
        raise InvalidRequest(f"pipeline must be one of {', '.join(STAGES)}; got '{kind}'.")
    if kind == DEV_TWO_STAGE and not has_distilled_lora:
        raise InvalidRequest(
            f"The dev two-stage recipe needs the distilled LoRA for its second stage; '{model_id}' has none "
            "installed. Download it with the model, or use the one-stage recipe."
        )
    if kind == DISTILLED:
        if variant == "dev":
            raise InvalidRequest("The distilled recipe needs distilled weights; this is a dev model.")
        ancestral = AncestralStep() if family_version == "2.5" else None
        return LTX2Recipe(kind, dtype, ancestral=ancestral)
    steps, guidance = dev_settings(family_version, overrides)
    return LTX2Recipe(kind, dtype, steps=steps, guidance=guidance)


def _edit_recipe(
    request: GenerationRequest, version: str, variant: str, dtype: mx.Dtype, overrides: dict
) -> LTX2Recipe:
    """IC-LoRA control (distilled weights, as ltx-pipelines' ICLoraPipeline) or retake (either weights)."""
    if request.step_cache not in ("off", "0", "0.0"):
        raise InvalidRequest("The step cache is not available for IC-LoRA control or retake; set it to off.")
    if "pipeline" in overrides:
        raise InvalidRequest("A control clip or a retake decides the recipe; leave the 'pipeline' setting out.")
    if request.retake_path is not None:
        if variant != "dev":
            return LTX2Recipe(RETAKE, dtype)
        steps, guidance = dev_settings(version, overrides)
        return LTX2Recipe(RETAKE, dtype, steps=steps, guidance=guidance)
    if variant == "dev":
        raise InvalidRequest(
            "IC-LoRA control runs on distilled weights (as the reference pipeline); choose a distilled model."
        )
    return LTX2Recipe(IC_LORA, dtype)


def _guider(defaults: GuiderParams, changes: object, name: str) -> GuiderParams:
    if changes is None:
        return defaults
    if not isinstance(changes, dict) or set(changes) - GUIDANCE_FIELDS:
        raise InvalidRequest(f"{name} takes a mapping of {', '.join(sorted(GUIDANCE_FIELDS))}; got {changes!r}.")
    values = dict(changes)
    if "stg_blocks" in values:
        values["stg_blocks"] = tuple(int(block) for block in values["stg_blocks"])
    return replace(defaults, **values)


def dev_settings(version: str, overrides: dict) -> tuple[int, DevGuidance]:
    """A dev recipe's steps and guidance: the model's own constants, changed by the request's overrides
    (`steps`, `video_guidance` / `audio_guidance` with GuiderParams' fields)."""
    defaults = dev_defaults(version)
    steps = overrides.get("steps", defaults.num_inference_steps)
    if not isinstance(steps, int) or steps < 1:
        raise InvalidRequest(f"steps must be a positive whole number; got {steps!r}.")
    video = _guider(defaults.video, overrides.get("video_guidance"), "video_guidance")
    audio = _guider(defaults.audio, overrides.get("audio_guidance"), "audio_guidance")
    return steps, DevGuidance.constant(video, audio)
