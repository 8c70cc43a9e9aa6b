"""Where the pipeline gets a model's parts: one interface over files on disk and random stand-ins.

`Pipeline` and `StageRunner` load every component through a `ModelComponents`. Installed models
are `FileComponents` (the loaders in loader.py reading what `resolve_model` found); `ltx-mlx bench`
and the side-by-side benchmark use `bench.random_model.RandomComponents`, random weights of a
checkpoint's exact shapes, so a model that is not installed can still be timed end to end.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import mlx.core as mx

from ltx_mlx_core.models.ltxv.t5 import T5Encoder
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.models.ltxv.upsampler import LatentUpsampler
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder
from ltx_mlx_core.weights import layout_diffusers, layout_official, loader
from ltx_mlx_core.weights.layout_hf_t5 import t5_weight_files
from ltx_mlx_core.weights.registry import ModelFiles
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.safetensors_io import read_header

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

    @property
    def has_upsampler(self) -> bool: ...

    def cache_identity(self) -> tuple[Any, ...]:
        """What identifies these weights in caches (the latent-preview projection)."""
        ...

    def shapes(self) -> ComponentShapes: ...

    def load_transformer(
        self, dtype: mx.Dtype, quantize_bits: int | None, residency: ResidencyMode
    ) -> LTXVideoTransformer: ...

    def load_vae(self, dtype: mx.Dtype) -> CausalVideoAutoencoder: ...

    def load_upsampler(self, dtype: mx.Dtype) -> LatentUpsampler: ...

    def load_text_encoder(self, dtype: mx.Dtype, quantize_bits: int | None) -> tuple[Any, T5Encoder]:
        """(tokenizer, T5 encoder)."""
        ...


class FileComponents:
    """An installed model: its files, read by the per-layout loaders."""

    def __init__(self, files: ModelFiles):
        self.files = files
        self.model_id = files.model_id
        self.config = files.config

    @property
    def has_upsampler(self) -> bool:
        return self.files.upsampler is not None

    def cache_identity(self) -> tuple[Any, ...]:
        checkpoint = Path(self.files.checkpoint)
        if not checkpoint.exists():
            return (checkpoint,)
        stat = checkpoint.stat()
        return (checkpoint.resolve(), stat.st_size, stat.st_mtime_ns)

    def shapes(self) -> ComponentShapes:
        """Tensor shapes of every component and the transformer config, from file headers only."""
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
    ) -> LTXVideoTransformer:
        return loader.load_transformer(self.files, dtype, quantize_bits=quantize_bits, residency=residency)

    def load_vae(self, dtype: mx.Dtype) -> CausalVideoAutoencoder:
        return loader.load_vae(self.files, dtype)

    def load_upsampler(self, dtype: mx.Dtype) -> LatentUpsampler:
        return loader.load_upsampler(self.files, dtype)

    def load_text_encoder(self, dtype: mx.Dtype, quantize_bits: int | None) -> tuple[Any, T5Encoder]:
        return loader.load_text_encoder(self.files, dtype, quantize_bits=quantize_bits)


def _header_shapes(paths: Iterable[Path], prefix: str = "") -> Shapes:
    shapes: Shapes = {}
    for path in paths:
        header = read_header(path)
        shapes.update({name[len(prefix):]: header.tensors[name].shape for name in header.keys_with_prefix(prefix)})
    return shapes


def components_of(model: ModelFiles | ModelComponents) -> ModelComponents:
    """The components of resolved model files, or `model` itself when it already is components."""
    return FileComponents(model) if isinstance(model, ModelFiles) else model
