"""Where the pipeline gets a model's parts: one interface over files on disk and random stand-ins.

`Pipeline` and `StageRunner` load every component through a `ModelComponents`. Installed models
are `FileComponents` (the loaders in loader.py reading what `resolve_model` found); `ltx-mlx bench`
and the side-by-side benchmark use `bench.random_model.RandomComponents`, random weights of a
checkpoint's exact shapes, so a model that is not installed can still be timed end to end.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol, runtime_checkable

import mlx.core as mx

from ltx_mlx_core.weights.registry import ModelFiles
from ltx_mlx_core.weights.residency import ResidencyMode

Shapes = dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class ComponentShapes:
    """Tensor shapes per component (what memory planning needs, before anything loads)."""

    transformer: Shapes
    vae: Shapes
    text_encoder: Shapes
    upsampler: Shapes
    transformer_config: Any


@runtime_checkable
class ModelComponents(Protocol):
    model_id: str
    # The model's default pipeline YAML (a path or a name in configs/), if it has one.
    config: Optional[str]

    @property
    def has_upsampler(self) -> bool: ...

    def cache_identity(self) -> tuple[Any, ...]:
        """What identifies these weights in caches (the latent-preview projection)."""
        ...

    def shapes(self) -> ComponentShapes: ...

    def load_transformer(self, dtype: mx.Dtype, quantize_bits: Optional[int], residency: ResidencyMode) -> Any: ...

    def load_vae(self, dtype: mx.Dtype) -> Any: ...

    def load_upsampler(self, dtype: mx.Dtype) -> Any: ...

    def load_text_encoder(self, dtype: mx.Dtype, quantize_bits: Optional[int]) -> tuple[Any, Any]:
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
        from ltx_mlx_core.pipeline.memory_estimate import component_shapes

        return ComponentShapes(*component_shapes(self.files))

    def load_transformer(self, dtype: mx.Dtype, quantize_bits: Optional[int], residency: ResidencyMode) -> Any:
        from ltx_mlx_core.weights import loader

        return loader.load_transformer(self.files, dtype, quantize_bits=quantize_bits, residency=residency)

    def load_vae(self, dtype: mx.Dtype) -> Any:
        from ltx_mlx_core.weights import loader

        return loader.load_vae(self.files, dtype)

    def load_upsampler(self, dtype: mx.Dtype) -> Any:
        from ltx_mlx_core.weights import loader

        return loader.load_upsampler(self.files, dtype)

    def load_text_encoder(self, dtype: mx.Dtype, quantize_bits: Optional[int]) -> tuple[Any, Any]:
        from ltx_mlx_core.weights import loader

        return loader.load_text_encoder(self.files, dtype, quantize_bits=quantize_bits)


def components_of(model: ModelFiles | ModelComponents) -> ModelComponents:
    """The components of resolved model files, or `model` itself when it already is components."""
    return FileComponents(model) if isinstance(model, ModelFiles) else model
