"""The LTX-Video 0.9.x denoising transformer (the reference's `Transformer3DModel`) in MLX.

Tokens are 1x1x1 patches of the 128-channel latent, ordered (frame, height, width). Each
block modulates its normalised inputs with AdaLN-single (one timestep projection shared by all
blocks plus a learned per-block table), attends over the video tokens with fractional 3-D RoPE,
attends to the projected text embeddings, and runs a GELU feed-forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.adaln import CaptionProjection
from ltx_mlx_core.models.common.attention import SkipLayerStrategy
from ltx_mlx_core.models.common.rope import RotaryAngles, rotary_angles
from ltx_mlx_core.models.common.timestep import TIMESTEP_PROJECTION_CHANNELS, TimestepMLP, timestep_sinusoids
from ltx_mlx_core.models.common.token_chunks import DEFAULT_FEED_FORWARD_CHUNKS
from ltx_mlx_core.models.ltxv.transformer_blocks import TransformerBlock
from ltx_mlx_core.models.ltxv.transformer_config import (
    LTXV_2B_098,
    LTXV_13B_098,
    PRESETS,
    TransformerConfig,
)

__all__ = [
    "BlockInputs",
    "LTXVideoTransformer",
    "TransformerConfig",
    "SkipLayerStrategy",
    "LTXV_2B_098",
    "LTXV_13B_098",
    "PRESETS",
    "TEXT_MASK_BIAS",
    "AfterBlock",
]

# The reference turns padded text positions into this additive attention bias (not -inf).
TEXT_MASK_BIAS = -10000.0

# Called after each block with (block index, hidden states); the pipeline evaluates there
# (pipeline/block_eval.py), model code never does.
AfterBlock = Callable[..., None]


@dataclass(frozen=True)
class BlockInputs:
    """What every block of one forward reads besides the hidden states (`LTXVideoTransformer.embed`)."""

    timestep: mx.array  # [B, 1 or N, P * D] the AdaLN-single projection
    embedded_timestep: mx.array  # [B, 1 or N, D]
    context: mx.array  # [B, L, D]
    context_mask: mx.array | None  # additive, [B, 1, 1, L]
    rotary: RotaryAngles
    skip_layer_mask: mx.array | None = None  # [num_layers, B]; None without an STG strategy
    skip_layer_strategy: SkipLayerStrategy | None = None

    def entries(self, indices: Sequence[int]) -> BlockInputs:
        """The inputs of the chosen batch entries, in that order (a sub-batch of the branches)."""
        chosen = mx.array(list(indices))
        batch = self.timestep.shape[0]

        def take(array: mx.array | None, axis: int = 0) -> mx.array | None:
            if array is None or array.shape[axis] != batch:
                return array  # absent, or broadcast over the batch
            return mx.take(array, chosen, axis=axis)

        return BlockInputs(
            take(self.timestep), take(self.embedded_timestep), take(self.context), take(self.context_mask),
            RotaryAngles(take(self.rotary.cos), take(self.rotary.sin)), take(self.skip_layer_mask, axis=1),
            self.skip_layer_strategy,
        )  # fmt: skip


class LTXVideoTransformer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        dim = config.inner_dim
        self.proj_in = nn.Linear(config.in_channels, dim)
        self.timestep_embedder = TimestepMLP(TIMESTEP_PROJECTION_CHANNELS, dim)
        modulation_count = 6 if config.adaptive_norm == "single_scale_shift" else 4
        self.modulation_width = modulation_count * dim
        self.adaln_linear = nn.Linear(dim, self.modulation_width)
        if config.caption_channels is not None:
            self.caption_projection = CaptionProjection(config.caption_channels, dim)
        self.transformer_blocks = [TransformerBlock(config) for _ in range(config.num_layers)]
        self.scale_shift_table = mx.zeros((2, dim))
        self.proj_out = nn.Linear(dim, config.output_channels)
        # Token chunks of each block's feed-forward (models/common/token_chunks.py); the pipeline may set it.
        self.feed_forward_chunks = DEFAULT_FEED_FORWARD_CHUNKS

    @property
    def dtype(self) -> mx.Dtype:
        """The compute dtype: that of the weights (the tables are never quantised)."""
        return self.scale_shift_table.dtype

    def create_skip_layer_mask(
        self, batch_size: int, num_conds: int, ptb_index: int, skip_block_list: Sequence[int] | None
    ) -> mx.array | None:
        """The reference's STG mask: [num_layers, batch_size * num_conds] ones, with 0 in each listed
        block's row at entries ptb_index, ptb_index + num_conds, ...; None for an empty list.

        With batch_size 1 (what the reference pipeline runs) that is the perturbed condition's entry.
        """
        if not skip_block_list:
            return None
        num_layers = self.config.num_layers
        for block_index in skip_block_list:
            if not 0 <= block_index < num_layers:
                raise InvalidRequest(f"STG block {block_index} does not exist: the model has {num_layers} blocks.")
        mask = np.ones((num_layers, batch_size * num_conds), dtype=np.float32)
        for block_index in skip_block_list:
            mask[block_index, ptb_index::num_conds] = 0.0
        return mx.array(mask).astype(self.dtype)

    def __call__(
        self,
        latents: mx.array,
        indices_grid: mx.array,
        text_embeds: mx.array,
        text_mask: mx.array | None,
        timestep: mx.array,
        skip_layer_mask: mx.array | None = None,
        skip_layer_strategy: SkipLayerStrategy | None = None,
        after_block: AfterBlock | None = None,
    ) -> mx.array:
        """Predict the velocity for patchified latents.

                latents [B, N, C_in]; indices_grid [B, 3, N] fractional (frame, height, width) coordinates
                as the reference pipeline passes them (pixel coordinates, frames divided by the frame rate);
                text_embeds [B, L, caption_channels]; text_mask [B, L] (1 keep, 0 pad) or None;
                timestep [B], [B, 1] or [B, N] on the 0..1 scale; skip_layer_mask [num_layers, B]
                (0 marks the batch entries a layer perturbs for STG); `after_block(index, hidden)` runs after each
        block. Returns [B, N, C_out] in the weights' dtype.

                The forward is embed -> run_blocks -> output_features -> project_out; a step cache calls
                those parts itself to run only some blocks (pipeline/step_cache_ltxv.py).
        """
        hidden, inputs = self.embed(
            latents, indices_grid, text_embeds, text_mask, timestep, skip_layer_mask, skip_layer_strategy
        )
        hidden = self.run_blocks(hidden, inputs, after_block=after_block)
        return self.project_out(self.output_features(hidden, inputs))

    def embed(
        self,
        latents: mx.array,
        indices_grid: mx.array,
        text_embeds: mx.array,
        text_mask: mx.array | None,
        timestep: mx.array,
        skip_layer_mask: mx.array | None = None,
        skip_layer_strategy: SkipLayerStrategy | None = None,
    ) -> tuple[mx.array, BlockInputs]:
        """The first blocks' hidden states [B, N, D] and what every block reads besides them."""
        self._check_inputs(latents, indices_grid, text_embeds, text_mask, timestep, skip_layer_mask)
        config = self.config
        dtype = self.dtype
        batch = latents.shape[0]

        hidden = self.proj_in(latents.astype(dtype))
        rotary = rotary_angles(
            indices_grid,
            config.inner_dim,
            config.positional_embedding_theta,
            config.positional_embedding_max_pos,
            dtype,
        )

        timesteps = timestep.astype(mx.float32).reshape(-1)
        if config.timestep_scale_multiplier:
            timesteps = timesteps * config.timestep_scale_multiplier
        embedded_timestep = self.timestep_embedder(timestep_sinusoids(timesteps).astype(dtype))
        block_timestep = self.adaln_linear(nn.silu(embedded_timestep)).reshape(batch, -1, self.modulation_width)
        embedded_timestep = embedded_timestep.reshape(batch, -1, config.inner_dim)

        context = text_embeds.astype(dtype)
        if config.caption_channels is not None:
            context = self.caption_projection(context)
        context_mask = None
        if text_mask is not None:
            context_mask = ((1 - text_mask.astype(dtype)) * TEXT_MASK_BIAS)[:, None, None, :]
        if skip_layer_strategy is None:
            skip_layer_mask = None
        inputs = BlockInputs(
            block_timestep, embedded_timestep, context, context_mask, rotary, skip_layer_mask, skip_layer_strategy
        )
        return hidden, inputs

    def first_block_modulated_input(self, hidden: mx.array, inputs: BlockInputs) -> mx.array:
        """The first block's modulated self-attention input [B, N, D] (TeaCache's probe)."""
        return self.transformer_blocks[0].modulated_input(hidden, inputs.timestep)

    def run_blocks(
        self,
        hidden: mx.array,
        inputs: BlockInputs,
        start: int = 0,
        stop: int | None = None,
        after_block: AfterBlock | None = None,
    ) -> mx.array:
        """Blocks start..stop-1 (all by default) over hidden [B, N, D]; `after_block(index, hidden)` after each."""
        dtype = self.dtype
        batch = hidden.shape[0]
        stop = len(self.transformer_blocks) if stop is None else stop
        for index in range(start, stop):
            block_skip = None
            if inputs.skip_layer_mask is not None:
                block_skip = inputs.skip_layer_mask[index].astype(dtype).reshape(batch, 1, 1)
            hidden = self.transformer_blocks[index](
                hidden, inputs.timestep, inputs.context, inputs.context_mask, inputs.rotary, block_skip,
                inputs.skip_layer_strategy, self.feed_forward_chunks,
            )  # fmt: skip
            if after_block is not None:
                after_block(index, hidden)
        return hidden

    def output_features(self, hidden: mx.array, inputs: BlockInputs) -> mx.array:
        """The last blocks' output normalised and modulated by the timestep: proj_out's input."""
        output_modulation = self.scale_shift_table + inputs.embedded_timestep[:, :, None, :]
        shift, scale = output_modulation[:, :, 0], output_modulation[:, :, 1]
        hidden = mx.fast.layer_norm(hidden, None, None, 1e-6)
        return hidden * (1 + scale) + shift

    def project_out(self, features: mx.array) -> mx.array:
        return self.proj_out(features)

    def _check_inputs(
        self,
        latents: mx.array,
        indices_grid: mx.array,
        text_embeds: mx.array,
        text_mask: mx.array | None,
        timestep: mx.array,
        skip_layer_mask: mx.array | None,
    ) -> None:
        config = self.config
        if latents.ndim != 3 or latents.shape[-1] != config.in_channels:
            raise InvalidRequest(
                f"The transformer takes latent tokens shaped [batch, tokens, {config.in_channels}], "
                f"got {tuple(latents.shape)}."
            )
        batch, tokens = latents.shape[:2]
        if tuple(indices_grid.shape) != (batch, 3, tokens):
            raise InvalidRequest(
                f"indices_grid must be shaped [batch, 3, tokens] = {(batch, 3, tokens)} for latents "
                f"{tuple(latents.shape)}, got {tuple(indices_grid.shape)}."
            )
        if text_embeds.ndim != 3 or text_embeds.shape[0] != batch or text_embeds.shape[-1] != config.text_channels:
            raise InvalidRequest(
                f"Text embeddings must be shaped [{batch}, text_length, {config.text_channels}], "
                f"got {tuple(text_embeds.shape)}."
            )
        if text_mask is not None and tuple(text_mask.shape) != tuple(text_embeds.shape[:2]):
            raise InvalidRequest(
                f"The text mask must be shaped like the text embeddings' first two axes "
                f"{tuple(text_embeds.shape[:2])}, got {tuple(text_mask.shape)}."
            )
        valid_timestep = timestep.ndim == 1 and timestep.shape[0] == batch
        valid_timestep |= timestep.ndim == 2 and timestep.shape[0] == batch and timestep.shape[1] in (1, tokens)
        if not valid_timestep:
            raise InvalidRequest(
                f"timestep must be shaped [{batch}], [{batch}, 1] or [{batch}, {tokens}], got {tuple(timestep.shape)}."
            )
        if skip_layer_mask is not None and tuple(skip_layer_mask.shape) != (config.num_layers, batch):
            raise InvalidRequest(
                f"skip_layer_mask must be shaped [num_layers, batch] = {(config.num_layers, batch)}, "
                f"got {tuple(skip_layer_mask.shape)}."
            )
