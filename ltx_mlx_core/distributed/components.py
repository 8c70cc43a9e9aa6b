"""The pipeline's model components with the transformer split over the group (plan.py says how).

Everything but the transformer comes from the wrapped components unchanged, so every rank encodes
the prompt, prepares conditioning and decodes exactly as one process would. Tensor parallel reads
the checkpoint lazily and evaluates one tensor at a time after cutting it, so a rank never holds
more than its shard plus the one tensor being cut.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.distributed.plan import ParallelMode, ParallelPlan
from ltx_mlx_core.distributed.sequence_parallel import SequenceParallelLTX2, SequenceParallelLTXV
from ltx_mlx_core.distributed.tensor_parallel import (
    materialise_one_by_one,
    shard_shapes,
    shard_transformer,
    transformer_bytes,
)
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_keys import load_transformer_weights
from ltx_mlx_core.weights import layout_diffusers, layout_ltx2, layout_ltx2_diffusers, layout_official, loader_ltx2
from ltx_mlx_core.weights.components import ComponentShapes, FileComponents, ModelComponents
from ltx_mlx_core.weights.loader import layout_of
from ltx_mlx_core.weights.quantize import quantize_linear_layers
from ltx_mlx_core.weights.registry import LTX2, ModelFiles
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.shapes_ltx2 import LTX2ComponentShapes

log = logging.getLogger(__name__)


def lazy_transformer(files: ModelFiles, family: str, dtype: mx.Dtype) -> nn.Module:
    """The whole transformer with the checkpoint's tensors as lazy parameters: nothing read yet."""
    source = Path(files.checkpoint)
    cast = lambda a: a.astype(dtype) if mx.issubdtype(a.dtype, mx.floating) else a  # noqa: E731
    if family == LTX2:
        layout = layout_ltx2_diffusers if loader_ltx2.is_diffusers(files) else layout_ltx2
        config, weights = layout.read_transformer(source)
        model = LTX2Transformer(config)
        loader_ltx2.check_and_load(model, weights, dtype, "transformer", source, loader_ltx2.transformer_name)
        return model
    layout = layout_diffusers if layout_of(files) == "diffusers" else layout_official
    config, weights = layout.read_transformer(source)
    model = LTXVideoTransformer(config)
    load_transformer_weights(model, weights, cast=cast)
    return model


def load_tensor_parallel(
    files: ModelFiles, family: str, dtype: mx.Dtype, quantize_bits: int | None, group: mx.distributed.Group
) -> nn.Module:
    """This rank's shard of the transformer, read tensor by tensor from the checkpoint."""
    model = lazy_transformer(files, family, dtype)
    if quantize_bits:
        quantize_linear_layers(model, quantize_bits)  # lazy too: each tensor is quantised, then cut
    shard_transformer(model, group)
    materialise_one_by_one(model)
    log.info("rank %d holds %.1f MiB of the transformer", group.rank(), transformer_bytes(model) / 2**20)
    return model


class DistributedComponents:
    """`ModelComponents` whose transformer is split over `group` as `plan` says."""

    def __init__(self, inner: ModelComponents, group: mx.distributed.Group, plan: ParallelPlan):
        self.inner = inner
        self.group = group
        self.plan = plan
        self.model_id = inner.model_id
        self.config = inner.config
        self.family = inner.family
        self.version = inner.version
        self.variant = inner.variant
        self.transformer_bytes = 0  # what this rank holds of the last transformer it loaded

    def __getattr__(self, name: str) -> Any:
        """Everything but the transformer (VAE, text encoder, upsampler, ...) as the wrapped components give it."""
        return getattr(self.__dict__["inner"], name)

    def shapes(self) -> ComponentShapes | LTX2ComponentShapes:
        """The wrapped components' shapes with the transformer's as this rank holds it: about 1/N of the
        split layers under tensor parallel (so a model that fits only when split is planned as such),
        the whole transformer under sequence parallel."""
        shapes = self.inner.shapes()
        if self.plan.mode is not ParallelMode.TENSOR:
            return shapes
        return dataclasses.replace(shapes, transformer=shard_shapes(shapes.transformer, self.group.size()))

    def load_transformer(self, dtype: mx.Dtype, quantize_bits: int | None, residency: ResidencyMode) -> nn.Module:
        model = self._load_transformer(dtype, quantize_bits, residency)
        self.transformer_bytes = transformer_bytes(model)
        return model

    def _load_transformer(self, dtype: mx.Dtype, quantize_bits: int | None, residency: ResidencyMode) -> nn.Module:
        if self.plan.mode is ParallelMode.SEQUENCE:
            model = self.inner.load_transformer(dtype, quantize_bits, residency)
            wrapper = SequenceParallelLTX2 if isinstance(model, LTX2Transformer) else SequenceParallelLTXV
            return wrapper(model, self.group)
        if residency is ResidencyMode.STREAM_BLOCKS:
            log.warning("tensor parallel keeps this rank's shard resident; block streaming is not used")
        if isinstance(self.inner, FileComponents):
            return load_tensor_parallel(self.inner.files, self.family, dtype, quantize_bits, self.group)
        # Components without files (random weights for benchmarks): load whole, then cut.
        model = self.inner.load_transformer(dtype, quantize_bits, ResidencyMode.RESIDENT)
        shard_transformer(model, self.group)
        materialise_one_by_one(model)
        return model
