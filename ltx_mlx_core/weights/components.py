"""Where the pipeline gets a model's parts: one interface over files on disk and random stand-ins.

`Pipeline` and `StageRunner` load every component through a `ModelComponents`. Installed models
are `FileComponents` (the loaders in loader.py and loader_ltx2.py reading what `resolve_model`
found); `ltx-mlx bench` and the side-by-side benchmark use `bench.random_model.RandomComponents`,
random weights of a checkpoint's exact shapes, so a model that is not installed can still be
timed end to end.

Both families go through the same interface. `family` ("ltxv" or "ltx2") and `version` say which
recipe applies; `load_transformer`, `load_vae`, `load_upsampler` and `load_text_encoder` return
the family's module (for LTX-2: the audio-video transformer, its video VAE, its upsampler and
(Gemma tokenizer, Gemma)), and the LTX-2 family adds the text embeddings processor, the audio
VAE, the vocoder and the temporal upsampler. Asking a 0.9.x model for those is an InvalidRequest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler as LTX2LatentUpsampler
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.models.ltxv.t5 import T5Encoder
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.models.ltxv.upsampler import LatentUpsampler
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder
from ltx_mlx_core.text.gemma import GemmaTextModel
from ltx_mlx_core.weights import layout_diffusers, layout_official, loader, loader_ltx2
from ltx_mlx_core.weights.layout_hf_t5 import t5_weight_files
from ltx_mlx_core.weights.registry import LTX2, LTXV, ModelFiles
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.safetensors_io import read_header
from ltx_mlx_core.weights.shapes_ltx2 import LTX2ComponentShapes, ltx2_shapes

Shapes = dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class ComponentShapes:
    """Tensor shapes per component (what memory planning needs, before anything loads)."""

    transformer: Shapes
    vae: Shapes
    text_encoder: Shapes
    upsampler: Shapes
    transformer_config: TransformerConfig


@runtime_checkable
class ModelComponents(Protocol):
    model_id: str
    # The model's default pipeline YAML (a path or a name in configs/), if it has one.
    config: str | None
    # "ltxv" (LTX-Video 0.9.x) or "ltx2" (the LTX-2 family), the release ("0.9.8", "2", "2.3", "2.5")
    # and the weights ("distilled", "dev"; "" when unknown).
    family: str
    version: str
    variant: str

    @property
    def has_upsampler(self) -> bool: ...

    def cache_identity(self) -> tuple[Any, ...]:
        """What identifies these weights in caches (the latent-preview projection)."""
        ...

    def shapes(self) -> ComponentShapes | LTX2ComponentShapes: ...

    def load_transformer(
        self, dtype: mx.Dtype, quantize_bits: int | None, residency: ResidencyMode
    ) -> LTXVideoTransformer | LTX2Transformer: ...

    def load_vae(self, dtype: mx.Dtype) -> CausalVideoAutoencoder: ...

    def load_upsampler(self, dtype: mx.Dtype) -> LatentUpsampler | LTX2LatentUpsampler: ...

    def load_text_encoder(self, dtype: mx.Dtype, quantize_bits: int | None) -> tuple[Any, T5Encoder | GemmaTextModel]:
        """(tokenizer, T5 encoder) for 0.9.x; (GemmaTokenizer, Gemma text model) for LTX-2."""
        ...


@runtime_checkable
class LTX2Components(ModelComponents, Protocol):
    """What the LTX-2 family loads beyond the shared components."""

    @property
    def has_temporal_upsampler(self) -> bool: ...

    @property
    def distilled_lora(self) -> Path | None:
        """The distilled LoRA a dev model's second stage fuses, when installed."""
        ...

    def load_embeddings_processor(self, dtype: mx.Dtype) -> EmbeddingsProcessor: ...

    def load_audio_vae(self, dtype: mx.Dtype, encoder: bool = True, decoder: bool = True) -> AudioVAE: ...

    def load_vocoder(self, dtype: mx.Dtype) -> Vocoder | VocoderWithBWE: ...

    def load_temporal_upsampler(self, dtype: mx.Dtype) -> LTX2LatentUpsampler: ...


class FileComponents:
    """An installed model of either family: its files, read by the per-family, per-layout loaders."""

    def __init__(self, files: ModelFiles):
        self.files = files
        self.model_id = files.model_id
        self.config = files.config
        self.family = files.family
        self.version = files.version or ("0.9.8" if files.family == LTXV else "")
        self.variant = files.variant

    @property
    def is_ltx2(self) -> bool:
        return self.family == LTX2

    @property
    def has_upsampler(self) -> bool:
        return self.files.upsampler is not None

    @property
    def has_temporal_upsampler(self) -> bool:
        return self.files.temporal_upsampler is not None

    @property
    def distilled_lora(self) -> Path | None:
        return None if self.files.distilled_lora is None else Path(self.files.distilled_lora)

    def _ltx2_only(self, what: str) -> None:
        if not self.is_ltx2:
            raise InvalidRequest(f"Model '{self.model_id}' is an LTX-Video 0.9.x model: it has no {what}.")

    def cache_identity(self) -> tuple[Any, ...]:
        checkpoint = Path(self.files.checkpoint)
        if not checkpoint.exists():
            return (checkpoint,)
        stat = checkpoint.stat()
        return (checkpoint.resolve(), stat.st_size, stat.st_mtime_ns)

    def shapes(self) -> ComponentShapes | LTX2ComponentShapes:
        """Tensor shapes of every component and the transformer config, from file headers only."""
        if self.is_ltx2:
            return ltx2_shapes(self.files)
        checkpoint = Path(self.files.checkpoint)
        if layout_diffusers.is_diffusers_folder(checkpoint):
            transformer = _header_shapes(layout_diffusers.transformer_weight_files(checkpoint))
            vae = _header_shapes(layout_diffusers.sharded_files(checkpoint / "vae", layout_diffusers.WEIGHTS_INDEX))
            config = layout_diffusers.transformer_config(checkpoint)
        else:
            transformer = _header_shapes([checkpoint], layout_official.TRANSFORMER_PREFIX)
            vae = _header_shapes([checkpoint], layout_official.VAE_PREFIX)
            config = layout_official.transformer_config(checkpoint)
        text = _header_shapes(t5_weight_files(Path(self.files.text_encoder_dir)))
        text = {k: v for k, v in text.items() if not k.startswith("decoder.") and k != "encoder.embed_tokens.weight"}
        upsampler = _header_shapes([self.files.upsampler]) if self.files.upsampler else {}
        return ComponentShapes(transformer, vae, text, upsampler, config)

    def load_transformer(
        self, dtype: mx.Dtype, quantize_bits: int | None, residency: ResidencyMode
    ) -> LTXVideoTransformer | LTX2Transformer:
        family_loader = loader_ltx2 if self.is_ltx2 else loader
        return family_loader.load_transformer(self.files, dtype, quantize_bits=quantize_bits, residency=residency)

    def load_vae(self, dtype: mx.Dtype) -> CausalVideoAutoencoder | VideoAutoencoder:
        return loader_ltx2.load_video_vae(self.files, dtype) if self.is_ltx2 else loader.load_vae(self.files, dtype)

    def load_upsampler(self, dtype: mx.Dtype) -> LatentUpsampler | LTX2LatentUpsampler:
        family_loader = loader_ltx2 if self.is_ltx2 else loader
        return family_loader.load_upsampler(self.files, dtype)

    def load_text_encoder(self, dtype: mx.Dtype, quantize_bits: int | None) -> tuple[Any, T5Encoder | GemmaTextModel]:
        family_loader = loader_ltx2 if self.is_ltx2 else loader
        return family_loader.load_text_encoder(self.files, dtype, quantize_bits=quantize_bits)

    def load_embeddings_processor(self, dtype: mx.Dtype) -> EmbeddingsProcessor:
        self._ltx2_only("Gemma text embeddings processor")
        return loader_ltx2.load_embeddings_processor(self.files, dtype)

    def load_audio_vae(self, dtype: mx.Dtype, encoder: bool = True, decoder: bool = True) -> AudioVAE:
        self._ltx2_only("audio VAE (it makes silent video)")
        return loader_ltx2.load_audio_vae(self.files, dtype, encoder=encoder, decoder=decoder)

    def load_vocoder(self, dtype: mx.Dtype) -> Vocoder | VocoderWithBWE:
        self._ltx2_only("vocoder (it makes silent video)")
        return loader_ltx2.load_vocoder(self.files, dtype)

    def load_temporal_upsampler(self, dtype: mx.Dtype) -> LTX2LatentUpsampler:
        self._ltx2_only("temporal upsampler")
        return loader_ltx2.load_upsampler(self.files, dtype, temporal=True)


def _header_shapes(paths: Iterable[Path], prefix: str = "") -> Shapes:
    shapes: Shapes = {}
    for path in paths:
        header = read_header(path)
        shapes.update({name[len(prefix) :]: header.tensors[name].shape for name in header.keys_with_prefix(prefix)})
    return shapes


def components_of(model: ModelFiles | ModelComponents) -> ModelComponents:
    """The components of resolved model files, or `model` itself when it already is components."""
    return FileComponents(model) if isinstance(model, ModelFiles) else model
