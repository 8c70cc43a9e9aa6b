"""The embeddings connectors: 1-D transformers between the text features and the LTX-2 transformer.

Each connector (one for video, one for audio) first replaces padding by learnable registers:
the valid tokens move to the front in their order, and every later position p takes register
p mod R, so the whole sequence is attended to afterwards. Then pre-norm blocks (parameter-free
RMS norm → self-attention with RMS q/k-norm and 1-D RoPE, optionally gated per head → RMS norm →
GELU(tanh) feed-forward), and a final RMS norm. LTX-2 has 2 blocks, 2.3 and 2.5 have 8 gated ones.

RoPE positions are the token indices divided by `max_pos`, mapped to [-1, 1] by 2x - 1; the
frequencies are theta ** linspace(0, 1, dim / 2) * pi / 2 over the whole width, computed in float64
("frequencies_precision": "float64", every shipped checkpoint) or in float32. The tables depend only
on the sequence length and the config, so they are computed on the host with numpy: the angles in
float32, rounded exactly as the reference rounds them, then cos/sin in float64 rounded to float32,
which matches torch's float32 cos/sin to an ulp even for angles of 1e5 rad (Metal has no float64).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import mlx.core as mx
import mlx.nn as nn
import numpy as np

NORM_EPS = 1e-6
ROPE_TYPES = ("interleaved", "split")


@dataclass(frozen=True)
class ConnectorConfig:
    num_heads: int = 30
    head_dim: int = 128
    num_layers: int = 2
    num_registers: int = 128
    theta: float = 10000.0
    max_pos: int = 1
    rope_type: str = "interleaved"
    double_precision_rope: bool = False
    gated_attention: bool = False

    def __post_init__(self) -> None:
        if self.rope_type not in ROPE_TYPES:
            raise ValueError(f"Connector rope_type must be one of {ROPE_TYPES}; got {self.rope_type!r}.")
        if self.num_registers < 1:
            raise ValueError("The connectors replace padding by learnable registers; num_registers must be >= 1.")
        if self.head_dim % 2:
            raise ValueError(f"The connector head width must be even for RoPE; got {self.head_dim}.")

    @property
    def inner_dim(self) -> int:
        return self.num_heads * self.head_dim

    @classmethod
    def from_transformer_config(cls, config: dict[str, Any], audio: bool = False) -> ConnectorConfig:
        """From an official checkpoint's transformer config, as ltx-core's connector configurators read it.

        The audio connector falls back to the video connector's shape where it has no own keys.
        """
        heads = config.get("connector_num_attention_heads", 30)
        head_dim = config.get("connector_attention_head_dim", 128)
        layers = config.get("connector_num_layers", 2)
        if audio:
            heads = config.get("audio_connector_num_attention_heads", heads)
            head_dim = config.get("audio_connector_attention_head_dim", head_dim)
            layers = config.get("audio_connector_num_layers", layers)
        max_pos = list(config.get("connector_positional_embedding_max_pos", [1]))
        if len(max_pos) != 1:
            raise ValueError(f"Connector positions are 1-D; got connector_positional_embedding_max_pos {max_pos}.")
        return cls(
            num_heads=heads,
            head_dim=head_dim,
            num_layers=layers,
            num_registers=config.get("connector_num_learnable_registers", 128),
            max_pos=max_pos[0],
            rope_type=config.get("rope_type", "interleaved"),
            double_precision_rope=config.get("frequencies_precision", False) == "float64",
            gated_attention=config.get("connector_apply_gated_attention", False),
        )


class RopeTables(NamedTuple):
    """cos/sin per token: [T, dim / 2] for interleaved pairs, [T, heads, head_dim / 2] for split halves."""

    cos: mx.array
    sin: mx.array
    rope_type: str


def _float32_linspace(count: int) -> np.ndarray:
    """torch.linspace(0, 1, count) in float32 as its serial kernel computes it: up from 0, then down from 1."""
    if count == 1:
        return np.zeros(1, dtype=np.float32)
    step = np.float32(1.0) / np.float32(count - 1)
    index = np.arange(count)
    rising = step * index.astype(np.float32)
    falling = np.float32(1.0) - step * (count - 1 - index).astype(np.float32)
    return np.where(index < count // 2, rising, falling).astype(np.float32)


def rope_frequencies(theta: float, count: int, double_precision: bool) -> np.ndarray:
    """The reference's frequency grid theta ** linspace(0, 1, count) * pi / 2, float32."""
    if double_precision:
        exponents = np.linspace(np.log(1.0) / np.log(theta), np.log(theta) / np.log(theta), count, dtype=np.float64)
        return (np.power(theta, exponents) * math.pi / 2).astype(np.float32)
    # torch's float32 pow is within an ulp of the correctly rounded power taken here, and its
    # vectorised CPU linspace rounds long grids slightly differently from the serial recipe: a few
    # frequencies differ by an ulp. The shipped checkpoints all take the float64 grid above.
    frequencies = np.power(np.float64(theta), _float32_linspace(count).astype(np.float64)).astype(np.float32)
    return (frequencies * np.float32(math.pi)) / np.float32(2.0)


@functools.lru_cache(maxsize=16)
def _rope_arrays(length: int, config: ConnectorConfig) -> tuple[np.ndarray, np.ndarray]:
    count = config.inner_dim // 2
    frequencies = rope_frequencies(config.theta, count, config.double_precision_rope)
    positions = np.arange(length, dtype=np.float32) / np.float32(config.max_pos)
    angles = frequencies[None, :] * (positions * np.float32(2.0) - np.float32(1.0))[:, None]
    cos = np.cos(angles.astype(np.float64)).astype(np.float32)
    sin = np.sin(angles.astype(np.float64)).astype(np.float32)
    if config.rope_type == "split":
        # Head h rotates its two halves by the grid's h-th slice of head_dim / 2 frequencies.
        cos = cos.reshape(length, config.num_heads, config.head_dim // 2)
        sin = sin.reshape(length, config.num_heads, config.head_dim // 2)
    return cos, sin


def rope_tables(length: int, config: ConnectorConfig, dtype: mx.Dtype) -> RopeTables:
    cos, sin = _rope_arrays(length, config)
    return RopeTables(mx.array(cos).astype(dtype), mx.array(sin).astype(dtype), config.rope_type)


def apply_rope(x: mx.array, tables: RopeTables, heads: int) -> mx.array:
    """Rotate x [B, T, heads * head_dim]: interleaved pairs (x[2i], x[2i+1]) or each head's two halves."""
    batch, length, width = x.shape
    if tables.rope_type == "interleaved":
        pairs = x.reshape(batch, length, width // 2, 2)
        first, second = pairs[..., 0], pairs[..., 1]
        rotated = [first * tables.cos - second * tables.sin, second * tables.cos + first * tables.sin]
        return mx.stack(rotated, axis=-1).reshape(x.shape)
    halves = x.reshape(batch, length, heads, 2, width // heads // 2)
    first, second = halves[..., 0, :], halves[..., 1, :]
    rotated = [first * tables.cos - second * tables.sin, second * tables.cos + first * tables.sin]
    return mx.stack(rotated, axis=-2).reshape(x.shape)


class ConnectorAttention(nn.Module):
    """Self-attention with RMS q/k-norm over all heads, RoPE, and an optional per-head gate 2 sigmoid(g)."""

    def __init__(self, dim: int, heads: int, head_dim: int, gated: bool):
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.head_dim = head_dim
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        self.q_norm = nn.RMSNorm(inner, eps=NORM_EPS)
        self.k_norm = nn.RMSNorm(inner, eps=NORM_EPS)
        self.to_out = nn.Linear(inner, dim)
        if gated:
            self.to_gate_logits = nn.Linear(dim, heads)

    def __call__(self, x: mx.array, rope: RopeTables) -> mx.array:
        batch, length, _ = x.shape
        queries = apply_rope(self.q_norm(self.to_q(x)), rope, self.heads)
        keys = apply_rope(self.k_norm(self.to_k(x)), rope, self.heads)
        values = self.to_v(x)
        shape = (batch, length, self.heads, self.head_dim)
        attended = mx.fast.scaled_dot_product_attention(
            queries.reshape(shape).transpose(0, 2, 1, 3),
            keys.reshape(shape).transpose(0, 2, 1, 3),
            values.reshape(shape).transpose(0, 2, 1, 3),
            scale=self.head_dim**-0.5,
        ).transpose(0, 2, 1, 3)
        if "to_gate_logits" in self:
            # 2 sigmoid(0) = 1: a zero-initialised gate leaves the attention unchanged.
            attended = attended * (2.0 * mx.sigmoid(self.to_gate_logits(x)))[..., None]
        return self.to_out(attended.reshape(batch, length, -1))


class ConnectorFeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.proj_in = nn.Linear(dim, dim * mult)
        self.proj_out = nn.Linear(dim * mult, dim)

    def __call__(self, x: mx.array) -> mx.array:
        return self.proj_out(nn.gelu_approx(self.proj_in(x)))


class ConnectorBlock(nn.Module):
    def __init__(self, config: ConnectorConfig):
        super().__init__()
        self.attn1 = ConnectorAttention(config.inner_dim, config.num_heads, config.head_dim, config.gated_attention)
        self.ff = ConnectorFeedForward(config.inner_dim)

    def __call__(self, x: mx.array, rope: RopeTables) -> mx.array:
        x = x + self.attn1(mx.fast.rms_norm(x, None, NORM_EPS), rope)
        return x + self.ff(mx.fast.rms_norm(x, None, NORM_EPS))


class EmbeddingsConnector(nn.Module):
    """Text features [B, T, inner_dim] with their mask → connector output [B, T, inner_dim] (all positions valid)."""

    def __init__(self, config: ConnectorConfig):
        super().__init__()
        self.config = config
        self.transformer_1d_blocks = [ConnectorBlock(config) for _ in range(config.num_layers)]
        self.learnable_registers = mx.zeros((config.num_registers, config.inner_dim))

    def __call__(self, features: mx.array, attention_mask: mx.array) -> mx.array:
        hidden = self.replace_padding_with_registers(features, attention_mask)
        rope = rope_tables(hidden.shape[1], self.config, hidden.dtype)
        for block in self.transformer_1d_blocks:
            hidden = block(hidden, rope)
        return mx.fast.rms_norm(hidden, None, NORM_EPS)

    def replace_padding_with_registers(self, features: mx.array, attention_mask: mx.array) -> mx.array:
        """Valid tokens first (in order), then register p mod R at every later position p."""
        batch, length, _ = features.shape
        registers = self.config.num_registers
        if length % registers:
            raise ValueError(f"The text length {length} must be a multiple of the {registers} connector registers.")
        valid = attention_mask.astype(mx.bool_)
        positions = mx.arange(length)[None, :]
        # Distinct keys make the order unique: valid tokens by position, then the padding.
        order = mx.argsort(mx.where(valid, positions, positions + length), axis=1)
        front = mx.take_along_axis(features, order[:, :, None], axis=1)
        tiled = mx.tile(self.learnable_registers, (length // registers, 1)).astype(features.dtype)
        keep = positions < valid.astype(mx.int32).sum(axis=1, keepdims=True)
        return mx.where(keep[:, :, None], front, tiled[None])


def sanitize_official_connector(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """One connector's keys, its checkpoint prefix already removed, → this module's keys."""
    renamed = {}
    for key, value in weights.items():
        key = key.replace(".attn1.to_out.0.", ".attn1.to_out.")
        key = key.replace(".ff.net.0.proj.", ".ff.proj_in.").replace(".ff.net.2.", ".ff.proj_out.")
        renamed[key] = value
    return renamed


def sanitize_diffusers_connector(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """One diffusers `LTX2ConnectorTransformer1d`'s keys (prefix removed) → this module's keys."""
    renamed = {}
    for key, value in weights.items():
        key = (
            key.replace("transformer_blocks.", "transformer_1d_blocks.", 1)
            if key.startswith("transformer_blocks.")
            else key
        )
        key = key.replace(".attn1.norm_q.", ".attn1.q_norm.").replace(".attn1.norm_k.", ".attn1.k_norm.")
        renamed[key] = value
    return sanitize_official_connector(renamed)
