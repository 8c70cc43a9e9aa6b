"""What each pipeline stage does, over the models it needs (the Pipeline sequences them).

`StageRunner` owns the loaded models and their lifetimes: the text encoder lives
only while prompts are encoded; the transformer from the first denoising pass
to the last (dropped afterwards unless residency is 'resident'); the upsampler
only for the upsample stage. The VAE fits the preview projection at load, encodes
conditioning media at the start of each pass and decodes at the end; it stays
loaded throughout when residency is 'resident', while the streaming modes release
it beside T5 and the transformer (the upsample stage needs only its latent
statistics) and load it again when it is needed, so that no two large components
are held at once. Each `stage_steps` generator yields unevaluated latents
[B, F', H', W', C] once per step; the caller evaluates them.

A runner serves one request: the request, its pipeline config and the residency mode
(`choose_residency`, from the memory estimate) are given when it is made, so no
method relies on another having run first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.attention import SkipLayerStrategy
from ltx_mlx_core.models.common.patchify import unpatchify
from ltx_mlx_core.models.ltxv import text_encoding
from ltx_mlx_core.models.ltxv.latent_filters import adain_filter_latent
from ltx_mlx_core.models.ltxv.upsampler import upsample_normalized_latents
from ltx_mlx_core.pipeline.conditioning import PlacedMedia, prepare_conditioning
from ltx_mlx_core.pipeline.config import PassConfig, PipelineConfig
from ltx_mlx_core.pipeline.decode import encode_video
from ltx_mlx_core.pipeline.denoise import TextConditioning, iter_denoise
from ltx_mlx_core.pipeline.guidance import guidance_schedule
from ltx_mlx_core.pipeline.latents import initial_noise, latent_grid
from ltx_mlx_core.pipeline.media import prepare_item, resize_frames
from ltx_mlx_core.pipeline.memory_estimate import check_fits, estimate_memory
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.schedule import timesteps_from_config
from ltx_mlx_core.pipeline.step_cache import StepCache, step_cache_settings
from ltx_mlx_core.pipeline.timing import StageTimer
from ltx_mlx_core.weights.components import ModelComponents, components_of
from ltx_mlx_core.weights.registry import ModelFiles
from ltx_mlx_core.weights.residency import ResidencyMode

log = logging.getLogger(__name__)

MULTISCALE_STAGES = ["first_pass", "upsample", "second_pass"]
# Fresh noise on hard-conditioned tokens each step, x t^2 (the reference CLI's default).
IMAGE_COND_NOISE_SCALE = 0.15
SINGLE_SCALE_STAGES = ["denoise"]


@dataclass(frozen=True)
class LatentStatistics:
    """The VAE's per-channel latent mean and std: all that the upsample stage needs of the VAE."""

    mean_of_means: mx.array
    std_of_means: mx.array


def _dtype(name: str) -> mx.Dtype:
    return {"bfloat16": mx.bfloat16, "float16": mx.float16, "float32": mx.float32}[name]


def _smallest_two_pass_side(downscale_factor: float) -> int:
    """Smallest multiple of 32 whose downscaled first pass is still at least 32 pixels."""
    side = 32
    while int(side * downscale_factor) < 32:
        side += 32
    return side


def pass_sizes(request: GenerationRequest, config: PipelineConfig, stage: str) -> tuple[int, int]:
    """(width, height) in pixels at which a pass runs, as the reference multi-scale pipeline picks them.

    The first pass runs at the requested size times `downscale_factor`, rounded
    down to a multiple of 32; the second at twice that (the upsampler doubles);
    the decoded frames are then resized to the requested size.
    """
    if not config.is_multiscale:
        return request.width, request.height
    width = int(request.width * config.downscale_factor)
    height = int(request.height * config.downscale_factor)
    width, height = width - width % 32, height - height % 32
    if width < 32 or height < 32:
        raise InvalidRequest(
            f"{request.width}x{request.height} is too small for a two-pass pipeline with downscale "
            f"factor {config.downscale_factor}: the first pass would be {width}x{height}. "
            f"Use at least {_smallest_two_pass_side(config.downscale_factor)} pixels per side."
        )
    if stage == "first_pass":
        return width, height
    return 2 * width, 2 * height


def check_request_against_model(
    request: GenerationRequest, config: PipelineConfig, model: ModelFiles | ModelComponents
) -> None:
    """Checks needing the config and the model's components (InvalidRequest naming what to change)."""
    if config.is_multiscale:
        pass_sizes(request, config, "first_pass")
        if not components_of(model).has_upsampler:
            raise InvalidRequest(
                f"the '{config.name}' config is two-pass but model '{request.model}' has no spatial "
                "upsampler; install it or choose a single-pass (base) config."
            )


def choose_residency(
    request: GenerationRequest, config: PipelineConfig, model: ModelFiles | ModelComponents
) -> ResidencyMode:
    """Estimate memory before loading anything and pick the residency mode (OutOfMemoryRisk if
    nothing fits)."""

    estimate = estimate_memory(request, model, dtype_bytes=_dtype(config.compute_dtype).size)
    residency = check_fits(estimate, request.residency)
    log.info("Residency mode: %s (estimate %s)", residency.value, estimate)
    return residency


def latent_stage_names(config: PipelineConfig) -> list[str]:
    return list(MULTISCALE_STAGES if config.is_multiscale else SINGLE_SCALE_STAGES)


class StageRunner:
    """The stages of one request, in the residency mode chosen for it (`choose_residency`)."""

    def __init__(
        self,
        model: ModelFiles | ModelComponents,
        request: GenerationRequest,
        config: PipelineConfig,
        residency: ResidencyMode,
        timer: StageTimer | None = None,
    ):
        """`model`: resolved `ModelFiles` or any `ModelComponents` (weights.components), what every part
        loads through. Everything a stage needs is given here, so the methods can run in any order
        the pipeline calls them (encode_text alone, say). Component loads are timed on `timer`."""

        self.components = components_of(model)
        self.request = request
        self.config = config
        self.residency = residency
        self.dtype = _dtype(config.compute_dtype)
        self.timer = timer or StageTimer()
        self._vae = None
        self._latent_statistics: LatentStatistics | None = None
        self._transformer = None
        self._upsampler = None
        self._prepared_media: list | None = None
        self._media_cache: dict[tuple[int, int], list] = {}
        self._step_caches: dict[str, StepCache] = {}

    # Lifetimes -------------------------------------------------------------------------------

    def load_vae(self):
        """The VAE, loaded now if it is not in memory (the streaming modes release it meanwhile)."""
        if self._vae is None:
            self._vae = self._load("vae")
            self._latent_statistics = LatentStatistics(self._vae.mean_of_means, self._vae.std_of_means)
        return self._vae

    def _release_vae_when_streaming(self) -> None:
        """Outside 'resident', the VAE is not kept beside T5 or the transformer (load_vae brings it back)."""
        if self._vae is not None and self.residency is not ResidencyMode.RESIDENT:
            self._vae = None
            mx.clear_cache()

    def _load(self, component: str):
        with self.timer.load():
            if component == "vae":
                return self.components.load_vae(self.dtype)
            if component == "upsampler":
                return self.components.load_upsampler(self.dtype)
            return self.components.load_transformer(self.dtype, self.request.quantize_bits, self.residency)

    def transformer(self):
        if self._transformer is None:
            self._release_vae_when_streaming()
            self._transformer = self._load("transformer")
        return self._transformer

    def stage_finished(self, stage: str) -> None:
        """Drop what later stages do not need (the transformer after the last pass unless resident)."""
        if stage == "upsample":
            self._upsampler = None
        if stage == latent_stage_names(self.config)[-1] and self.residency is not ResidencyMode.RESIDENT:
            self._transformer = None
        mx.clear_cache()

    def release(self) -> None:
        self._vae = self._transformer = self._upsampler = None
        self._latent_statistics = None
        self._prepared_media = None
        self._media_cache.clear()
        self._step_caches.clear()
        mx.clear_cache()

    # Stages ----------------------------------------------------------------------------------

    def encode_text(self) -> TextConditioning:
        """Load T5 (quantised like the transformer when the request asks), encode the prompt (and the
        negative one when CFG is on), free T5."""

        request, config = self.request, self.config
        self._release_vae_when_streaming()
        with self.timer.load():
            tokenizer, encoder = self.components.load_text_encoder(self.dtype, request.quantize_bits)
        prompts = [request.prompt]
        if config.uses_cfg():
            prompts.append(request.negative_prompt)
        embeds, mask = text_encoding.encode_prompts(
            tokenizer, encoder, prompts, max_length=config.text_encoder_max_tokens
        )
        mx.eval(embeds, mask)
        del tokenizer, encoder
        mx.clear_cache()
        text = TextConditioning(embeds=embeds[:1], mask=mask[:1])
        if config.uses_cfg():
            text.negative_embeds, text.negative_mask = embeds[1:], mask[1:]
        return text

    def step_cache(self, stage: str) -> StepCache | None:
        """The step cache of the stage's latest pass (None when the request's cache is off)."""
        return self._step_caches.get(stage)

    def stage_length(self, stage: str) -> int:
        if stage == "upsample":
            return 1
        return len(self._timesteps(self._pass_config(stage)))

    def _pass_config(self, stage: str) -> PassConfig:
        return dict(self.config.passes())[stage]

    def _timesteps(self, pass_config: PassConfig) -> list[float]:
        return timesteps_from_config(pass_config)

    def stage_steps(
        self,
        stage: str,
        previous: mx.array | None,
        text: TextConditioning | None,
        keys: dict[str, mx.array],
    ) -> Iterator[mx.array]:
        if stage == "upsample":
            return self._upsample(previous)
        return self._vae_released_after_conditioning(self._denoise(stage, previous, text, keys))

    def _vae_released_after_conditioning(self, steps: Iterator[mx.array]) -> Iterator[mx.array]:
        """A pass's steps. Its conditioning media are encoded (evaluated) before the first step's graph is
        returned, so the VAE that encoded them is released before any step is evaluated."""
        for step, latents in enumerate(steps):
            if step == 0:
                self._release_vae_when_streaming()
            yield latents

    def _upsample(self, latents: mx.array) -> Iterator[mx.array]:
        if self._upsampler is None:
            self._upsampler = self._load("upsampler")
        if self._latent_statistics is None:
            self.load_vae()
        upsampled = upsample_normalized_latents(self._upsampler, self._latent_statistics, latents)
        yield adain_filter_latent(upsampled, latents)

    def _denoise(
        self,
        stage: str,
        previous: mx.array | None,
        text: TextConditioning,
        keys: dict[str, mx.array],
    ) -> Iterator[mx.array]:
        """One pass: noise (re-noised `previous` for the second pass), conditioning, denoising steps."""

        request, config = self.request, self.config
        pass_config = self._pass_config(stage)
        timesteps = self._timesteps(pass_config)
        width, height = pass_sizes(request, config, stage)
        grid = latent_grid(request.num_frames, height, width)
        transformer = self.transformer()
        noise_key, conditioning_key, loop_key = mx.random.split(keys[stage], 3)
        latents = initial_noise(noise_key, 1, grid, transformer.config.in_channels, self.dtype)
        if previous is not None:
            # The reference re-noises the upsampled latents to the pass's first timestep.
            start = timesteps[0]
            latents = start * latents + (1 - start) * previous.astype(self.dtype)
        state = prepare_conditioning(
            latents,
            self._placed_media(width, height),
            self._encode_pixels,
            request.num_frames,
            transformer.config.causal_temporal_positioning,
            conditioning_key,
            prefix_mode=config.prefix_latents_mode,
            prefix_soft_strength=config.prefix_soft_conditioning_strength,
        )
        # A fresh cache per pass: a resumed pass computes its first step like any other.
        cache_settings = step_cache_settings(request.step_cache, "ltxv")
        cache = None if cache_settings is None else StepCache(cache_settings, len(timesteps))
        self._step_caches.pop(stage, None)
        if cache is not None:
            self._step_caches[stage] = cache
        steps = iter_denoise(
            transformer,
            state,
            timesteps,
            guidance_schedule(pass_config, timesteps),
            text,
            request.fps,
            loop_key,
            stg_strategy=SkipLayerStrategy.from_stg_mode(config.stg_mode),
            image_cond_noise_scale=IMAGE_COND_NOISE_SCALE,
            stochastic=config.stochastic_sampling,
            step_cache=cache,
        )
        for tokens in steps:
            yield unpatchify(tokens[:, state.num_extra :], grid)

    def _placed_media(self, width: int, height: int) -> list:
        """Conditioning items at a pass's size, as the reference multi-scale pipeline makes them.

        Each item is prepared once for the requested size (cropped to its aspect at the source's
        resolution, blurred, CRF-compressed), then resized bilinearly to each pass's size.
        """

        request = self.request
        if (width, height) not in self._media_cache:
            if self._prepared_media is None:
                self._prepared_media = [
                    prepare_item(item, request.height, request.width, request.num_frames)
                    for item in request.conditioning
                ]
            self._media_cache[(width, height)] = [
                PlacedMedia(prepared.at_size(height, width).astype(self.dtype), item.frame, item.strength)
                for item, prepared in zip(request.conditioning, self._prepared_media)
            ]
        return self._media_cache[(width, height)]

    def _encode_pixels(self, pixels: mx.array) -> mx.array:
        return encode_video(self.load_vae(), pixels)

    def finish_pixels(self, pixels: mx.array) -> mx.array:
        """Decoded [F, H, W, 3] resized (bilinear) to the requested size when a pass ran at another.

        As the reference, the frames are clipped to the displayable range before they are resized.
        """
        request = self.request
        height, width = pixels.shape[1:3]
        if (width, height) == (request.width, request.height):
            return pixels

        return resize_frames(mx.clip(pixels, -1.0, 1.0), request.height, request.width)
