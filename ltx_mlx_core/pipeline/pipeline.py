"""The generation pipeline: composes models, schedules and decoding into one event stream.

`Pipeline.generate(request)` validates at once and returns a generator of
events. Work runs stage-major (every seed's first pass, then every seed's
upsample, ...) so each model is needed only during its stages:

    load -> text_encode -> first_pass -> upsample -> second_pass -> decode
    load -> text_encode -> denoise -> decode                    (single scale)

Each denoising step ends with exactly one `mx.eval` of the latents and a
`StepDone`; each decoded tile with one `mx.eval` and a `StepDone`. Closing the
generator (cancel) drops every model and array reference and clears MLX's
cache; nothing partial is yielded as finished. With `request.job_dir`, the
latents after each stage are checkpointed and a re-run resumes after the last
completed stage. Randomness: one `mx.random.key(seed)` per video, split into a
fixed key per stage, so a resumed run draws exactly what an uninterrupted one does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import GenerationError, InvalidRequest, LtxMlxError, generation_error
from ltx_mlx_core.pipeline import stage_runner
from ltx_mlx_core.pipeline.checkpoints import StageCheckpoints, request_hash
from ltx_mlx_core.pipeline.config import PipelineConfig, load_pipeline_config
from ltx_mlx_core.pipeline.decode import iter_decode_tiled
from ltx_mlx_core.pipeline.events import Event, Finished, Preview, StageStarted, StepDone, VideoResult
from ltx_mlx_core.pipeline.ltx2 import generation as ltx2_generation
from ltx_mlx_core.pipeline.ltx2.generation import LTX2Settings
from ltx_mlx_core.pipeline.memory_estimate import available_memory
from ltx_mlx_core.pipeline.preview import (
    LatentProjection,
    decoded_preview,
    load_or_fit_projection,
    projection_cache_key,
    to_uint8_frames,
)
from ltx_mlx_core.pipeline.release import release_memory, with_long_lived_objects_frozen
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.step_cache import StepCache, step_cache_summary
from ltx_mlx_core.pipeline.tiling import TilingConfig, first_final_frames, tiling_within
from ltx_mlx_core.pipeline.timing import StageTimer
from ltx_mlx_core.weights.components import ModelComponents, components_of
from ltx_mlx_core.weights.registry import LTX2, ModelFiles, resolve_model

log = logging.getLogger(__name__)

# One key per random stage, split from mx.random.key(seed): a stage draws the same numbers
# whether or not earlier stages ran in this process (resume), and whatever the other seeds are.
STAGE_KEYS = ("first_pass", "second_pass", "denoise", "decode")


@dataclass
class PipelineSettings:
    """How the pipeline runs (not what it makes): tiling, preview sizes.

    `tiling` None decodes in the fewest tiles that fit the memory left at decode time.
    """

    tiling: TilingConfig | None = None
    preview_max_side: int = 256
    decoded_preview_frames: int = 9


class _StepClock:
    """Elapsed time and ETA of a stage from the mean step time so far."""

    def __init__(self, total: int, started: float | None = None):
        self.total = total
        self.started = time.monotonic() if started is None else started

    def step_done(self, stage: str, step: int, cache: StepCache | None = None) -> StepDone:
        elapsed = time.monotonic() - self.started
        eta = elapsed / step * (self.total - step)
        records = cache.records if cache is not None else []
        return StepDone(
            stage=stage, step=step, total=self.total, elapsed=elapsed, eta=eta,
            cached=bool(records) and records[-1].skipped, skipped=sum(r.skipped for r in records),
        )  # fmt: skip


def stage_keys(seed: int) -> dict[str, mx.array]:
    keys = mx.random.split(mx.random.key(seed), len(STAGE_KEYS))
    return {name: keys[i] for i, name in enumerate(STAGE_KEYS)}


class _Work:
    """What one generation still has to do: per seed, the latents so far and the stages left."""

    def __init__(self, stages: list[str], latents: dict, remaining: dict[int, list[str]], seeds: list[int]):
        self.stages = stages
        self.latents: dict[int, mx.array | None] = latents
        self.remaining = remaining
        self.needs_transformer = any(s != "upsample" for left in remaining.values() for s in left)
        plan = ["load"] + (["text_encode"] if self.needs_transformer else [])
        plan += [stage for stage in stages for seed in seeds if stage in remaining[seed]]
        plan += ["decode"] * len(seeds)
        self.total = len(plan)
        self.index = 0
        self.current_stage = "start"

    @classmethod
    def plan(cls, seeds: list[int], stages: list[str], checkpoints: StageCheckpoints | None) -> _Work:
        """Resume each seed after its last checkpointed stage (all stages when there is none)."""
        latents: dict[int, mx.array | None] = {}
        remaining: dict[int, list[str]] = {}
        for seed in seeds:
            done = checkpoints.last_completed(seed, stages) if checkpoints else None
            latents[seed] = checkpoints.load(seed, done) if done else None
            remaining[seed] = stages[stages.index(done) + 1 :] if done else list(stages)
        return cls(stages, latents, remaining, seeds)

    def seeds_needing(self, stage: str) -> list[int]:
        return [seed for seed, left in self.remaining.items() if stage in left]

    def stage_started(self, name: str, detail: str = "") -> StageStarted:
        self.index += 1
        self.current_stage = name
        return StageStarted(name, self.index, self.total, detail=detail)


class Pipeline:
    """One model's generation pipeline; `generate` may be called many times."""

    def __init__(self, model: ModelFiles | ModelComponents, settings: PipelineSettings | None = None):
        """`model`: resolved `ModelFiles` or any `ModelComponents` (e.g. random weights for benchmarks)."""
        self.components = components_of(model)
        self.settings = settings or PipelineSettings()

    @classmethod
    def for_request(cls, request: GenerationRequest, settings: PipelineSettings | None = None) -> Pipeline:
        return cls(resolve_model(request.model), settings)

    def resolve_config(self, request: GenerationRequest) -> PipelineConfig:
        source = request.pipeline_config or self.components.config
        if source is None:
            raise InvalidRequest(f"model '{request.model}' has no default pipeline config; pass one.")
        return load_pipeline_config(source, request.config_overrides)

    def generate(self, request: GenerationRequest) -> Iterator[Event]:
        """Validate now (raising InvalidRequest), then return the event generator (the LTX-2 family's
        from pipeline/ltx2/generation.py, which plans memory before it returns)."""
        request.validate()
        if len(set(request.seeds)) != len(request.seeds):
            raise InvalidRequest(f"each seed can be given once (one video per seed); got {request.seeds}.")
        if self.components.family == LTX2:
            settings = LTX2Settings(
                self.settings.preview_max_side, self.settings.decoded_preview_frames, self.settings.tiling
            )
            return ltx2_generation.iter_generate(request, self.components, settings)
        config = self.resolve_config(request)
        stage_runner.check_request_against_model(request, config, self.components)
        return with_long_lived_objects_frozen(self._events(request, config))

    def _events(self, request: GenerationRequest, config: PipelineConfig) -> Iterator[Event]:
        timer = StageTimer()
        mx.reset_peak_memory()
        active_at_start = mx.get_active_memory()
        seeds = list(request.seeds)
        checkpoints = None
        if request.job_dir:
            checkpoints = StageCheckpoints(request.job_dir, request_hash(request, config.to_dict()))
        work = _Work.plan(seeds, stage_runner.latent_stage_names(config), checkpoints)
        runner: stage_runner.StageRunner | None = None
        cache_stages: dict[int, dict[str, dict]] = {}
        finished = False
        try:
            with timer.stage("load"):
                residency = stage_runner.choose_residency(request, config, self.components)
                runner = stage_runner.StageRunner(self.components, request, config, residency, timer)
                yield work.stage_started("load", detail=f"residency: {residency.value}")
                vae = runner.load_vae()
                projection = self._projection(vae, config)
                vae = None  # the runner decides how long the VAE stays (streaming modes release it meanwhile)

            text = None
            if work.needs_transformer:
                detail = "prompt + negative" if config.uses_cfg() else "prompt"
                yield work.stage_started("text_encode", detail=detail)
                with timer.stage("text_encode"):
                    text = runner.encode_text()
                # The transformer is loaded only once T5 is freed, and before the first step,
                # so a step's time (and its one evaluation) is the step's alone.
                runner.transformer()

            for stage in work.stages:
                for seed in work.seeds_needing(stage):
                    with timer.stage(stage):
                        yield work.stage_started(stage, detail=f"seed {seed}")
                        steps = runner.stage_steps(stage, work.latents[seed], text, stage_keys(seed))
                        clock = _StepClock(runner.stage_length(stage))
                        current = None
                        cache = None
                        for step, current in enumerate(steps, start=1):
                            mx.eval(current)
                            cache = runner.step_cache(stage) if stage != "upsample" else None
                            yield clock.step_done(stage, step, cache)
                            if stage != "upsample":
                                frames = projection.to_rgb_frames(current, self.settings.preview_max_side)
                                yield Preview(frames, kind="latent", step=step)
                        if current is None:
                            raise GenerationError(f"The {stage} stage produced no latents.")
                        work.latents[seed] = current
                        if cache is not None:
                            cache_stages.setdefault(seed, {})[stage] = cache.summary()
                        if checkpoints:
                            checkpoints.save(seed, stage, current)
                runner.stage_finished(stage)
            text = steps = current = cache = None

            vae = runner.load_vae()
            videos = []
            for seed in seeds:
                with timer.stage("decode"):
                    yield work.stage_started("decode", detail=f"seed {seed}")
                    pixels = yield from self._decode(vae, work.latents.pop(seed), config, seed)
                    videos.append(to_uint8_frames(runner.finish_pixels(pixels)))
                    pixels = None
            result = VideoResult(
                videos=videos,
                seeds=seeds,
                fps=request.fps,
                request=request,
                timings=timer.timings(),
                peak_memory_bytes=int(mx.get_peak_memory()),
                residency=residency.value,
                step_cache={
                    seed: step_cache_summary(request.step_cache, stages) for seed, stages in cache_stages.items()
                },
            )
            runner.release()
            yield Finished(result)
            finished = True
        except GeneratorExit:
            log.info("Generation cancelled during %s", work.current_stage)
            raise
        except LtxMlxError:
            raise
        except (MemoryError, RuntimeError, ValueError, OSError) as error:
            raise generation_error(error, work.current_stage) from error
        finally:
            # Drop every array and model this frame holds *before* clearing MLX's cache, so a
            # cancelled run returns its memory to the system rather than to the cache.
            vae = text = current = pixels = steps = cache = None  # noqa: F841
            if runner is not None:
                runner.release()
            work.latents.clear()
            # A run cut short (cancelled, or failed) leaves arrays in its frames, which the exception
            # holds in reference cycles: collect them whatever the accounting says.
            release_memory(active_at_start if finished else None)

    def _decode(self, vae, latents: mx.array, config: PipelineConfig, seed: int) -> Iterator[Event]:
        """Tiled decode with one evaluation and one StepDone per tile; returns pixels [F, H, W, 3]."""
        started = time.monotonic()
        tiling = self.settings.tiling or self._tiling_for(latents)
        tiles = iter_decode_tiled(
            vae,
            latents,
            timestep=config.decode_timestep,
            noise_scale=config.decode_noise_scale,
            key=stage_keys(seed)["decode"],
            tiling=tiling,
            tone_map_compression=config.passes()[-1][1].tone_map_compression_ratio,
        )
        grid = tuple(latents.shape[1:4])
        early_tiles, early_frames = first_final_frames(grid, tiling, vae.temporal_compression)
        clock = None
        video = None
        for tile in tiles:
            mx.eval(*tile.pending)
            clock = clock or _StepClock(tile.count, started=started)
            yield clock.step_done("decode", tile.index)
            if tile.index == early_tiles:
                # The first frames are final once every tile covering them is added in.
                first = tile.pending[0][0, : min(early_frames, self.settings.decoded_preview_frames)]
                yield Preview(self._decoded_preview(to_uint8_frames(first)), kind="decoded")
                first = None
            if tile.result is not None:
                video = tile.result
        if video is None:
            raise GenerationError("The decoder produced no frames.")
        return video[0]

    def _projection(self, vae, config: PipelineConfig) -> LatentProjection:
        identity = self.components.cache_identity()
        return load_or_fit_projection(vae, projection_cache_key(*identity), config.decode_timestep)

    @staticmethod
    def _tiling_for(latents: mx.array) -> TilingConfig:
        """The fewest tiles that fit what memory is left now (models released, latents ready)."""
        budget = max(0, available_memory() - mx.get_active_memory())
        # iter_decode_tiled blends into a sum of the whole clip: count it.
        tiling = tiling_within(tuple(latents.shape[1:4]), budget, latents.dtype.size, whole_clip=True)
        log.info("decode tiling for %s latents within %.1f GiB: %s", tuple(latents.shape), budget / 2**30, tiling)
        return tiling

    def _decoded_preview(self, frames: np.ndarray) -> np.ndarray:
        return decoded_preview(frames, self.settings.decoded_preview_frames, self.settings.preview_max_side)
