"""Gemma hidden states → the LTX-2 family's text features (ltx-core's FeatureExtractorV1 / V2).

The hidden states of all layers (embedding output included) are stacked on a last axis,
[B, T, D, L], normalised and flattened to [B, T, D * L] with the layer index fastest, then projected:

- V1 (LTX-2): per prompt and per layer, the valid tokens' mean and range over (T, D);
  x -> 8 (x - mean) / (range + eps); one projection without bias, shared by video and audio.
- V2 (LTX-2.3, 2.5): per token and per layer, RMS over D; x / rms; one projection with bias per
  modality, its input scaled by sqrt(out_features / D).

Padded tokens are zeroed before the projection. The statistics are computed in float32 (the
reference computes them in the states' dtype, bfloat16 in practice), the projection in the
states' dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import mlx.core as mx
import mlx.nn as nn

NORM_EPS = 1e-6
V1_SCALE = 8.0
# ltx-core selects V2 when the transformer config carries these keys with exactly these values.
V2_CONFIG = {
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}
PADDING_SIDES = ("left", "right")


def stack_hidden_states(hidden_states: Sequence[mx.array] | mx.array) -> mx.array:
    """[B, T, D, L] from L states of [B, T, D] (an already stacked array passes through)."""
    if isinstance(hidden_states, mx.array):
        return hidden_states
    return mx.stack(list(hidden_states), axis=-1)


def _token_mask(attention_mask: mx.array, length: int, padding_side: str) -> mx.array:
    """[B, T] valid tokens from the sequence lengths, as the reference derives them."""
    if padding_side not in PADDING_SIDES:
        raise ValueError(f"padding_side must be 'left' or 'right'; got {padding_side!r}.")
    lengths = attention_mask.astype(mx.int32).sum(axis=-1, keepdims=True)
    positions = mx.arange(length)[None, :]
    return positions >= length - lengths if padding_side == "left" else positions < lengths


def masked_range_norm(encoded: mx.array, attention_mask: mx.array, padding_side: str = "left") -> mx.array:
    """V1's normalisation of [B, T, D, L] → [B, T, D * L] in the states' dtype."""
    batch, length, width, layers = encoded.shape
    valid = _token_mask(attention_mask, length, padding_side)[:, :, None, None]
    states = encoded.astype(mx.float32)
    count = attention_mask.astype(mx.float32).sum(axis=-1).reshape(batch, 1, 1, 1) * width
    mean = mx.where(valid, states, 0.0).sum(axis=(1, 2), keepdims=True) / (count + NORM_EPS)
    low = mx.where(valid, states, mx.inf).min(axis=(1, 2), keepdims=True)
    high = mx.where(valid, states, -mx.inf).max(axis=(1, 2), keepdims=True)
    normed = V1_SCALE * (states - mean) / (high - low + NORM_EPS)
    normed = mx.where(valid, normed, 0.0)
    return normed.reshape(batch, length, width * layers).astype(encoded.dtype)


def per_token_rms_norm(encoded: mx.array, attention_mask: mx.array) -> mx.array:
    """V2's normalisation of [B, T, D, L] → [B, T, D * L] in the states' dtype."""
    batch, length, width, layers = encoded.shape
    states = encoded.astype(mx.float32)
    normed = states * mx.rsqrt(mx.mean(states * states, axis=2, keepdims=True) + NORM_EPS)
    normed = normed.reshape(batch, length, width * layers)
    normed = mx.where(attention_mask.astype(mx.bool_)[:, :, None], normed, 0.0)
    return normed.astype(encoded.dtype)


class FeatureExtractorV1(nn.Module):
    """LTX-2: masked mean/range normalisation, one projection for both modalities."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False):
        super().__init__()
        self.aggregate_embed = nn.Linear(in_features, out_features, bias=bias)

    def __call__(
        self, hidden_states: Sequence[mx.array] | mx.array, attention_mask: mx.array, padding_side: str = "left"
    ) -> tuple[mx.array, mx.array]:
        """(video, audio) features [B, T, out]: the same array twice."""
        features = self.aggregate_embed(
            masked_range_norm(stack_hidden_states(hidden_states), attention_mask, padding_side)
        )
        return features, features


class FeatureExtractorV2(nn.Module):
    """LTX-2.3/2.5: per-token RMS normalisation, rescaled, one projection per modality."""

    def __init__(
        self,
        embedding_dim: int,
        in_features: int,
        video_features: int,
        audio_features: int | None = None,
        bias: bool = True,
    ):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.video_aggregate_embed = nn.Linear(in_features, video_features, bias=bias)
        if audio_features is not None:
            self.audio_aggregate_embed = nn.Linear(in_features, audio_features, bias=bias)

    def __call__(
        self, hidden_states: Sequence[mx.array] | mx.array, attention_mask: mx.array, padding_side: str = "left"
    ) -> tuple[mx.array, mx.array | None]:
        """(video [B, T, video_features], audio [B, T, audio_features] or None); padding_side is unused."""
        normed = per_token_rms_norm(stack_hidden_states(hidden_states), attention_mask)
        video = self.video_aggregate_embed(normed * self._rescale(self.video_aggregate_embed))
        if "audio_aggregate_embed" not in self:
            return video, None
        return video, self.audio_aggregate_embed(normed * self._rescale(self.audio_aggregate_embed))

    def _rescale(self, projection: nn.Module) -> float:
        out_features = projection.weight.shape[0]
        return math.sqrt(out_features / self.embedding_dim)


def is_v2_config(transformer_config: dict[str, Any]) -> bool:
    """ltx-core's rule: V1 without the V2 keys, V2 with all of them at the expected values, else an error."""
    present = transformer_config.keys() & V2_CONFIG.keys()
    if not present:
        return False
    missing = V2_CONFIG.keys() - present
    if missing:
        raise ValueError(f"The transformer config has only part of the V2 text keys; missing {sorted(missing)}.")
    unexpected = {k: transformer_config[k] for k in present if transformer_config[k] != V2_CONFIG[k]}
    if unexpected:
        raise ValueError(f"Unknown text feature extractor settings: {unexpected} (expected {V2_CONFIG}).")
    return True


def feature_extractor_from_config(
    transformer_config: dict[str, Any], embedding_dim: int, num_hidden_states: int, with_audio: bool = True
) -> FeatureExtractorV1 | FeatureExtractorV2:
    """The extractor an official checkpoint's transformer config describes, for a Gemma of the given shape."""
    in_features = embedding_dim * num_hidden_states
    if not is_v2_config(transformer_config):
        return FeatureExtractorV1(in_features, embedding_dim)
    video = transformer_config["num_attention_heads"] * transformer_config["attention_head_dim"]
    audio = None
    if with_audio:
        audio = transformer_config["audio_num_attention_heads"] * transformer_config["audio_attention_head_dim"]
    return FeatureExtractorV2(embedding_dim, in_features, video, audio)
