"""Random weights of an LTX-2 release's exact shapes, loadable through the pipeline like installed files.

The LTX-2 counterpart of random_model.RandomComponents: Gemma (12B for 2.3) with its text
connectors, the audio-video transformer, the video VAE, the audio VAE, the vocoder (with
bandwidth extension from 2.3 on) and the spatial x2 upsampler, each built in the dtype the
pipeline asks for one array at a time (bench.workloads.randomize_parameters), so loading costs
what the real weights would cost in memory. The tokenizer is the tiny word-level Gemma one:
prompts are padded to the reference's 1024 tokens anyway, so Gemma does the same work as with
the real tokenizer. The VAEs' latent statistics are mean 0, std 1 (random latents keep their scale).
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.bench.random_model import quantize_like_loaders, refuse_block_streaming, shapes_of
from ltx_mlx_core.bench.workloads import randomize_parameters
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig
from ltx_mlx_core.text.gemma import GemmaTextModel
from ltx_mlx_core.text.gemma_config import GemmaSpec, gemma_spec
from ltx_mlx_core.text.gemma_tokenizer import GemmaTokenizer
from ltx_mlx_core.weights.ltx2_full_size import FullSize, full_size
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.shapes_ltx2 import LTX2ComponentShapes
from ltx_mlx_core.weights.tiny_tokenizer import write_tiny_gemma_tokenizer

# Distilled releases: the two-stage distilled recipe needs no LoRA file.
LTX2_RANDOM_MODELS: dict[str, str] = {
    "ltx-2-19b-distilled": "2",
    "ltx-2.3-22b-distilled": "2.3",
    "ltx-2.5-22b-distilled": "2.5",
}


class RandomLTX2Components:
    """An LTX-2 model of `sizes`' shapes with random weights (its picture and sound are noise)."""

    def __init__(self, model_id: str, sizes: FullSize, version: str, seed: int = 0):
        self.model_id = model_id
        self.sizes = sizes
        self.config: str | None = None  # LTX-2 recipes are code, not YAML
        self.family, self.version, self.variant = "ltx2", version, "distilled"
        self.seed = seed
        self._tokenizer_dir: tempfile.TemporaryDirectory | None = None
        self._shapes: LTX2ComponentShapes | None = None

    @classmethod
    def for_model(cls, model_id: str, seed: int = 0) -> RandomLTX2Components:
        if model_id not in LTX2_RANDOM_MODELS:
            raise InvalidRequest(
                f"No known shapes for '{model_id}'; random LTX-2 weights exist for "
                f"{', '.join(sorted(LTX2_RANDOM_MODELS))}."
            )
        version = LTX2_RANDOM_MODELS[model_id]
        return cls(model_id, full_size(version), version, seed)

    @property
    def has_upsampler(self) -> bool:
        return True

    @property
    def has_temporal_upsampler(self) -> bool:
        return False

    @property
    def distilled_lora(self) -> Path | None:
        return None

    def cache_identity(self) -> tuple[Any, ...]:
        # The shapes' digest too: caches on disk (the preview projection) outlive a run of other shapes.
        shapes = hashlib.sha256(repr(self.sizes).encode()).hexdigest()[:16]
        return ("random-weights", self.model_id, self.seed, shapes)

    @property
    def _gemma_spec(self) -> GemmaSpec:
        return gemma_spec(self.sizes.gemma)

    def _processor(self) -> EmbeddingsProcessor:
        spec = self._gemma_spec
        return EmbeddingsProcessor.from_transformer_config(
            self.sizes.text_path, spec.hidden_size, spec.num_hidden_states
        )

    def _vocoder(self) -> Vocoder | VocoderWithBWE:
        config = self.sizes.vocoder
        return VocoderWithBWE(config) if isinstance(config, BWEConfig) else Vocoder(config)

    def shapes(self) -> LTX2ComponentShapes:
        # Built once: the shapes come from whole modules (0.4 s for the 22B model's), where files
        # give theirs from headers, and every request's memory plan asks for them.
        if self._shapes is None:
            self._shapes = self._module_shapes()
        return self._shapes

    def _module_shapes(self) -> LTX2ComponentShapes:
        return LTX2ComponentShapes(
            gemma=shapes_of(GemmaTextModel(self._gemma_spec)),
            text_path=shapes_of(self._processor()),
            transformer=shapes_of(LTX2Transformer(self.sizes.transformer)),
            video_vae=shapes_of(VideoAutoencoder(VideoVAEConfig.from_dict(self.sizes.video_vae))),
            audio_vae=shapes_of(AudioVAE(self.sizes.audio_vae, encoder=False)),
            vocoder=shapes_of(self._vocoder()),
            upsampler=shapes_of(LatentUpsampler(self.sizes.upsampler)),
            transformer_config=self.sizes.transformer,
        )

    def load_transformer(self, dtype: mx.Dtype, quantize_bits: int | None, residency: ResidencyMode) -> LTX2Transformer:
        refuse_block_streaming(residency)
        model = LTX2Transformer(self.sizes.transformer)
        randomize_parameters(model, dtype, seed=self.seed)
        quantize_like_loaders(model, quantize_bits)
        return model

    def load_vae(self, dtype: mx.Dtype) -> VideoAutoencoder:
        vae = VideoAutoencoder(VideoVAEConfig.from_dict(self.sizes.video_vae))
        randomize_parameters(vae, dtype, seed=self.seed + 1)
        channels = vae.config.latent_channels
        vae.std_of_means = mx.ones((channels,), dtype=dtype)
        vae.mean_of_means = mx.zeros((channels,), dtype=dtype)
        mx.eval(vae.parameters())
        return vae

    def load_upsampler(self, dtype: mx.Dtype) -> LatentUpsampler:
        upsampler = LatentUpsampler(self.sizes.upsampler)
        randomize_parameters(upsampler, dtype, seed=self.seed + 2)
        return upsampler

    def load_temporal_upsampler(self, dtype: mx.Dtype) -> LatentUpsampler:
        raise InvalidRequest("Random LTX-2 weights have no temporal upsampler.")

    def load_text_encoder(self, dtype: mx.Dtype, quantize_bits: int | None) -> tuple[GemmaTokenizer, GemmaTextModel]:
        if self._tokenizer_dir is None:
            self._tokenizer_dir = tempfile.TemporaryDirectory(prefix="ltx-mlx-bench-gemma-tokenizer-")
            write_tiny_gemma_tokenizer(Path(self._tokenizer_dir.name))
        gemma = GemmaTextModel(self._gemma_spec)
        randomize_parameters(gemma, dtype, seed=self.seed + 3)
        quantize_like_loaders(gemma, quantize_bits)
        return GemmaTokenizer.from_folder(self._tokenizer_dir.name), gemma

    def load_embeddings_processor(self, dtype: mx.Dtype) -> EmbeddingsProcessor:
        processor = self._processor()
        randomize_parameters(processor, dtype, seed=self.seed + 4)
        return processor

    def load_audio_vae(self, dtype: mx.Dtype, encoder: bool = True, decoder: bool = True) -> AudioVAE:
        vae = AudioVAE(self.sizes.audio_vae, encoder=encoder, decoder=decoder)
        randomize_parameters(vae, dtype, seed=self.seed + 5)
        features = vae.config.latent_features
        vae.per_channel_statistics.std_of_means = mx.ones((features,), dtype=dtype)
        vae.per_channel_statistics.mean_of_means = mx.zeros((features,), dtype=dtype)
        mx.eval(vae.parameters())
        return vae

    def load_vocoder(self, dtype: mx.Dtype) -> Vocoder | VocoderWithBWE:
        vocoder = self._vocoder()
        randomize_parameters(vocoder, dtype, seed=self.seed + 6)
        return vocoder


def with_layers(components: RandomLTX2Components, layers: int) -> RandomLTX2Components:
    """The same model with `layers` transformer blocks (a shorter run of the same shapes)."""
    transformer = dataclasses.replace(components.sizes.transformer, num_layers=layers)
    sizes = dataclasses.replace(components.sizes, transformer=transformer)
    return RandomLTX2Components(components.model_id, sizes, components.version, components.seed)
