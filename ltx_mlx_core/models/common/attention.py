"""Multi-head attention of the LTX-Video transformer: self-attention with RoPE and cross-attention.

q/k normalisation runs over the whole model width (all heads together), before the split into
heads and before the rotary embedding, as in the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.rope import RotaryAngles, apply_rotary, rotary_channels

# The reference's qk-norm eps is fixed, independent of the config's norm_eps.
QK_NORM_EPS = 1e-5


class SkipLayerStrategy(Enum):
    """How a block is perturbed for spatio-temporal guidance (STG), named as the reference.

    Values are the pipeline YAML's `stg_mode` strings. `Residual` only acts on attention layers
    with a residual connection inside the attention module, which these models do not have, so
    in the reference (and here) it leaves the perturbed pass equal to the plain one.
    """

    AttentionSkip = "attention_skip"
    AttentionValues = "attention_values"
    Residual = "residual"
    TransformerBlock = "transformer_block"

    @classmethod
    def from_stg_mode(cls, stg_mode: str) -> SkipLayerStrategy:
        try:
            return cls(stg_mode)
        except ValueError:
            known = ", ".join(member.value for member in cls)
            raise ValueError(f"Unknown stg_mode {stg_mode!r}; expected one of: {known}.") from None


@dataclass(frozen=True)
class AttentionShard:
    """This process's part of an attention when a group of processes runs one model together
    (set by ltx_mlx_core.distributed; an attention without one holds and sees everything).

    Tensor parallel: the process holds the heads whose channels are [start, stop) of the full
    attention width, so rotary tables (built for the full width) and any input mixed into the
    result are cut to those channels. Sequence parallel: the process holds some of the tokens,
    and `gather_tokens` turns its keys/values [B, n, C] into the whole sequence's [B, N, C].
    """

    start: int = 0
    stop: int | None = None
    gather_tokens: Callable[[mx.array], mx.array] | None = None

    @property
    def cuts_channels(self) -> bool:
        return self.stop is not None

    def channels(self, x: mx.array) -> mx.array:
        return x[..., self.start : self.stop] if self.cuts_channels else x

    def gathered(self, x: mx.array) -> mx.array:
        return x if self.gather_tokens is None else self.gather_tokens(x)


def _make_qk_norm(kind: str | None, dims: int) -> nn.Module | None:
    if kind is None:
        return None
    if kind == "rms_norm":
        return nn.RMSNorm(dims, eps=QK_NORM_EPS)
    return nn.LayerNorm(dims, eps=QK_NORM_EPS)


class Attention(nn.Module):
    def __init__(
        self,
        query_dim: int,
        heads: int,
        head_dim: int,
        context_dim: int | None = None,
        bias: bool = True,
        qk_norm: str | None = "rms_norm",
    ):
        super().__init__()
        inner_dim = heads * head_dim
        self.heads = heads
        self.head_dim = head_dim
        self.scale = head_dim**-0.5
        source_dim = query_dim if context_dim is None else context_dim
        self.to_q = nn.Linear(query_dim, inner_dim, bias=bias)
        self.to_k = nn.Linear(source_dim, inner_dim, bias=bias)
        self.to_v = nn.Linear(source_dim, inner_dim, bias=bias)
        self.to_out = nn.Linear(inner_dim, query_dim, bias=True)
        self.q_norm = _make_qk_norm(qk_norm, inner_dim)
        self.k_norm = _make_qk_norm(qk_norm, inner_dim)
        self.shard: AttentionShard | None = None

    def __call__(
        self,
        x: mx.array,
        context: mx.array | None = None,
        mask: mx.array | None = None,
        rotary: RotaryAngles | None = None,
        skip_mask: mx.array | None = None,
        skip_strategy: SkipLayerStrategy | None = None,
    ) -> mx.array:
        """x [B, N, C]; context [B, L, C_ctx] (None: self-attention); mask additive, [B, 1, 1, L].

        `rotary` is applied only in self-attention. `skip_mask` [B, 1, 1] (1 keep, 0 perturb)
        replaces the attention result by its input (AttentionSkip) or by the values
        (AttentionValues) for the perturbed batch entries, as the reference's STG does.
        """
        source = x if context is None else context
        queries = self.to_q(x)
        keys = self.to_k(source)
        values = self.to_v(source)
        if self.q_norm is not None:
            queries = self.q_norm(queries)
            keys = self.k_norm(keys)
        shard = self.shard or AttentionShard()
        if context is None and rotary is not None:
            if shard.cuts_channels:
                rotary = rotary_channels(rotary, shard.start, shard.stop)
            queries = apply_rotary(queries, rotary)
            keys = apply_rotary(keys, rotary)
        all_keys, all_values = keys, values
        if context is None:
            all_keys, all_values = shard.gathered(keys), shard.gathered(values)

        batch, query_len, _ = queries.shape
        key_len = all_keys.shape[1]
        attended = mx.fast.scaled_dot_product_attention(
            queries.reshape(batch, query_len, self.heads, self.head_dim).transpose(0, 2, 1, 3),
            all_keys.reshape(batch, key_len, self.heads, self.head_dim).transpose(0, 2, 1, 3),
            all_values.reshape(batch, key_len, self.heads, self.head_dim).transpose(0, 2, 1, 3),
            scale=self.scale,
            mask=mask,
        )
        attended = attended.transpose(0, 2, 1, 3).reshape(batch, query_len, -1)

        if skip_mask is not None and skip_strategy is SkipLayerStrategy.AttentionSkip:
            attended = attended * skip_mask + shard.channels(x) * (1.0 - skip_mask)
        elif skip_mask is not None and skip_strategy is SkipLayerStrategy.AttentionValues:
            attended = attended * skip_mask + values * (1.0 - skip_mask)
        return self.to_out(attended)
