"""Building blocks of the LTX-Video transformer: the feed-forward and the AdaLN-single block."""

from __future__ import annotations

import os

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.activations import gelu_erf, gelu_tanh
from ltx_mlx_core.models.common.adaln import AdaValue, ada_rows, gated_residual, modulate
from ltx_mlx_core.models.common.attention import Attention, SkipLayerStrategy
from ltx_mlx_core.models.common.norms import make_norm
from ltx_mlx_core.models.common.rope import RotaryAngles
from ltx_mlx_core.models.common.token_chunks import in_token_chunks
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig

# Whole blocks through mx.compile on GPU backends (the profile in docs/PERFORMANCE.md measures both).
# LTX_MLX_COMPILE_BLOCKS=0 runs them plainly (a switch for measuring, or for a backend where compiling fails).
COMPILE_BLOCKS_ON_GPU = os.environ.get("LTX_MLX_COMPILE_BLOCKS", "1").strip() != "0"


class FeedForward(nn.Module):
    """Linear -> activation -> linear, 4x wide; "geglu" gates half of a 2x-wide projection."""

    def __init__(self, dim: int, activation: str, mult: int = 4):
        super().__init__()
        inner_dim = dim * mult
        self.activation = activation
        gated = activation == "geglu"
        self.proj_in = nn.Linear(dim, inner_dim * 2 if gated else inner_dim)
        self.proj_out = nn.Linear(inner_dim, dim)

    def __call__(self, x: mx.array) -> mx.array:
        hidden = self.proj_in(x)
        if self.activation == "gelu-approximate":
            hidden = gelu_tanh(hidden)
        elif self.activation == "gelu":
            hidden = gelu_erf(hidden)
        elif self.activation == "geglu":
            values, gate = mx.split(hidden, 2, axis=-1)
            hidden = values * gelu_erf(gate)
        else:  # "geglu-approximate": the reference's ApproximateGELU, x * sigmoid(1.702 x)
            hidden = hidden * mx.sigmoid(1.702 * hidden)
        return self.proj_out(hidden)


class TransformerBlock(nn.Module):
    """Self-attention (RoPE), cross-attention to text, feed-forward; AdaLN-single modulation.

    `scale_shift_table` [6 or 4, D] plus the per-sample (or per-token) timestep projection give
    shift/scale/gate for the attention and feed-forward branches.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        dim = config.inner_dim
        self.norm1 = make_norm(config.standardization_norm, dim, config.norm_eps, config.norm_elementwise_affine)
        self.attn1 = Attention(
            dim, config.num_attention_heads, config.attention_head_dim, None, config.attention_bias, config.qk_norm
        )
        self.attn2 = Attention(
            dim,
            config.num_attention_heads,
            config.attention_head_dim,
            config.cross_attention_dim,
            config.attention_bias,
            config.qk_norm,
        )
        self.norm2 = make_norm(config.standardization_norm, dim, config.norm_eps, config.norm_elementwise_affine)
        self.ff = FeedForward(dim, config.activation_fn)
        self.shifts = config.adaptive_norm == "single_scale_shift"
        self.scale_shift_table = mx.zeros((6 if self.shifts else 4, dim))
        # Compiled forwards per input layout; kept outside the module's tree (functions, not parameters).
        object.__setattr__(self, "_compiled_forwards", {})

    def __call__(
        self,
        x: mx.array,
        timestep: mx.array,
        context: mx.array,
        context_mask: mx.array | None,
        rotary: RotaryAngles,
        skip_mask: mx.array | None = None,
        skip_strategy: SkipLayerStrategy | None = None,
        ff_chunks: int = 1,
    ) -> mx.array:
        """x [B, N, D]; timestep [B, 1 or N, P*D] (P = 6 or 4); context [B, L, D_ctx]; the
        feed-forward runs over `ff_chunks` spans of the tokens (models/common/token_chunks.py).

        On a GPU the block runs as one compiled graph (its elementwise work fused, its graph
        built once per input layout); its weights are read at each call, so blocks whose
        weights are streamed in per step compile too.
        """
        if not COMPILE_BLOCKS_ON_GPU or mx.default_device().type != mx.gpu:
            return self.forward(x, timestep, context, context_mask, rotary, skip_mask, skip_strategy, ff_chunks)
        layout = (context_mask is not None, skip_mask is not None, skip_strategy, ff_chunks)
        compiled = self._compiled_forwards.get(layout)
        if compiled is None:
            compiled = self._compile_forward(*layout)
            self._compiled_forwards[layout] = compiled
        optional = [a for a in (context_mask, skip_mask) if a is not None]
        return compiled(x, timestep, context, rotary.cos, rotary.sin, *optional)

    def _compile_forward(
        self, has_mask: bool, has_skip: bool, skip_strategy: SkipLayerStrategy | None, ff_chunks: int = 1
    ):
        def forward(x, timestep, context, cos, sin, *optional):
            optional = list(optional)
            context_mask = optional.pop(0) if has_mask else None
            skip_mask = optional.pop(0) if has_skip else None
            rotary = RotaryAngles(cos, sin)
            return self.forward(x, timestep, context, context_mask, rotary, skip_mask, skip_strategy, ff_chunks)

        return mx.compile(forward, inputs=self.state)

    def forward(
        self,
        x: mx.array,
        timestep: mx.array,
        context: mx.array,
        context_mask: mx.array | None,
        rotary: RotaryAngles,
        skip_mask: mx.array | None = None,
        skip_strategy: SkipLayerStrategy | None = None,
        ff_chunks: int = 1,
    ) -> mx.array:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self._modulation(timestep)
        block_input = x
        normed = modulate(self.norm1(x), scale_msa, shift_msa)
        attended = self.attn1(normed, rotary=rotary, skip_mask=skip_mask, skip_strategy=skip_strategy)
        x = gated_residual(x, gate_msa, attended)
        # The reference feeds cross-attention the un-normalised hidden states.
        x = x + self.attn2(x, context=context, mask=context_mask)
        x = in_token_chunks(self._feed_forward, ff_chunks, x, shift_mlp, scale_mlp, gate_mlp)

        if skip_mask is not None and skip_strategy is SkipLayerStrategy.TransformerBlock:
            x = x * skip_mask + block_input * (1.0 - skip_mask)
        return x

    def modulated_input(self, x: mx.array, timestep: mx.array) -> mx.array:
        """The self-attention's input: norm1(x) modulated by this block's shift/scale (what TeaCache
        compares between steps). The same expression as the start of `forward`."""
        shift_msa, scale_msa = self._modulation(timestep)[:2]
        return modulate(self.norm1(x), scale_msa, shift_msa)

    def _feed_forward(self, x: mx.array, shift: AdaValue | None, scale: AdaValue, gate: AdaValue) -> mx.array:
        return gated_residual(x, gate, self.ff(modulate(self.norm2(x), scale, shift)))

    def _modulation(self, timestep: mx.array) -> tuple[AdaValue | None, ...]:
        """(shift, scale, gate) for attention then feed-forward; the shifts are None without shift rows.

        Each is kept as its table row and timestep terms (models/common/adaln.py says why)."""
        rows = ada_rows(self.scale_shift_table, timestep, slice(None))
        if self.shifts:
            return tuple(rows)
        scale_msa, gate_msa, scale_mlp, gate_mlp = rows
        return None, scale_msa, gate_msa, None, scale_mlp, gate_mlp
