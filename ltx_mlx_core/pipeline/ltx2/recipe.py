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

from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.ltx2.guidance import LTX2_DEV_DEFAULTS, LTX23_DEV_DEFAULTS, DevDefaults, DevGuidance
from ltx_mlx_core.pipeline.ltx2.schedule import AncestralStep
from ltx_mlx_core.pipeline.request import GenerationRequest

DISTILLED = "distilled"
DEV_TWO_STAGE = "dev_two_stage"
DEV_ONE_STAGE = "dev_one_stage"
STAGES = {
    DISTILLED: ("first_pass", "upsample", "second_pass"),
    DEV_TWO_STAGE: ("first_pass", "upsample", "second_pass"),
    DEV_ONE_STAGE: ("denoise",),
}
DTYPES = {"bfloat16": mx.bfloat16, "float16": mx.float16, "float32": mx.float32}
# Random-weight test models run in float32 (their point is exactness, and the CPU has no bf16 speed-up).
TEST_MODEL_PREFIX = "tiny"
OVERRIDE_KEYS = ("compute_dtype", "steps", "pipeline")


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
        return self.kind != DEV_ONE_STAGE

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
    if variant == "dev":
        kind = DEV_TWO_STAGE if has_distilled_lora else DEV_ONE_STAGE
    else:
        kind = DISTILLED
    kind = overrides.get("pipeline", kind)
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
    defaults = dev_defaults(family_version)
    steps = overrides.get("steps", defaults.num_inference_steps)
    if not isinstance(steps, int) or steps < 1:
        raise InvalidRequest(f"steps must be a positive whole number; got {steps!r}.")
    return LTX2Recipe(kind, dtype, steps=steps, guidance=defaults.guidance())
