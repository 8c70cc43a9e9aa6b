"""Gemma hidden states → the LTX-2 transformer's video and audio prompt embeddings.

The feature extractor (V1 or V2) and the video/audio embeddings connectors, as ltx-core's
`EmbeddingsProcessor.process_hidden_states` and diffusers' `LTX2TextConnectors` run them. The
connectors replace all padding by registers, so every one of the T positions is attended to
afterwards: the returned mask is all ones, as the references return it.

Weights come from an official single-file checkpoint (prefixes below; the projection may also come
from the Gemma file that bundles it, LTX-2.5) or from a diffusers `connectors/` folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.ltx2.connectors import (
    ConnectorConfig,
    EmbeddingsConnector,
    sanitize_diffusers_connector,
    sanitize_official_connector,
)
from ltx_mlx_core.models.ltx2.feature_extractor import (
    FeatureExtractorV1,
    FeatureExtractorV2,
    feature_extractor_from_config,
)

PROJECTION_PREFIX = "text_embedding_projection."
VIDEO_CONNECTOR_PREFIX = "model.diffusion_model.video_embeddings_connector."
AUDIO_CONNECTOR_PREFIX = "model.diffusion_model.audio_embeddings_connector."
# Video-only checkpoints name their single connector without the modality.
VIDEO_ONLY_CONNECTOR_PREFIX = "model.diffusion_model.embeddings_connector."


@dataclass(frozen=True)
class PromptEmbeddings:
    video: mx.array  # [B, T, video width]
    audio: mx.array | None  # [B, T, audio width]; None for video-only models
    attention_mask: mx.array  # [B, T] int32, 1 where the transformer attends


class EmbeddingsProcessor(nn.Module):
    def __init__(
        self,
        feature_extractor: FeatureExtractorV1 | FeatureExtractorV2,
        video_connector: EmbeddingsConnector,
        audio_connector: EmbeddingsConnector | None = None,
    ):
        super().__init__()
        self.feature_extractor = feature_extractor
        self.video_connector = video_connector
        if audio_connector is not None:
            self.audio_connector = audio_connector

    @property
    def has_audio(self) -> bool:
        return "audio_connector" in self

    def __call__(
        self, hidden_states: Sequence[mx.array] | mx.array, attention_mask: mx.array, padding_side: str = "left"
    ) -> PromptEmbeddings:
        """Hidden states (L arrays [B, T, D] or one [B, T, D, L]) and the token mask [B, T] → embeddings."""
        video_features, audio_features = self.feature_extractor(hidden_states, attention_mask, padding_side)
        video = self.video_connector(video_features, attention_mask)
        audio = None
        if self.has_audio:
            if audio_features is None:
                raise ValueError("The audio connector needs audio features; this feature extractor gives none.")
            audio = self.audio_connector(audio_features, attention_mask)
        return PromptEmbeddings(video, audio, mx.ones(attention_mask.shape, dtype=mx.int32))

    @classmethod
    def from_transformer_config(
        cls, config: dict[str, Any], embedding_dim: int, num_hidden_states: int, with_audio: bool = True
    ) -> EmbeddingsProcessor:
        """The processor an official checkpoint's `transformer` config describes, for a Gemma of the given shape."""
        extractor = feature_extractor_from_config(config, embedding_dim, num_hidden_states, with_audio)
        video = EmbeddingsConnector(ConnectorConfig.from_transformer_config(config))
        audio = EmbeddingsConnector(ConnectorConfig.from_transformer_config(config, audio=True)) if with_audio else None
        return cls(extractor, video, audio)

    @classmethod
    def load_official(
        cls,
        weights: dict[str, mx.array],
        transformer_config: dict[str, Any],
        embedding_dim: int,
        num_hidden_states: int,
        dtype: mx.Dtype = mx.bfloat16,
    ) -> EmbeddingsProcessor:
        """Built and loaded from an official checkpoint's tensors (all components' keys may be passed)."""
        processor = cls.from_transformer_config(
            transformer_config, embedding_dim, num_hidden_states, with_audio=has_audio_connector(weights)
        )
        processor.load_weights(list(_cast(sanitize_official(weights), dtype).items()), strict=True)
        return processor

    @classmethod
    def load_diffusers(
        cls, weights: dict[str, mx.array], config: dict[str, Any], dtype: mx.Dtype = mx.bfloat16
    ) -> EmbeddingsProcessor:
        """Built and loaded from a diffusers `connectors/` folder's config and tensors."""
        processor = cls.from_diffusers_config(config)
        processor.load_weights(list(_cast(sanitize_diffusers(weights), dtype).items()), strict=True)
        return processor

    @classmethod
    def from_diffusers_config(cls, config: dict[str, Any]) -> EmbeddingsProcessor:
        """From a diffusers `LTX2TextConnectors` config.json (LTX-2, 2.3 and 2.5 pipelines)."""
        embedding_dim = config.get("caption_channels", 3840)
        in_features = embedding_dim * config.get("text_proj_in_factor", 49)
        bias = config.get("proj_bias", False)
        if config.get("per_modality_projections", False):
            extractor: FeatureExtractorV1 | FeatureExtractorV2 = FeatureExtractorV2(
                embedding_dim,
                in_features,
                config.get("video_hidden_dim", 4096),
                config.get("audio_hidden_dim", 2048),
                bias=bias,
            )
        else:
            extractor = FeatureExtractorV1(in_features, embedding_dim, bias=bias)
        connectors = [
            EmbeddingsConnector(
                ConnectorConfig(
                    num_heads=config.get(f"{kind}_connector_num_attention_heads", 30),
                    head_dim=config.get(f"{kind}_connector_attention_head_dim", 128),
                    num_layers=config.get(f"{kind}_connector_num_layers", 2),
                    num_registers=config.get(f"{kind}_connector_num_learnable_registers", 128),
                    theta=config.get("rope_theta", 10000.0),
                    max_pos=config.get("connector_rope_base_seq_len", 4096),
                    rope_type=config.get("rope_type", "interleaved"),
                    double_precision_rope=config.get("rope_double_precision", True),
                    gated_attention=config.get(f"{kind}_gated_attn", False),
                )
            )
            for kind in ("video", "audio")
        ]
        return cls(extractor, *connectors)


def sanitize_official(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """An official checkpoint's text-path tensors → processor keys; other components' keys are ignored.

    `text_embedding_projection.*` holds the feature extractor (in the LTX-2/2.3 checkpoint, or in
    the Gemma file for LTX-2.5); the connectors sit under the transformer's prefix.
    """
    extractor: dict[str, mx.array] = {}
    connectors: dict[str, dict[str, mx.array]] = {"video_connector": {}, "audio_connector": {}}
    for key, value in weights.items():
        if key.startswith(PROJECTION_PREFIX):
            extractor["feature_extractor." + key[len(PROJECTION_PREFIX) :]] = value
        elif key.startswith(VIDEO_CONNECTOR_PREFIX):
            connectors["video_connector"][key[len(VIDEO_CONNECTOR_PREFIX) :]] = value
        elif key.startswith(VIDEO_ONLY_CONNECTOR_PREFIX):
            connectors["video_connector"][key[len(VIDEO_ONLY_CONNECTOR_PREFIX) :]] = value
        elif key.startswith(AUDIO_CONNECTOR_PREFIX):
            connectors["audio_connector"][key[len(AUDIO_CONNECTOR_PREFIX) :]] = value
    for name, tensors in connectors.items():
        extractor.update({f"{name}.{k}": v for k, v in sanitize_official_connector(tensors).items()})
    return extractor


_DIFFUSERS_PROJECTIONS = {
    "text_proj_in.": "feature_extractor.aggregate_embed.",
    "video_text_proj_in.": "feature_extractor.video_aggregate_embed.",
    "audio_text_proj_in.": "feature_extractor.audio_aggregate_embed.",
}


def sanitize_diffusers(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """A diffusers `LTX2TextConnectors` state dict → processor keys."""
    renamed: dict[str, mx.array] = {}
    connectors: dict[str, dict[str, mx.array]] = {"video_connector": {}, "audio_connector": {}}
    for key, value in weights.items():
        projection = next((p for p in _DIFFUSERS_PROJECTIONS if key.startswith(p)), None)
        name = key.split(".", 1)[0]
        if projection is not None:
            renamed[_DIFFUSERS_PROJECTIONS[projection] + key[len(projection) :]] = value
        elif name in connectors:
            connectors[name][key[len(name) + 1 :]] = value
        else:
            raise ValueError(f"Unknown key in the diffusers text connectors: {key}")
    for name, tensors in connectors.items():
        renamed.update({f"{name}.{k}": v for k, v in sanitize_diffusers_connector(tensors).items()})
    return renamed


def _cast(weights: dict[str, mx.array], dtype: mx.Dtype) -> dict[str, mx.array]:
    return {key: value.astype(dtype) for key, value in weights.items()}


def has_audio_connector(weights: dict[str, mx.array]) -> bool:
    """Whether an official checkpoint carries the audio connector (audio-video models do)."""
    return any(key.startswith(AUDIO_CONNECTOR_PREFIX) for key in weights)
