"""Random-weight models of exact checkpoint shapes, and the stage workloads timed by benchmarks.

`ltx-mlx bench` uses these when the model is not installed, and tests/perf/compare_reference.py
uses them for our side of the side-by-side comparison, so both time the same work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_config import PRESETS, TransformerConfig
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder
from ltx_mlx_core.models.ltxv.vae.config import VAEConfig, ltxv_098_vae_config
from ltx_mlx_core.pipeline.block_eval import block_evaluator
from ltx_mlx_core.pipeline.decode import decode_video
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.tiling import TilingConfig

logger = logging.getLogger(__name__)

TEXT_TOKENS = 128


@dataclass(frozen=True)
class VideoShape:
    width: int = 768
    height: int = 512
    frames: int = 97

    @property
    def latent_grid(self) -> tuple[int, int, int]:
        return latent_grid(self.frames, self.height, self.width)

    @property
    def tokens(self) -> int:
        f, h, w = self.latent_grid
        return f * h * w


def randomize_parameters(module: nn.Module, dtype: mx.Dtype, seed: int = 0, std: float = 0.02) -> None:
    """Replace every parameter by N(0, std) in `dtype`, one array at a time.

    Built lazily, the module's own initialisers would materialise in float32 all at
    once on the first evaluation (twice the bf16 size); this never holds more than
    the final weights plus one array.
    """
    leaves = tree_flatten(module.parameters())
    keys = mx.random.split(mx.random.key(seed), len(leaves))
    new_leaves = []
    for key, (name, value) in zip(keys, leaves):
        if value.ndim == 1 and name.endswith("weight"):
            leaf = mx.ones(value.shape, dtype=dtype)  # norm scales
        else:
            leaf = mx.random.normal(value.shape, dtype=dtype, key=key) * std
        mx.eval(leaf)
        new_leaves.append((name, leaf))
    module.update(tree_unflatten(new_leaves))


def random_transformer(preset: str | TransformerConfig, dtype: mx.Dtype = mx.bfloat16) -> LTXVideoTransformer:
    config = PRESETS[preset] if isinstance(preset, str) else preset
    model = LTXVideoTransformer(config)
    randomize_parameters(model, dtype)
    return model


def random_vae(dtype: mx.Dtype = mx.bfloat16, config: VAEConfig | None = None) -> CausalVideoAutoencoder:
    """Random weights; per-channel latent statistics drawn as the reference benchmark draws them
    (std in [0.5, 1.5), mean ~ N(0, 0.3)), not N(0, 0.02) like the weights."""
    vae = CausalVideoAutoencoder(config or ltxv_098_vae_config())
    randomize_parameters(vae, dtype)
    keys = mx.random.split(mx.random.key(7))
    channels = vae.std_of_means.shape[0]
    vae.std_of_means = (mx.random.uniform(shape=(channels,), key=keys[0]) + 0.5).astype(dtype)
    vae.mean_of_means = (mx.random.normal((channels,), key=keys[1]) * 0.3).astype(dtype)
    return vae


def simple_indices_grid(shape: VideoShape, fps: float = 30.0) -> mx.array:
    """Fractional (frame/fps, y, x) pixel coordinates of every latent token, ordered (f, h, w)."""
    f, h, w = shape.latent_grid
    frames = (mx.arange(f) * 8).astype(mx.float32) / fps
    rows = (mx.arange(h) * 32).astype(mx.float32)
    cols = (mx.arange(w) * 32).astype(mx.float32)
    grid = mx.stack(
        [
            mx.broadcast_to(frames[:, None, None], (f, h, w)),
            mx.broadcast_to(rows[None, :, None], (f, h, w)),
            mx.broadcast_to(cols[None, None, :], (f, h, w)),
        ]
    ).reshape(1, 3, -1)
    return grid


def transformer_step_inputs(model: LTXVideoTransformer, shape: VideoShape, batch: int = 1) -> tuple[mx.array, ...]:
    """Random (latents, indices_grid, text_embeds, text_mask, timestep) for one forward, evaluated."""
    dtype = model.dtype
    key = mx.random.key(1)
    k1, k2 = mx.random.split(key)
    latents = mx.random.normal((batch, shape.tokens, model.config.in_channels), key=k1).astype(dtype)
    text = mx.random.normal((batch, TEXT_TOKENS, model.config.text_channels), key=k2).astype(dtype)
    mask = mx.ones((batch, TEXT_TOKENS), dtype=mx.int32)
    grid = mx.broadcast_to(simple_indices_grid(shape), (batch, 3, shape.tokens))
    timestep = mx.full((batch,), 0.9, dtype=mx.float32)
    mx.eval(latents, text, mask, grid, timestep)
    return latents, grid, text, mask, timestep


def transformer_step_workload(
    model: LTXVideoTransformer, shape: VideoShape, batch: int = 1, eval_every_blocks: int | None = None
) -> Callable[[], mx.array]:
    """One denoising forward (guidance 1: one pass per step) on random inputs, evaluated at block
    boundaries as the denoise loop does (`eval_every_blocks`: pipeline/block_eval.py; 0: one graph)."""
    inputs = transformer_step_inputs(model, shape, batch)
    after_block = block_evaluator(eval_every_blocks)
    return lambda: model(*inputs, after_block=after_block)


def vae_decode_workload(
    vae: CausalVideoAutoencoder, shape: VideoShape, tiling: TilingConfig | None = None, dtype: mx.Dtype = mx.bfloat16
) -> Callable[[], mx.array]:
    """Decode a clip's latents with the 0.9.8 decode timestep and noise, tile by tile."""
    f, h, w = shape.latent_grid
    latents = mx.random.normal((1, f, h, w, vae.config.latent_channels), key=mx.random.key(2)).astype(dtype)
    mx.eval(latents)
    key = mx.random.key(3)
    return lambda: decode_video(vae, latents, timestep=0.05, noise_scale=0.025, key=key, tiling=tiling)
