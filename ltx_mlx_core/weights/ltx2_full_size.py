"""The released LTX-2 family's component shapes, for sizing a model before its files are here.

Memory plans and catalog sizes need every component's tensor shapes; for an installed model they
come from the file headers, for one not yet downloaded from these configs: the shipped checkpoints'
embedded sections as far as sizing needs them. Modules are built to read their parameter shapes
and never evaluated, so MLX allocates none of their weights.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.config import PRESETS, LTX2Config
from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler, LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import (
    LTX2_VIDEO_VAE_CONFIG,
    LTX23_VIDEO_VAE_CONFIG,
    VideoVAEConfig,
)
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig
from ltx_mlx_core.text.gemma import GemmaTextModel
from ltx_mlx_core.text.gemma_config import gemma_spec
from ltx_mlx_core.weights.layout_gemma import GEMMA3_12B_CONFIG, GEMMA4_12B_LTX25_CONFIG

Shapes = dict[str, tuple[int, ...]]
VERSIONS = ("2", "2.3", "2.5")

# The text-path keys of the shipped transformer configs (connectors and feature extractor).
_TEXT_PATH_2: dict[str, Any] = {
    "connector_num_attention_heads": 30,
    "connector_attention_head_dim": 128,
    "connector_num_layers": 2,
    "connector_positional_embedding_max_pos": [4096],
    "rope_type": "split",
    "frequencies_precision": "float64",
}
_TEXT_PATH_23: dict[str, Any] = {
    **_TEXT_PATH_2,
    "connector_num_attention_heads": 32,
    "connector_num_layers": 8,
    "connector_apply_gated_attention": True,
    "num_attention_heads": 32,
    "attention_head_dim": 128,
    "audio_num_attention_heads": 32,
    "audio_attention_head_dim": 64,
    "audio_connector_num_attention_heads": 32,
    "audio_connector_attention_head_dim": 64,
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}

# The released x2 upsampler files are about 1 GB in bf16: twice the reference default's width.
_UPSAMPLER = LatentUpsamplerConfig(mid_channels=1024)


@dataclass(frozen=True)
class FullSize:
    """One release's configs, as sizing needs them."""

    transformer: LTX2Config
    text_path: dict[str, Any]
    gemma: dict[str, Any]
    video_vae: dict[str, Any]
    audio_vae: AudioVAEConfig
    vocoder: VocoderConfig | BWEConfig
    upsampler: LatentUpsamplerConfig


def full_size(version: str) -> FullSize:
    if version not in VERSIONS:
        raise ValueError(f"Unknown LTX-2 release '{version}'; known: {', '.join(VERSIONS)}.")
    if version == "2":
        return FullSize(
            PRESETS["ltx-2-19b"],
            _TEXT_PATH_2,
            GEMMA3_12B_CONFIG,
            LTX2_VIDEO_VAE_CONFIG,
            AudioVAEConfig(),
            VocoderConfig(),
            _UPSAMPLER,
        )
    gemma = GEMMA3_12B_CONFIG if version == "2.3" else GEMMA4_12B_LTX25_CONFIG
    transformer = PRESETS["ltx-2.3-22b" if version == "2.3" else "ltx-2.5-22b"]
    return FullSize(
        transformer,
        _TEXT_PATH_23,
        gemma,
        LTX23_VIDEO_VAE_CONFIG,
        AudioVAEConfig(),
        BWEConfig.from_diffusers({}),
        _UPSAMPLER,
    )


def _shapes(module: nn.Module) -> Shapes:
    return {name: tuple(value.shape) for name, value in tree_flatten(module.parameters())}


@functools.cache
def component_shapes(version: str) -> dict[str, Shapes]:
    """{component: {tensor: shape}} of a full-size release (gemma, text_path, transformer, ...)."""
    sizes = full_size(version)
    spec = gemma_spec(sizes.gemma)
    vocoder = sizes.vocoder
    return {
        "gemma": _shapes(GemmaTextModel(spec)),
        "text_path": _shapes(
            EmbeddingsProcessor.from_transformer_config(sizes.text_path, spec.hidden_size, spec.num_hidden_states)
        ),
        "transformer": _shapes(LTX2Transformer(sizes.transformer)),
        "video_vae": _shapes(VideoAutoencoder(VideoVAEConfig.from_dict(sizes.video_vae))),
        "audio_vae": _shapes(AudioVAE(sizes.audio_vae)),
        "vocoder": _shapes(VocoderWithBWE(vocoder) if isinstance(vocoder, BWEConfig) else Vocoder(vocoder)),
        "upsampler": _shapes(LatentUpsampler(sizes.upsampler)),
    }


def parameter_count(shapes: Shapes) -> int:
    total = 0
    for shape in shapes.values():
        count = 1
        for dim in shape:
            count *= dim
        total += count
    return total
