"""Multi-head attention of the LTX-2 transformer.

q and k are RMS-normalised over the whole attention width (learned scale) and then rotated;
keys may use their own rotary table (the audio-video cross-attentions rotate queries and keys
by different streams' positions). LTX-2.3+ gates each head's output by 2 * sigmoid of a
per-head logit computed from the attention's input.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.attention import AttentionShard
from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu
from ltx_mlx_core.models.ltx2.rope import Rotary, apply_rope, rotary_channels


@fuse_elementwise_on_gpu
def _gate_heads(attended: mx.array, logits: mx.array) -> mx.array:
    """attended [B, T, H, D] * 2 sigmoid(logits [B, T, H, 1]): one kernel on a GPU, where it was three
    (the logits come expanded: a view inside the compiled function would split its kernel)."""
    return attended * (2.0 * mx.sigmoid(logits))


class LTX2Attention(nn.Module):
    def __init__(
        self,
        query_dim: int,
        heads: int,
        head_dim: int,
        context_dim: int | None = None,
        eps: float = 1e-6,
        gated: bool = False,
    ):
        super().__init__()
        inner_dim = heads * head_dim
        source_dim = query_dim if context_dim is None else context_dim
        self.heads = heads
        self.head_dim = head_dim
        self.width = inner_dim  # the full attention width, whatever part of it a process holds
        self.to_q = nn.Linear(query_dim, inner_dim)
        self.to_k = nn.Linear(source_dim, inner_dim)
        self.to_v = nn.Linear(source_dim, inner_dim)
        self.q_norm = nn.RMSNorm(inner_dim, eps=eps)
        self.k_norm = nn.RMSNorm(inner_dim, eps=eps)
        self.to_out = nn.Linear(inner_dim, query_dim)
        if gated:
            self.to_gate_logits = nn.Linear(query_dim, heads)
        self.shard: AttentionShard | None = None

    def __call__(
        self,
        x: mx.array,
        context: mx.array | None = None,
        mask: mx.array | None = None,
        rope: Rotary | None = None,
        key_rope: Rotary | None = None,
        keep: mx.array | None = None,
        skip_all: bool = False,
    ) -> mx.array:
        """x [B, T, C]; context [B, S, C_ctx] (None: self-attention); mask additive, broadcast to [B, H, T, S].

        `keep` [B, 1, 1] (1 attend, 0 skip) blends in the value projection for the skipped
        entries; `skip_all` skips the query/key path and uses the values for every entry.
        """
        source = x if context is None else context
        values = self.to_v(source)
        batch, tokens = x.shape[:2]
        if skip_all:
            attended = values.reshape(batch, tokens, self.heads, -1)
        else:
            shard = self.shard or AttentionShard()
            queries = self.q_norm(self.to_q(x))
            keys = self.k_norm(self.to_k(source))
            if rope is not None:
                key_rope = rope if key_rope is None else key_rope
                if shard.cuts_channels:
                    rope = rotary_channels(rope, shard.start, shard.stop, self.width)
                    key_rope = rotary_channels(key_rope, shard.start, shard.stop, self.width)
                queries = apply_rope(queries, rope)
                keys = apply_rope(keys, key_rope)
            attended = self._attend(queries, shard.gathered(keys), shard.gathered(values), mask)
            if keep is not None:
                blended = attended.reshape(batch, tokens, -1) * keep + values * (1.0 - keep)
                attended = blended.reshape(batch, tokens, self.heads, -1)
        if "to_gate_logits" in self:
            # Gating writes the heads token-major, which is the layout to_out reads: no separate copy.
            attended = _gate_heads(attended, mx.expand_dims(self.to_gate_logits(x), -1))
        return self.to_out(attended.reshape(batch, tokens, -1))

    def _attend(self, queries: mx.array, keys: mx.array, values: mx.array, mask: mx.array | None) -> mx.array:
        """[B, T, H, D_head]: the attention kernel's heads-first result seen token-major (a view)."""
        batch, query_len, _ = queries.shape
        key_len = keys.shape[1]

        def heads_first(t: mx.array, length: int) -> mx.array:
            return t.reshape(batch, length, self.heads, self.head_dim).transpose(0, 2, 1, 3)

        attended = mx.fast.scaled_dot_product_attention(
            heads_first(queries, query_len),
            heads_first(keys, key_len),
            heads_first(values, key_len),
            scale=self.head_dim**-0.5,
            mask=None if mask is None else mask.astype(queries.dtype),
        )
        return attended.transpose(0, 2, 1, 3)
