"""Which stage-recipe generator an LTX-2 request runs, over the request's models (`LTX2Models`).

The recipe (recipe.py) names the flow; this builds its plans and media: the distilled or dev
two-stage run, the dev one-stage run, IC-LoRA control (the request's LoRAs are the IC-LoRAs, fused
for the first stage only) and retake (the clip and its sound encoded, the stretch regenerated).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlx.core as mx

from ltx_mlx_core.pipeline.ltx2.ic_lora import ControlVideo, ICLoraControl, iter_ic_lora
from ltx_mlx_core.pipeline.ltx2.job import LTX2Job
from ltx_mlx_core.pipeline.ltx2.media_sources import control_source, retake_source
from ltx_mlx_core.pipeline.ltx2.models import LTX2Models
from ltx_mlx_core.pipeline.ltx2.recipe import DEV_ONE_STAGE, DEV_TWO_STAGE, IC_LORA, RETAKE, LTX2Recipe
from ltx_mlx_core.pipeline.ltx2.retake import Retake, iter_retake, retake_plan
from ltx_mlx_core.pipeline.ltx2.stages import (
    LTX2Latents,
    MediaModels,
    StageEvent,
    dev_one_stage_plan,
    dev_plans,
    distilled_plans,
    iter_one_stage,
    iter_two_stage,
)
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.step_cache import StepCacheSettings
from ltx_mlx_core.weights.lora_mapping import LoraSpec


def lora_specs(request: GenerationRequest) -> tuple[LoraSpec, ...]:
    return tuple(LoraSpec(Path(lora.path), float(lora.strength)) for lora in request.loras)


def recipe_events(
    job: LTX2Job,
    recipe: LTX2Recipe,
    models: LTX2Models,
    request: GenerationRequest,
    first: LTX2Latents | None,
    cache: StepCacheSettings | None,
    retake_audio: mx.array | None = None,
) -> Iterator[StageEvent]:
    """The recipe's events for one seed; `first` (a stage-1 checkpoint) skips stage 1 of a two-stage run."""
    media = MediaModels(models.vae, models.upsampler, encoding_vae=models.encoding_vae)
    if recipe.kind == IC_LORA:
        control = ICLoraControl.from_files(
            [ControlVideo(control_source(request), request.control_strength)], lora_specs(request)
        )
        return iter_ic_lora(job, control, models.transformer, media, first_result=first)
    if recipe.kind == RETAKE:
        retake = Retake(retake_source(request), request.retake_start, request.retake_end, retake_audio)
        plan = retake_plan(job, models.transformer, recipe.guidance, recipe.steps or 40)
        return iter_retake(job, retake, plan, media)
    if recipe.kind == DEV_ONE_STAGE:
        plan = dev_one_stage_plan(job, models.transformer, recipe.steps, recipe.guidance)
        return iter_one_stage(job, plan, media, step_cache=cache)
    if recipe.kind == DEV_TWO_STAGE:
        plans = dev_plans(job, models.transformer, models.stage_2_transformer, recipe.steps, recipe.guidance)
    else:
        plans = distilled_plans(job, models.transformer, ancestral=recipe.ancestral)
    return iter_two_stage(job, *plans, media, first_result=first, step_cache=cache)
