"""The T5 v1.1 encoder LTX-Video conditions on (T5-XXL, from PixArt-alpha's text_encoder folder).

Pre-norm blocks with RMS LayerNorm (no mean subtraction, no bias), unscaled
dot-product attention with a learned relative-position bias shared by every
layer, and a gated-GELU feed-forward: `wo(gelu(wi_0 x) * wi_1 x)`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import CheckpointError, InvalidRequest

MASK_BIAS = -1e9
FLOAT16_MAX = 65504.0


@dataclass
class T5Config:
    """Field names are those of Hugging Face's T5 config.json."""

    vocab_size: int = 32128
    d_model: int = 4096
    d_kv: int = 64
    d_ff: int = 10240
    num_layers: int = 24
    num_heads: int = 64
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6
    feed_forward_proj: str = "gated-gelu"

    def __post_init__(self) -> None:
        if self.feed_forward_proj not in ("gated-gelu", "gated-gelu_new"):
            raise CheckpointError(
                f"Only T5 v1.1 encoders with a gated-GELU feed-forward are supported; "
                f"this one has feed_forward_proj={self.feed_forward_proj!r}."
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> T5Config:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# PixArt-alpha/PixArt-XL-2-1024-MS text_encoder (google/t5-v1_1-xxl encoder).
T5_XXL = T5Config()


def relative_position_buckets(query_len: int, key_len: int, num_buckets: int, max_distance: int) -> mx.array:
    """Bidirectional T5 buckets [query_len, key_len]: exact for small offsets, log-spaced beyond."""
    relative = mx.arange(key_len)[None, :] - mx.arange(query_len)[:, None]
    half = num_buckets // 2
    buckets = (relative > 0).astype(mx.int32) * half
    distance = mx.abs(relative)
    max_exact = half // 2
    # Clamp before the log so distance 0 never reaches it (those use the exact branch anyway).
    safe = mx.maximum(distance, 1).astype(mx.float32)
    large = max_exact + (mx.log(safe / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)).astype(
        mx.int32
    )
    large = mx.minimum(large, half - 1)
    return buckets + mx.where(distance < max_exact, distance, large)


class T5Attention(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        inner = config.num_heads * config.d_kv
        self.num_heads = config.num_heads
        self.head_dim = config.d_kv
        self.q = nn.Linear(config.d_model, inner, bias=False)
        self.k = nn.Linear(config.d_model, inner, bias=False)
        self.v = nn.Linear(config.d_model, inner, bias=False)
        self.o = nn.Linear(inner, config.d_model, bias=False)

    def __call__(self, x: mx.array, bias: mx.array) -> mx.array:
        batch, length, _ = x.shape

        def heads(t: mx.array) -> mx.array:
            return t.reshape(batch, length, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

        # T5 folds the 1/sqrt(d) scale into its initialisation: scores are unscaled.
        out = mx.fast.scaled_dot_product_attention(
            heads(self.q(x)), heads(self.k(x)), heads(self.v(x)), scale=1.0, mask=bias
        )
        return self.o(out.transpose(0, 2, 1, 3).reshape(batch, length, -1))


class T5GatedFeedForward(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.wi_0 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return self.wo(nn.gelu_approx(self.wi_0(x)) * self.wi_1(x))


def clamp_float16(x: mx.array) -> mx.array:
    """Keep float16 activations finite the way Hugging Face's T5 does (T5 v1.1 overflows fp16)."""
    if x.dtype != mx.float16:
        return x
    limit = mx.where(mx.isinf(x).any(), FLOAT16_MAX - 1000.0, FLOAT16_MAX)
    return mx.clip(x, -limit, limit)


class T5Block(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.attn_norm = nn.RMSNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.self_attn = T5Attention(config)
        self.ffn_norm = nn.RMSNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.ffn = T5GatedFeedForward(config)

    def __call__(self, x: mx.array, bias: mx.array) -> mx.array:
        x = clamp_float16(x + self.self_attn(self.attn_norm(x), bias))
        return clamp_float16(x + self.ffn(self.ffn_norm(x)))


class T5Encoder(nn.Module):
    def __init__(self, config: T5Config):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.relative_attention_bias = nn.Embedding(config.relative_attention_num_buckets, config.num_heads)
        self.blocks = [T5Block(config) for _ in range(config.num_layers)]
        self.final_norm = nn.RMSNorm(config.d_model, eps=config.layer_norm_epsilon)

    def position_bias(self, length: int) -> mx.array:
        """[1, heads, L, L] learned bias of each (query, key) offset."""
        buckets = relative_position_buckets(
            length, length, self.config.relative_attention_num_buckets, self.config.relative_attention_max_distance
        )
        return self.relative_attention_bias(buckets).transpose(2, 0, 1)[None]

    def __call__(self, input_ids: mx.array, attention_mask: mx.array | None = None) -> mx.array:
        """input_ids [B, L] → hidden states [B, L, d_model]; mask [B, L] (1 keep, 0 padding)."""
        if input_ids.ndim != 2:
            raise InvalidRequest(f"Token ids must be shaped [batch, length]; got {tuple(input_ids.shape)}.")
        if attention_mask is not None and tuple(attention_mask.shape) != tuple(input_ids.shape):
            raise InvalidRequest(
                f"The attention mask {tuple(attention_mask.shape)} must match the token ids {tuple(input_ids.shape)}."
            )
        x = self.embed_tokens(input_ids)
        bias = self.position_bias(input_ids.shape[1]).astype(mx.float32)
        if attention_mask is not None:
            bias = bias + (1.0 - attention_mask.astype(mx.float32))[:, None, None, :] * MASK_BIAS
        # Summed in float32, floored at the activation dtype's lowest value so float16 never sees -inf
        # (a row whose keys are all padding then stays uniform instead of NaN, as in float32).
        bias = mx.maximum(bias, mx.finfo(x.dtype).min).astype(x.dtype)
        for block in self.blocks:
            x = block(x, bias)
        return self.final_norm(x)
