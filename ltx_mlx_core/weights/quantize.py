"""8/4-bit quantisation of linear layers (mlx.nn.quantize), with an MLX-native cache.

Quantising a 13B transformer on every load takes a while, so the quantised
parameters are saved once under cache_dir()/quantized, keyed by the source
files' identity (path, size, mtime), the component, bits and dtype. The next load
builds the empty model, gives it the same quantised structure and reads the
cached tensors lazily: no full-precision weights are touched at all.

The cache is written one tensor at a time as it is quantised (safetensors_io.write_one_at_a_time),
so making it holds about one layer, not the whole quantised model; the model then comes from the
file like any later load. Streamed transformer blocks (residency.py) are read from this file too.
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
from ltx_mlx_core.weights.safetensors_io import write_one_at_a_time

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


def _write_cache(
    build_full: Callable[[], nn.Module], quantize: Callable[[nn.Module, int], None], path: Path, bits: int
) -> None:
    """Quantise the full model into `path`, tensor by tensor (OSError / RuntimeError when it cannot be written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build_full()
    quantize(model, bits)
    tensors = dict(tree_flatten(model.parameters()))
    del model  # each tensor is freed once written: the dict holds the only references
    staging = path.with_name(f".{path.stem}.{os.getpid()}.partial.safetensors")
    metadata = {"format": str(CACHE_FORMAT), "bits": str(bits), "group_size": str(GROUP_SIZE)}
    try:
        write_one_at_a_time(staging, tensors, metadata)
        os.replace(staging, path)  # atomic: a reader sees the whole cache file or none
    finally:
        if staging.exists():
            staging.unlink()


def _from_cache(
    build_empty: Callable[[], ModuleT], quantize: Callable[[nn.Module, int], None], path: Path, bits: int
) -> ModuleT | None:
    """The model with the cached (lazily read) weights; None, and the file removed, when it is unreadable."""
    model = build_empty()
    quantize(model, bits)
    try:
        model.load_weights(list(mx.load(str(path)).items()), strict=True)
        return model
    except (RuntimeError, ValueError) as error:
        logger.warning("ignoring the unreadable quantised cache %s (%s); quantising again", path, error)
        path.unlink(missing_ok=True)
        return None


def load_or_quantize(
    build_empty: Callable[[], ModuleT],
    build_full: Callable[[], ModuleT],
    source: Path,
    component: str,
    bits: int,
    dtype: mx.Dtype,
    use_cache: bool = True,
    quantize: Callable[[nn.Module, int], None] = quantize_linear_layers,
    cache_required: bool = False,
) -> ModuleT:
    """The quantised model: from the cache when it is there, else quantised now (and cached).

    `quantize(model, bits)` gives a model its quantised structure (linear layers by default; the
    Gemma text encoders quantise their token embedding too); it must act the same on both builds.
    A cache that cannot be written costs quantising in memory, unless `cache_required` (streamed
    blocks are read from the file): then InvalidRequest says why, as it does when `use_cache` is off
    (a temporary copy of a 22B model's weights would cost as much disk and a quantisation every load).
    """
    if bits not in SUPPORTED_BITS:
        raise InvalidRequest(f"Quantisation must be 4 or 8 bits; got {bits}.")
    if cache_required and not use_cache:
        raise InvalidRequest(
            f"The {bits}-bit {component}'s transformer blocks stream from the quantised-weights cache, which "
            "this load is told not to use; allow the cache, or choose another residency mode."
        )
    if not use_cache:
        return _quantized_in_memory(build_full, quantize, bits)
    path = cache_path(source, component, bits, dtype)
    if path.is_file() and (model := _from_cache(build_empty, quantize, path, bits)) is not None:
        logger.info("%s: %d-bit weights from the cache %s", component, bits, path.name)
        return model
    try:
        _write_cache(build_full, quantize, path, bits)
        model = _from_cache(build_empty, quantize, path, bits)
        if model is None:
            raise RuntimeError("the file just written cannot be read back")
    except (OSError, RuntimeError) as error:
        if cache_required:
            raise InvalidRequest(
                f"Could not write the {bits}-bit {component} to the cache folder {path.parent} ({error}); "
                "quantised transformer blocks stream from there. Free some disk space, or choose another "
                "residency mode."
            ) from None
        # A cache that cannot be written (read-only or full disk) costs quantising again, not the run.
        logger.warning("could not cache the %d-bit %s in %s (%s)", bits, component, path.parent, error)
        return _quantized_in_memory(build_full, quantize, bits)
    logger.info("%s: quantised to %d bits and cached at %s", component, bits, path)
    return model


def _quantized_in_memory(
    build_full: Callable[[], ModuleT], quantize: Callable[[nn.Module, int], None], bits: int
) -> ModuleT:
    model = build_full()
    quantize(model, bits)
    _evaluate_layer_by_layer(model)
    return model
