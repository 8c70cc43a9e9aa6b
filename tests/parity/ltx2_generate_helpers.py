"""The tiny parity models behind our real `Pipeline.generate`: a `ModelComponents` over a parity `Stack`.

The stack's transformer, video VAE and upsampler (ours, with the reference's weights) and a tiny
audio VAE and LTX-2.3 vocoder (with extension) written through the official checkpoint layout are
handed out as an installed model's would be. The text path is not part of these proofs: the
prompt's embeddings are put in the process's prompt cache, so Gemma is never asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
from mlx.utils import tree_flatten

from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.ltx2.prompt_cache import PROMPT_CACHE
from ltx_mlx_core.pipeline.ltx2.prompts import cache_key
from ltx_mlx_core.weights.registry import LTX2
from ltx_mlx_core.weights.shapes_ltx2 import LTX2ComponentShapes
from tests.parity.ltx2_audio_helpers import (
    mlx_audio_vae_via_checkpoint,
    mlx_vocoder_via_checkpoint,
    official_audio_vae_config,
    official_vocoder_config,
    reference_audio_vae,
    reference_vocoder,
)
from tests.parity.ltx2_pipeline_reference import Stack

# The pipelines' audio latents: 8 channels x 16 bins (64 mel bins / 4), the statistics' size 128.
PIPELINE_AUDIO_VAE = official_audio_vae_config(ch=128, z_channels=8, mel_bins=64, ch_mult=[1, 1, 1], num_res_blocks=1)


@dataclass
class AudioModels:
    reference_encoder: Any
    reference_decoder: Any
    reference_vocoder: Any
    audio_vae: Any
    vocoder: Any


def build_audio(folder: Path) -> AudioModels:
    encoder, decoder = reference_audio_vae(PIPELINE_AUDIO_VAE, seed=4)
    vocoder_config = official_vocoder_config(bwe=True)
    vocoder = reference_vocoder(vocoder_config, seed=5)
    ours_vae = mlx_audio_vae_via_checkpoint(encoder, decoder, PIPELINE_AUDIO_VAE, folder / "audio_vae.safetensors")
    ours_vocoder = mlx_vocoder_via_checkpoint(vocoder, vocoder_config, folder / "vocoder.safetensors")
    return AudioModels(encoder, decoder, vocoder, ours_vae, ours_vocoder)


def _shapes(module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in tree_flatten(module.parameters())}


class StackComponents:
    """An LTX-2.3 distilled (or dev) model made of the parity stack's modules."""

    family = LTX2
    version = "2.3"
    config = None
    has_upsampler = True
    has_temporal_upsampler = False

    def __init__(
        self, stack: Stack, audio: AudioModels, variant: str = "distilled", distilled_lora: Path | None = None
    ):
        self.stack, self.audio = stack, audio
        self.variant = variant
        self.model_id = f"ltx2-parity-{variant}"
        self.distilled_lora = distilled_lora
        self.transformer_loads = 0

    def cache_identity(self) -> tuple[Any, ...]:
        return ("parity", id(self.stack), self.variant)

    def shapes(self) -> LTX2ComponentShapes:
        transformer = self.stack.transformers[0]
        return LTX2ComponentShapes(
            gemma={},
            text_path={},
            transformer=_shapes(transformer),
            video_vae=_shapes(self.stack.vae),
            audio_vae=_shapes(self.audio.audio_vae),
            vocoder=_shapes(self.audio.vocoder),
            upsampler=_shapes(self.stack.our_upsampler),
            transformer_config=transformer.config,
        )

    def load_transformer(self, dtype, quantize_bits, residency):
        self.transformer_loads += 1
        return self.stack.transformers[0]

    def load_vae(self, dtype):
        return self.stack.vae

    def load_upsampler(self, dtype):
        return self.stack.our_upsampler

    def load_audio_vae(self, dtype, encoder: bool = True, decoder: bool = True):
        return self.audio.audio_vae

    def load_vocoder(self, dtype):
        return self.audio.vocoder

    def load_text_encoder(self, dtype, quantize_bits):
        raise AssertionError("the prompts come from the prompt cache in these proofs")

    def load_embeddings_processor(self, dtype):
        raise AssertionError("the prompts come from the prompt cache in these proofs")

    def load_temporal_upsampler(self, dtype):
        raise AssertionError("no temporal upsampler in these proofs")


def cache_prompt(components: StackComponents, text: str, embeddings: PromptEmbeddings) -> None:
    """Put `embeddings` in the process's prompt cache as the encoding of `text` (float32, unquantised)."""
    PROMPT_CACHE.put(cache_key(components, text, mx.float32, None), embeddings)
