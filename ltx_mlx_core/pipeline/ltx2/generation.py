"""An LTX-2 family request as one event stream: what `Pipeline.generate` runs for these models.

    load -> text_encode -> first_pass -> upsample -> second_pass -> decode -> decode_sound
    load -> text_encode -> denoise -> decode -> decode_sound                 (dev one-stage)

The memory plan (residency and quantisation) is made before anything loads and refuses what
cannot fit. Prompts are encoded once per request (or taken from the process's prompt cache),
and Gemma is freed before the transformer loads. The recipes of stages.py run per seed; each
denoising step yields StepDone and a latent Preview; each stage's latents (video and audio) are
checkpointed in `job_dir`, and a re-run resumes after the last completed stage. The video is
decoded tile by tile and the sound chunk by chunk; the result carries both. Closing the
generator frees every model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest, LtxMlxError, generation_error
from ltx_mlx_core.pipeline.checkpoints import StageCheckpoints, request_hash
from ltx_mlx_core.pipeline.events import Event, Finished, Preview, StageStarted, StepDone, VideoResult
from ltx_mlx_core.pipeline.ltx2.decode_outputs import iter_decode_sound, iter_decode_video
from ltx_mlx_core.pipeline.ltx2.job import LTX2Job
from ltx_mlx_core.pipeline.ltx2.media_sources import retake_sound, sound_conditions, visual_conditions
from ltx_mlx_core.pipeline.ltx2.models import LTX2Models
from ltx_mlx_core.pipeline.ltx2.prompts import encode_prompts
from ltx_mlx_core.pipeline.ltx2.recipe import DEV_TWO_STAGE, IC_LORA, RETAKE, LTX2Recipe, recipe_for
from ltx_mlx_core.pipeline.ltx2.runs import lora_specs, recipe_events
from ltx_mlx_core.pipeline.ltx2.stages import (
    LTX2Latents,
    StageFinished,
    StepLatents,
)
from ltx_mlx_core.pipeline.memory_estimate import MemoryPlan, plan_memory
from ltx_mlx_core.pipeline.preview import LatentProjection, load_or_fit_projection, projection_cache_key
from ltx_mlx_core.pipeline.release import release_memory, with_long_lived_objects_frozen
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.step_cache import step_cache_settings, step_cache_summary
from ltx_mlx_core.pipeline.timing import StageTimer
from ltx_mlx_core.weights.components import LTX2Components
from ltx_mlx_core.weights.lora_files import read_lora_file
from ltx_mlx_core.weights.residency import ResidencyMode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LTX2Settings:
    """How the run goes (not what it makes): preview size, decode tiling (None: what fits)."""

    preview_max_side: int = 256
    decoded_preview_frames: int = 9
    tiling: object | None = None


def prepare(request: GenerationRequest, components: LTX2Components) -> tuple[LTX2Recipe, MemoryPlan]:
    """Every check that needs the model but loads nothing: recipe, sizes, memory plan."""
    recipe = recipe_for(
        request, components.version, components.variant, components.model_id, components.distilled_lora is not None
    )
    multiple = recipe.side_multiple
    if request.width % multiple or request.height % multiple:
        raise InvalidRequest(
            f"This model's {'two-stage' if recipe.two_stage else 'one-stage'} recipe needs width and height in "
            f"multiples of {multiple} pixels; got {request.width}x{request.height}. "
            f"Try {max(multiple, round(request.width / multiple) * multiple)}x"
            f"{max(multiple, round(request.height / multiple) * multiple)}."
        )
    if recipe.guidance is not None:
        layers = components.shapes().transformer_config.num_layers
        blocks = {b for schedule in (recipe.guidance.video, recipe.guidance.audio) for _, p in schedule.bins
                  for b in p.stg_blocks}  # fmt: skip
        if any(block >= layers for block in blocks):
            raise InvalidRequest(
                f"STG is set to skip block(s) {sorted(blocks)}, but this transformer has blocks 0-{layers - 1}."
            )
    fuses = "the distilled LoRA" if recipe.kind == DEV_TWO_STAGE else "LoRAs" if request.loras else None
    if fuses and request.residency == ResidencyMode.STREAM_BLOCKS.value:
        raise InvalidRequest(
            f"This request applies {fuses} to the transformer, which streaming its blocks from disk would undo; "
            "use 8- or 4-bit quantisation or the 'stream_components' residency instead."
        )
    plan = plan_memory(request, components, dtype_bytes=recipe.dtype.size, stream_blocks=not fuses)
    for lora in request.loras:
        read_lora_file(lora.path)  # a truncated or foreign file is refused before anything loads
    return recipe, plan


class _Progress:
    """The index of each StageStarted across the whole run."""

    def __init__(self, total: int):
        self.total, self.index, self.current = total, 0, "start"

    def started(self, name: str, detail: str = "") -> StageStarted:
        self.index += 1
        self.current = name
        return StageStarted(name, self.index, self.total, detail=detail)


def iter_generate(
    request: GenerationRequest, components: LTX2Components, settings: LTX2Settings | None = None
) -> Iterator[Event]:
    """Check now (raising InvalidRequest / OutOfMemoryRisk), then return the event stream."""
    recipe, plan = prepare(request, components)
    return with_long_lived_objects_frozen(_events(request, components, recipe, plan, settings or LTX2Settings()))


def _resume_point(checkpoints: StageCheckpoints | None, seed: int, recipe: LTX2Recipe):
    """(stage-1 latents or None, final latents or None) from the seed's checkpoints."""
    if checkpoints is None:
        return None, None
    done = checkpoints.last_completed(seed, list(recipe.stages))
    if done is None:
        return None, None
    arrays = checkpoints.load_arrays(seed, done)
    latents = LTX2Latents(arrays["latents"], arrays.get("audio"))
    return (None, latents) if done == recipe.stages[-1] else (latents, None)


def _events(
    request: GenerationRequest,
    components: LTX2Components,
    recipe: LTX2Recipe,
    plan: MemoryPlan,
    settings: LTX2Settings,
) -> Iterator[Event]:
    timer = StageTimer()
    mx.reset_peak_memory()
    active_at_start = mx.get_active_memory()
    seeds = list(request.seeds)
    checkpoints = None
    if request.job_dir:
        identity = {"family": "ltx2", "recipe": recipe.kind, "dtype": str(recipe.dtype), "steps": recipe.steps}
        checkpoints = StageCheckpoints(request.job_dir, request_hash(request, identity))
    resume = {seed: _resume_point(checkpoints, seed, recipe) for seed in seeds}
    needs_denoise = [seed for seed in seeds if resume[seed][1] is None]
    stage_count = sum(len(recipe.stages) - (1 if resume[s][0] is not None else 0) for s in needs_denoise)
    sound = request.with_audio
    progress = _Progress(1 + (1 if needs_denoise else 0) + stage_count + len(seeds) * (2 if sound else 1))
    distilled_lora = components.distilled_lora if recipe.kind == DEV_TWO_STAGE else None
    # With a control clip the request's LoRAs are its IC-LoRAs, which the recipe fuses for stage 1 alone.
    loras = () if recipe.kind == IC_LORA else lora_specs(request)
    models = LTX2Models(components, recipe.dtype, plan, timer, distilled_lora, loras)
    retake_audio = None
    finals: dict[int, LTX2Latents] = {}
    stage_time = ExitStack()  # the running recipe stage's span on the timer
    cache_settings = step_cache_settings(request.step_cache, "ltx2")
    cache_stages: dict[int, dict[str, dict]] = {}
    finished = False
    try:
        with timer.stage("load"):
            yield progress.started("load", detail=f"residency: {plan.residency.value}")
            log.info("LTX-2 %s recipe, %s", recipe.kind, plan)
            projection = _projection(components, models)
        job = None
        if needs_denoise:
            detail = "prompt + negative" if recipe.uses_negative else "prompt"
            yield progress.started("text_encode", detail=detail)
            with timer.stage("text_encode"):
                positive, negative = encode_prompts(request, components, recipe, plan)
                layout = models.audio_layout()
                audio = sound_conditions(request, models.audio_vae, layout)
                if recipe.kind == RETAKE:
                    retake_audio = retake_sound(request, models.audio_vae, layout)
                models.release_audio_vae()
                visual = visual_conditions(request)
                if not visual and recipe.kind not in (RETAKE, IC_LORA):
                    models.release_video_encoder()
            job = LTX2Job(
                request.num_frames, request.height, request.width, request.fps, seeds[0], positive, negative,
                visual=visual, audio=audio, audio_layout=layout, latent_channels=models.vae().config.latent_channels,
            )  # fmt: skip
        for seed in seeds:
            first, final = resume[seed]
            if final is not None:
                finals[seed] = final
                continue
            seed_job = replace(job, seed=seed)
            events = recipe_events(seed_job, recipe, models, request, first, cache_settings, retake_audio)
            for event in events:
                if isinstance(event, StageStarted):
                    stage_time.close()
                    stage_time.enter_context(timer.stage(event.name))
                    yield progress.started(event.name, detail=f"seed {seed}, {event.detail}".rstrip(", "))
                elif isinstance(event, StepDone):
                    yield event
                elif isinstance(event, StepLatents):
                    frames = projection.to_rgb_frames(event.video, settings.preview_max_side)
                    yield Preview(frames, kind="latent", step=event.step)
                elif isinstance(event, StageFinished):
                    stage_time.close()
                    if event.step_cache is not None:
                        cache_stages.setdefault(seed, {})[event.name] = event.step_cache
                    if checkpoints is not None and event.name != "upsample":
                        extra = {} if event.latents.audio is None else {"audio": event.latents.audio}
                        checkpoints.save(seed, event.name, event.latents.video, extra)
                    models.stage_finished(event.name, last=event.name == recipe.stages[-1] and seed == seeds[-1])
                    finals[seed] = event.latents
        job = seed_job = events = None
        models.stage_finished("", last=True)
        videos, sounds, rate = [], [], 0
        for seed in seeds:
            latents = finals.pop(seed)
            yield progress.started("decode", detail=f"seed {seed}")
            with timer.stage("decode"):
                frames = yield from iter_decode_video(models.decoding_vae(), latents.video, settings, seed)
            videos.append(frames)
            if sound:
                yield progress.started("decode_sound", detail=f"seed {seed}")
                with timer.stage("decode_sound"):
                    pcm, rate = yield from iter_decode_sound(models, latents.audio, request)
                sounds.append(pcm)
        result = VideoResult(
            videos=videos, seeds=seeds, fps=request.fps, request=request, timings=timer.timings(),
            peak_memory_bytes=int(mx.get_peak_memory()), residency=plan.residency.value,
            audio=sounds if sound else [], audio_rate=rate,
            step_cache={seed: step_cache_summary(request.step_cache, s) for seed, s in cache_stages.items()},
        )  # fmt: skip
        models.release()
        yield Finished(result)
        finished = True
    except GeneratorExit:
        log.info("Generation cancelled during %s", progress.current)
        raise
    except LtxMlxError:
        raise
    except (MemoryError, RuntimeError, ValueError, OSError) as error:
        raise generation_error(error, progress.current) from error
    finally:
        stage_time.close()
        job = seed_job = events = None  # noqa: F841
        finals.clear()
        models.release()
        # A run cut short (cancelled, or failed) leaves arrays in its frames, which the exception
        # holds in reference cycles: collect them whatever the accounting says.
        release_memory(active_at_start if finished else None)


def _projection(components: LTX2Components, models: LTX2Models) -> LatentProjection:
    return load_or_fit_projection(models.vae(), projection_cache_key("ltx2", *components.cache_identity()))
