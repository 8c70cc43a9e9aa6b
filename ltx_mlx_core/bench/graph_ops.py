"""Operations in a lazy MLX graph, by primitive: on the CUDA backend each non-view one is a kernel launch.

`count_operations` walks the unevaluated graph behind some arrays (MLX's `export_to_dot`; evaluated
arrays are its leaves). `graphs_as_on_gpu` makes model code build, on any device, the graph the GPU
backend runs: fused elementwise functions in their compiled form and the VAE's pixel-norm kernel as
one node. That graph is for counting only (the stand-in node computes something else).
"""

from __future__ import annotations

import collections
import contextlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import mlx.core as mx

from ltx_mlx_core.models.common import fusion
from ltx_mlx_core.models.ltxv.vae import fused_norm

# export_to_dot writes a primitive as `{ 1234 [label ="Add", shape=rectangle]; }` and edges as
# `"A" -> 1234` (array into primitive) and `1234 -> "B"` (primitive to array).
_PRIMITIVE = re.compile(r'\{ (\d+) \[label ="([^"]+)", shape=rectangle\]; \}')
_EDGE = re.compile(r'^("?\w+"?) -> ("?\w+"?)$', re.MULTILINE)
# Views: no kernel on any backend. A reshape of a transposed view copies; it is counted as "Reshape (copy)".
VIEWS = frozenset({"Broadcast", "Slice", "Squeeze", "ExpandDims", "Transpose", "Reshape"})
NORM_KERNEL = "pixel norm kernel"
_NORM_STAND_IN = "ErfInv"


def count_operations(*outputs: mx.array) -> collections.Counter:
    """Unevaluated operations behind `outputs`, by primitive name."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graph.dot"
        mx.export_to_dot(str(path), *outputs)
        text = path.read_text()
    names = dict(_PRIMITIVE.findall(text))
    producer = {}  # array -> the primitive that makes it
    inputs = collections.defaultdict(list)  # primitive -> its arrays
    for source, target in _EDGE.findall(text):
        if source in names:
            producer[target] = source
        elif target in names:
            inputs[target].append(source)
    counter: collections.Counter = collections.Counter()
    for node, name in names.items():
        if name == "Reshape" and any(names.get(producer.get(array, "")) == "Transpose" for array in inputs[node]):
            name = "Reshape (copy)"
        counter[NORM_KERNEL if name == _NORM_STAND_IN else name] += 1
    return counter


def kernels(counter: collections.Counter) -> int:
    """Operations that launch a kernel (views launch none). Copies a primitive makes of non-contiguous
    inputs inside itself (a convolution's sliced weights) are not in the graph and not counted."""
    return sum(count for name, count in counter.items() if name not in VIEWS)


class _NormKernelStandIn:
    """One node (an erfinv) where the GPU runs fused_norm's kernel."""

    def usable(self, dtype: mx.Dtype) -> bool:
        return True

    def run(self, x: mx.array, *_: object) -> mx.array:
        return mx.erfinv(x)


@contextlib.contextmanager
def graphs_as_on_gpu() -> Iterator[None]:
    """Within: model code builds the GPU backend's graph (for counting, never for evaluating)."""
    saved = fusion.fusing_here, fused_norm._FUSED
    fusion.fusing_here = lambda: True
    fused_norm._FUSED = _NormKernelStandIn()  # type: ignore[assignment]
    try:
        yield
    finally:
        fusion.fusing_here, fused_norm._FUSED = saved
