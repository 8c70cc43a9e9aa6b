"""The LTX-2 family's transformer step on random weights of a release's exact shapes (benchmarks).

One distilled denoising forward (the conditional pass alone) over the video and audio tokens of a
clip, with a prompt's worth of context tokens, evaluated at block boundaries as the denoise loop
does (pipeline/block_eval.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.bench.workloads import randomize_parameters
from ltx_mlx_core.models.ltx2.config import PRESETS, LTX2Config
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer, ModalityInput
from ltx_mlx_core.pipeline.block_eval import block_evaluator
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.ltx2.conditioning import TokenState, audio_state, video_state
from ltx_mlx_core.pipeline.ltx2.denoise import LTX2_IN_FLIGHT
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout

# Gemma's prompt length: the text path pads every prompt to it.
CONTEXT_TOKENS = 1024


@dataclass(frozen=True)
class AVShape:
    width: int = 768
    height: int = 512
    frames: int = 121
    fps: float = 24.0

    @property
    def video_tokens(self) -> int:
        f, h, w = latent_grid(self.frames, self.height, self.width)
        return f * h * w

    @property
    def audio_tokens(self) -> int:
        return AudioLatentLayout().frames_for(self.frames, self.fps)


def benchmark_config(layers: int | None = None, toy_widths: bool = False) -> LTX2Config:
    """LTX-2.3 22B's transformer, with `layers` blocks when given; `toy_widths` keeps its structure at
    widths a CPU smoke can run."""
    config = PRESETS["ltx-2.3-22b"]
    if layers:
        config = dataclasses.replace(config, num_layers=layers)
    if toy_widths:
        config = dataclasses.replace(
            config,
            num_attention_heads=2,
            attention_head_dim=64,
            cross_attention_dim=128,
            audio_num_attention_heads=2,
            audio_attention_head_dim=32,
            audio_cross_attention_dim=64,
        )
    return config


def random_ltx2_transformer(preset: str | LTX2Config, dtype: mx.Dtype = mx.bfloat16) -> LTX2Transformer:
    config = PRESETS[preset] if isinstance(preset, str) else preset
    model = LTX2Transformer(config)
    randomize_parameters(model, dtype)
    return model


def _modality(
    state: TokenState,
    context_shape: tuple[int, int],
    sigma: float,
    key: mx.array,
    dtype: mx.Dtype,
    per_token: bool = True,
) -> ModalityInput:
    k1, k2 = mx.random.split(key)
    latent = mx.random.normal(state.latent.shape, key=k1).astype(dtype)
    context = mx.random.normal((latent.shape[0], *context_shape), key=k2).astype(dtype)
    return ModalityInput(
        latent=latent,
        sigma=mx.full((latent.shape[0],), sigma, dtype=mx.float32),
        timesteps=state.timesteps(sigma) if per_token else mx.full((latent.shape[0], 1), sigma),
        positions=state.positions,
        context=context,
        keyframe_mask=state.keyframe_mask,
    )


def ltx2_step_inputs(
    model: LTX2Transformer,
    shape: AVShape,
    sigma: float = 0.9,
    context_tokens: int = CONTEXT_TOKENS,
    per_token_timesteps: bool = True,
) -> tuple[ModalityInput, ModalityInput | None]:
    """Random video (and audio, when the model has sound) inputs of one distilled step, evaluated.

    `per_token_timesteps` False gives each entry one noise level ([B, 1]) instead of one per token
    ([B, T], what the denoise loop passes): the same numbers, without per-token modulation tables."""
    config = model.config
    dtype = model.patchify_proj.weight.dtype
    keys = mx.random.split(mx.random.key(1))
    grid = latent_grid(shape.frames, shape.height, shape.width)
    video_width = config.caption_channels if config.has_caption_projection else config.inner_dim
    state = video_state(1, grid, shape.fps, None, config.in_channels)
    video = _modality(state, (context_tokens, video_width), sigma, keys[0], dtype, per_token_timesteps)
    audio = None
    if config.has_audio:
        layout = AudioLatentLayout()
        audio_width = config.caption_channels if config.has_caption_projection else config.audio_inner_dim
        state = audio_state(1, shape.audio_tokens, layout, None)
        audio = _modality(state, (context_tokens, audio_width), sigma, keys[1], dtype, per_token_timesteps)
    mx.eval([(m.latent, m.sigma, m.timesteps, m.positions, m.context) for m in (video, audio) if m is not None])
    return video, audio


def ltx2_step_workload(
    model: LTX2Transformer, shape: AVShape, eval_every_blocks: int | None = None, context_tokens: int = CONTEXT_TOKENS
) -> Callable[[], tuple[mx.array | None, mx.array | None]]:
    """One forward over the clip's video tokens (and audio tokens when the model has sound), as the
    denoise loop runs a text-to-video step: one noise level per entry, its block evaluation."""
    video, audio = ltx2_step_inputs(model, shape, context_tokens=context_tokens, per_token_timesteps=False)
    after_block = block_evaluator(eval_every_blocks, default_in_flight=LTX2_IN_FLIGHT)
    return lambda: model(video, audio, None, after_block)
