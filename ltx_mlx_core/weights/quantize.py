"""8/4-bit quantisation of linear layers (mlx.nn.quantize), with an MLX-native cache.

Quantising a 13B transformer on every load takes a while, so the quantised
parameters are saved once under cache_dir()/quantized, keyed by the source
files' identity (path, size, mtime), the component, bits and dtype. The next load
builds the empty model, gives it the same quantised structure and reads the
cached tensors lazily: no full-precision weights are touched at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.paths import cache_dir

logger = logging.getLogger(__name__)

GROUP_SIZE = 64
SUPPORTED_BITS = (4, 8)
CACHE_FORMAT = 1  # bump when the cached layout changes, so stale caches are not read

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def is_quantizable(module: nn.Module) -> bool:
    """Linear layers whose input width splits into whole groups (all of the 2B/13B ones)."""
    return isinstance(module, nn.Linear) and module.weight.shape[-1] % GROUP_SIZE == 0


def quantize_linear_layers(model: nn.Module, bits: int) -> None:
    """Replace every quantisable nn.Linear by an affine-quantised one (structure only until evaluated)."""
    if bits not in SUPPORTED_BITS:
        raise InvalidRequest(f"Quantisation must be 4 or 8 bits; got {bits}.")
    nn.quantize(model, group_size=GROUP_SIZE, bits=bits, class_predicate=lambda _, module: is_quantizable(module))


def _evaluate_layer_by_layer(model: nn.Module) -> None:
    """Materialise the quantised weights one layer at a time, so full-precision weights never pile up."""
    for _, module in model.named_modules():
        own = {k: v for k, v in module.items() if isinstance(v, mx.array)}
        if own:
            mx.eval(own)


def _source_identity(source: Path) -> list:
    files = sorted(source.rglob("*.safetensors")) if source.is_dir() else [source]
    return [[str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns] for path in files]


def cache_path(source: Path, component: str, bits: int, dtype: mx.Dtype) -> Path:
    source = Path(source)
    identity = json.dumps([CACHE_FORMAT, _source_identity(source), component, bits, GROUP_SIZE, str(dtype)])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return cache_dir() / "quantized" / f"{source.stem}-{component}-q{bits}-{digest}.safetensors"


def _save(model: nn.Module, path: Path, bits: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.{os.getpid()}.partial.safetensors")
    metadata = {"format": str(CACHE_FORMAT), "bits": str(bits), "group_size": str(GROUP_SIZE)}
    try:
        mx.save_safetensors(str(staging), dict(tree_flatten(model.parameters())), metadata=metadata)
        os.replace(staging, path)  # atomic: a reader sees the whole cache file or none
    finally:
        if staging.exists():
            staging.unlink()


def load_or_quantize(
    build_empty: Callable[[], ModuleT],
    build_full: Callable[[], ModuleT],
    source: Path,
    component: str,
    bits: int,
    dtype: mx.Dtype,
    use_cache: bool = True,
    quantize: Callable[[nn.Module, int], None] = quantize_linear_layers,
) -> ModuleT:
    """The quantised model: from the cache when it is there, else quantised now (and cached).

    `quantize(model, bits)` gives a model its quantised structure (linear layers by default; the
    Gemma text encoders quantise their token embedding too); it must act the same on both builds.
    """
    if bits not in SUPPORTED_BITS:
        raise InvalidRequest(f"Quantisation must be 4 or 8 bits; got {bits}.")
    path = cache_path(source, component, bits, dtype)
    if use_cache and path.is_file():
        model = build_empty()
        quantize(model, bits)
        try:
            model.load_weights(list(mx.load(str(path)).items()), strict=True)
            logger.info("%s: %d-bit weights from the cache %s", component, bits, path.name)
            return model
        except (RuntimeError, ValueError) as error:
            logger.warning("ignoring the unreadable quantised cache %s (%s); quantising again", path, error)
            path.unlink(missing_ok=True)
    model = build_full()
    quantize(model, bits)
    _evaluate_layer_by_layer(model)
    if use_cache:
        try:
            _save(model, path, bits)
            logger.info("%s: quantised to %d bits and cached at %s", component, bits, path)
        except (OSError, RuntimeError) as error:
            # A cache that cannot be written (read-only or full disk) costs quantising again, not the run.
            logger.warning("could not cache the %d-bit %s in %s (%s)", bits, component, path.parent, error)
    return model
