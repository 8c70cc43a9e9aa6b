"""End to end: our denoising flow reproduces the reference `LTXVideoPipeline` / `LTXMultiScalePipeline`.

Both sides run the same tiny random-weight models (the reference's torch modules, copied into
our MLX modules), the same text embeddings (passed straight to the reference `__call__`, so T5 is
bypassed) and the same random draws: every `mx.random.normal` our code makes is recorded, in
order, and the reference's `randn_tensor` calls replay them (channels-last -> channels-first
where the draw is a 5-D latent). The outputs compared are the final latents (output_type="latent").

Our side is composed as the pipeline's stage runner composes it: initial_noise ->
prepare_conditioning -> iter_denoise (one mx.eval per step) -> drop the extra conditioning tokens
-> unpatchify; multi-scale adds upsample_normalized_latents + adain_filter_latent and re-noises
the upsampled latents to the second pass's first timestep.

One deliberate alignment: the reference encodes conditioning media with `latent_dist.sample()`
while our pipeline takes the posterior mean, so the reference's sample is patched to its mode.
Conditioning pixels are given here and resized bilinearly to each pass's size, as both pipelines
do; test_pipeline_generate_parity.py runs our whole `Pipeline.generate` instead of these parts.
Flows with a video placed after frame 0 run in each of the reference's prefix modes (it
hard-codes "concat"; its `_handle_non_first_conditioning_sequence` is patched to the others).

Measured (CPU, float32, max|ours - ref| / max|ref|, bound 1e-4): text-to-video 1.8e-7,
image-to-video 2.8e-7, first frame + middle keyframe 2.9e-7, last-frame keyframe 1.9e-7,
video extension 2.8e-7, video placed mid-clip 2.7e-7 (soft prefix 3.0e-7, dropped prefix
2.7e-7, a 9-frame clip at the end with a soft prefix 2.5e-7), CFG+STG+rescale with a
linear-quadratic schedule 5.0e-7, per-timestep guidance schedule with CFG* 4.5e-7,
multi-scale text-to-video 3.3e-7, multi-scale image-to-video 6.9e-7.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import pytest
import torch
from ltx_video.pipelines import pipeline_ltx_video as reference_module
from ltx_video.utils.skip_layer_strategy import SkipLayerStrategy as ReferenceSkipLayerStrategy

from ltx_mlx_core.models.common.patchify import unpatchify
from ltx_mlx_core.models.ltxv.latent_filters import adain_filter_latent
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, SkipLayerStrategy, TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import load_transformer_weights, sanitize_official_transformer
from ltx_mlx_core.models.ltxv.upsampler import upsample_normalized_latents
from ltx_mlx_core.pipeline.conditioning import PlacedMedia, prepare_conditioning
from ltx_mlx_core.pipeline.config import PassConfig
from ltx_mlx_core.pipeline.decode import encode_video
from ltx_mlx_core.pipeline.denoise import TextConditioning, iter_denoise
from ltx_mlx_core.pipeline.guidance import guidance_schedule
from ltx_mlx_core.pipeline.latents import initial_noise, latent_grid
from ltx_mlx_core.pipeline.media import resize_frames
from ltx_mlx_core.pipeline.schedule import timesteps_from_config
from tests.parity.conftest import relative_max_error
from tests.parity.pipeline_helpers import (
    DISTILLED_FIRST_PASS,
    DISTILLED_SECOND_PASS,
    IMAGE_COND_NOISE_SCALE,
    TINY_TRANSFORMER,
    NoiseTape,
    reference_transformer,
    reference_video_pipeline,
    use_reference_prefix_mode,
)
from tests.parity.vae_helpers import (
    TINY_UPSAMPLER_CONFIG,
    TINY_VAE_CONFIG,
    mlx_upsampler_from_reference,
    mlx_vae_from_reference,
    reference_upsampler,
    reference_vae,
    to_channels_first,
    to_channels_last,
    torch_state_to_mx,
)

FLOAT32_BOUND = 1e-4
FRAME_RATE = 25.0


@dataclass
class Models:
    reference_pipeline: Any
    reference_upsampler: Any
    transformer: LTXVideoTransformer
    vae: Any
    upsampler: Any


@pytest.fixture(scope="module")
def models() -> Models:
    transformer = reference_transformer()
    ours = LTXVideoTransformer(TransformerConfig.from_dict(dict(transformer.config)))
    load_transformer_weights(ours, sanitize_official_transformer(torch_state_to_mx(transformer.state_dict())))

    vae = reference_vae(TINY_VAE_CONFIG, seed=0)
    upsampler = reference_upsampler(TINY_UPSAMPLER_CONFIG, seed=0)
    pipeline = reference_video_pipeline(transformer, vae)
    return Models(
        reference_pipeline=pipeline,
        reference_upsampler=upsampler,
        transformer=ours,
        vae=mlx_vae_from_reference(vae, TINY_VAE_CONFIG),
        upsampler=mlx_upsampler_from_reference(upsampler, TINY_UPSAMPLER_CONFIG),
    )


@dataclass
class Media:
    pixels: torch.Tensor  # [1, 3, F, H, W] in [-1, 1]
    frame: int
    strength: float

    def ours(self) -> PlacedMedia:
        return PlacedMedia(to_channels_last(self.pixels), self.frame, self.strength)

    def reference(self) -> Any:
        return reference_module.ConditioningItem(self.pixels, self.frame, self.strength)


def media(frames: int, frame: int, strength: float, size: tuple[int, int], seed: int) -> Media:
    """Smooth random pixels (so the tiny VAE sees structure, not only noise)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, frames, size[0] // 16, size[1] // 16, generator=generator) * 2 - 1
    pixels = torch.nn.functional.interpolate(coarse, size=(frames, *size), mode="trilinear", align_corners=False)
    return Media(pixels.contiguous(), frame, strength)


@dataclass
class Flow:
    name: str
    height: int = 64
    width: int = 64
    num_frames: int = 17
    pass_config: dict[str, Any] = field(default_factory=lambda: {"timesteps": DISTILLED_FIRST_PASS})
    stg_mode: str = "attention_values"
    conditioning: list[Media] = field(default_factory=list)
    prefix_mode: str = "concat"  # how a video placed after frame 0 uses its first two latents


def text_embeddings(seed: int = 7, length: int = 6) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    mask = torch.ones(1, length, dtype=torch.int64)
    mask[0, length - 2 :] = 0
    negative_mask = torch.zeros(1, length, dtype=torch.int64)
    negative_mask[0, :2] = 1
    return {
        "prompt_embeds": torch.randn(1, length, TINY_TRANSFORMER["caption_channels"], generator=generator),
        "prompt_attention_mask": mask,
        "negative_prompt_embeds": torch.randn(1, length, TINY_TRANSFORMER["caption_channels"], generator=generator),
        "negative_prompt_attention_mask": negative_mask,
    }


def our_text(embeddings: dict[str, torch.Tensor]) -> TextConditioning:
    def to_mx(name: str) -> mx.array:
        return mx.array(embeddings[name].numpy())

    return TextConditioning(
        to_mx("prompt_embeds"),
        to_mx("prompt_attention_mask"),
        to_mx("negative_prompt_embeds"),
        to_mx("negative_prompt_attention_mask"),
    )


def run_our_pass(
    models: Models,
    flow: Flow,
    key: mx.array,
    height: int,
    width: int,
    previous: mx.array | None = None,
) -> tuple[mx.array, int]:
    """One pass as the stage runner composes it; returns the final latents and the number of steps run."""
    pass_config = PassConfig.from_dict(flow.pass_config)
    timesteps = timesteps_from_config(pass_config)
    grid = latent_grid(flow.num_frames, height, width)
    noise_key, conditioning_key, loop_key = mx.random.split(key, 3)
    latents = initial_noise(noise_key, 1, grid, TINY_TRANSFORMER["in_channels"])
    if previous is not None:
        latents = timesteps[0] * latents + (1 - timesteps[0]) * previous
    # The reference pipeline bilinear-resizes conditioning media to each pass's size.
    placed = [item.ours() for item in flow.conditioning]
    for item in placed:
        item.pixels = resize_frames(item.pixels[0], height, width)[None]
    state = prepare_conditioning(
        latents,
        placed,
        lambda pixels: encode_video(models.vae, pixels),
        flow.num_frames,
        True,
        conditioning_key,
        prefix_mode=flow.prefix_mode,
    )
    steps = iter_denoise(
        models.transformer,
        state,
        timesteps,
        guidance_schedule(pass_config, timesteps),
        our_text(text_embeddings()),
        FRAME_RATE,
        loop_key,
        stg_strategy=SkipLayerStrategy.from_stg_mode(flow.stg_mode),
        image_cond_noise_scale=IMAGE_COND_NOISE_SCALE,
    )
    count = 0
    tokens = state.tokens
    for count, tokens in enumerate(steps, start=1):  # noqa: B007  (both are read after the loop)
        mx.eval(tokens)
    return unpatchify(tokens[:, state.num_extra :], grid), count


def reference_kwargs(flow: Flow, height: int, width: int) -> dict[str, Any]:
    strategy = {
        "attention_values": ReferenceSkipLayerStrategy.AttentionValues,
        "attention_skip": ReferenceSkipLayerStrategy.AttentionSkip,
        "residual": ReferenceSkipLayerStrategy.Residual,
        "transformer_block": ReferenceSkipLayerStrategy.TransformerBlock,
    }[flow.stg_mode]
    return dict(
        height=height,
        width=width,
        num_frames=flow.num_frames,
        frame_rate=FRAME_RATE,
        negative_prompt=None,
        skip_layer_strategy=strategy,
        output_type="latent",
        conditioning_items=[item.reference() for item in flow.conditioning] or None,
        is_video=True,
        vae_per_channel_normalize=True,
        image_cond_noise_scale=IMAGE_COND_NOISE_SCALE,
        stochastic_sampling=False,
        **text_embeddings(),
    )


def reference_pass_arguments(pass_config: dict[str, Any]) -> dict[str, Any]:
    defaults = {"guidance_scale": 1.0, "stg_scale": 0.0, "rescaling_scale": 1.0, "skip_block_list": None}
    return {**defaults, **pass_config}


def run_reference_pass(models: Models, flow: Flow) -> torch.Tensor:
    kwargs = reference_kwargs(flow, flow.height, flow.width)
    with torch.no_grad():
        result = models.reference_pipeline(**kwargs, **reference_pass_arguments(flow.pass_config))
    return result.images


def image(frame: int, strength: float, seed: int, size: tuple[int, int] = (64, 64)) -> Media:
    return media(1, frame, strength, size, seed)


SINGLE_PASS_FLOWS = [
    Flow("text_to_video"),
    Flow("image_to_video", conditioning=[image(0, 1.0, seed=1)]),
    Flow("keyframe_in_the_middle", conditioning=[image(0, 1.0, seed=1), image(8, 0.9, seed=2)]),
    Flow("last_frame_keyframe_only", conditioning=[image(16, 1.0, seed=3)]),
    Flow("video_extension", conditioning=[media(9, 0, 1.0, (64, 64), seed=4)]),
    Flow("video_placed_mid_clip", num_frames=33, conditioning=[media(17, 8, 0.95, (64, 64), seed=5)]),
    Flow(
        "video_mid_clip_soft_prefix",
        num_frames=33,
        conditioning=[media(17, 8, 0.95, (64, 64), seed=5)],
        prefix_mode="soft",
    ),
    Flow(
        "video_mid_clip_dropped_prefix",
        num_frames=33,
        conditioning=[media(17, 8, 0.95, (64, 64), seed=5)],
        prefix_mode="drop",
    ),
    Flow(
        "short_video_at_the_end_soft_prefix",
        num_frames=33,
        conditioning=[image(0, 1.0, seed=1), media(9, 24, 1.0, (64, 64), seed=9)],
        prefix_mode="soft",
    ),
    Flow(
        "cfg_stg_rescale_linear_quadratic",
        width=96,
        pass_config={
            "num_inference_steps": 5,
            "skip_final_inference_steps": 1,
            "guidance_scale": 3.0,
            "stg_scale": 1.0,
            "rescaling_scale": 0.7,
            "skip_block_list": [1],
        },
        conditioning=[image(0, 1.0, seed=6, size=(64, 96))],
    ),
    Flow(
        "guidance_schedule_by_timestep_with_cfg_star",
        pass_config={
            "timesteps": DISTILLED_FIRST_PASS,
            "guidance_timesteps": [1.0, 0.95, 0.8],
            "guidance_scale": [1.0, 4.0, 2.0],
            "stg_scale": [0.0, 1.0, 0.5],
            "rescaling_scale": [1.0, 0.5, 1.0],
            "skip_block_list": [[0], [1], [0, 1]],
            "cfg_star_rescale": True,
        },
        stg_mode="attention_skip",
    ),
]


@pytest.mark.parametrize("flow", SINGLE_PASS_FLOWS, ids=lambda flow: flow.name)
def test_single_pass_flow_matches_reference_latents(
    flow: Flow, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    tape = NoiseTape(monkeypatch)
    use_reference_prefix_mode(monkeypatch, flow.prefix_mode)
    ours, steps = run_our_pass(models, flow, mx.random.key(11), flow.height, flow.width)
    expected = run_reference_pass(models, flow)

    error = relative_max_error(to_channels_first(ours), expected)

    print(f"[pipeline parity float32] {flow.name}: {error:.2e} after {steps} steps")
    assert tape.replayed == len(tape.draws), "we drew noise the reference never used"
    assert error <= FLOAT32_BOUND


def test_distilled_single_pass_builds_no_guidance_batch(models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guidance 1 and STG 0 (the distilled configs): one transformer row per step, not a batch of 2 or 3."""
    batches = []
    original = LTXVideoTransformer.__call__

    def spy(self, latents, *args, **kwargs):
        batches.append(latents.shape[0])
        return original(self, latents, *args, **kwargs)

    monkeypatch.setattr(LTXVideoTransformer, "__call__", spy)
    _, steps = run_our_pass(models, Flow("distilled"), mx.random.key(0), 64, 64)
    assert batches == [1] * steps == [1] * len(DISTILLED_FIRST_PASS)


MULTISCALE_FLOWS = [
    Flow("multiscale_text_to_video", height=96, width=160),
    Flow("multiscale_image_to_video", height=96, width=160, conditioning=[image(0, 1.0, seed=8, size=(96, 160))]),
]


@pytest.mark.parametrize("flow", MULTISCALE_FLOWS, ids=lambda flow: flow.name)
def test_multiscale_flow_matches_reference_latents(flow: Flow, models: Models, monkeypatch: pytest.MonkeyPatch) -> None:
    downscale = 0.6666666
    first = {"timesteps": DISTILLED_FIRST_PASS}
    second = {"timesteps": DISTILLED_SECOND_PASS}
    small_w = int(flow.width * downscale) - int(flow.width * downscale) % 32
    small_h = int(flow.height * downscale) - int(flow.height * downscale) % 32
    tape = NoiseTape(monkeypatch)

    first_flow = Flow(flow.name, small_h, small_w, flow.num_frames, first, conditioning=flow.conditioning)
    first_latents, _ = run_our_pass(models, first_flow, mx.random.key(21), small_h, small_w)
    upsampled = upsample_normalized_latents(models.upsampler, models.vae, first_latents)
    upsampled = adain_filter_latent(upsampled, first_latents)
    second_flow = Flow(flow.name, 2 * small_h, 2 * small_w, flow.num_frames, second, conditioning=flow.conditioning)
    ours, _ = run_our_pass(models, second_flow, mx.random.key(22), 2 * small_h, 2 * small_w, previous=upsampled)

    multiscale = reference_module.LTXMultiScalePipeline(models.reference_pipeline, models.reference_upsampler)
    kwargs = reference_kwargs(flow, flow.height, flow.width)
    with torch.no_grad():
        expected = multiscale(
            downscale_factor=downscale,
            first_pass=reference_pass_arguments(first),
            second_pass=reference_pass_arguments(second),
            **kwargs,
        ).images

    error = relative_max_error(to_channels_first(ours), expected)
    print(f"[pipeline parity float32] {flow.name}: {error:.2e} ({small_w}x{small_h} -> {2 * small_w}x{2 * small_h})")
    assert tape.replayed == len(tape.draws)
    assert error <= FLOAT32_BOUND
