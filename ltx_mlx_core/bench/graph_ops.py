"""Operations in a lazy MLX graph, by primitive: on the CUDA backend each non-view one is a kernel launch.

With few operations per command buffer (gpu_commands.py) every kernel is a launch, so for graphs of
many small operations (the vocoders) the count predicts the time. The graph is read through
``mx.export_to_dot`` without evaluating it (evaluated arrays are its leaves).

Two views of the same count: `count_operations` (by primitive, a reshape of a transposed view
counted as a copy; `graphs_as_on_gpu` makes model code build the GPU backend's graph, the VAE's
pixel-norm kernel as one node) and `count_graph_ops` (`GraphOps`: kernels, views and reshapes
apart; wrap the graph's building in ``fusion.fused_on_every_device()`` for the fused forms).
"""

from __future__ import annotations

import collections
import contextlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.models.common import fusion
from ltx_mlx_core.models.ltxv.vae import fused_norm


def _dot(*outputs: mx.array) -> str:
    text = io.StringIO()
    mx.export_to_dot(text, *outputs)
    return text.getvalue()


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
    text = _dot(*outputs)
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


# Primitives whose GPU evaluation shares the input's buffer.
VIEW_PRIMITIVES = frozenset({"Slice", "Squeeze", "ExpandDims", "Broadcast", "Transpose", "AsStrided", "StopGradient"})
RESHAPE_PRIMITIVES = frozenset({"Reshape", "Flatten", "Unflatten"})
_NODE = re.compile(r'\[label ="([^"]+)", shape=rectangle\]')


@dataclass(frozen=True)
class GraphOps:
    """Primitives of a graph by name; `kernels` excludes views and reshapes."""

    by_primitive: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.by_primitive.values())

    @property
    def views(self) -> int:
        return sum(n for name, n in self.by_primitive.items() if name in VIEW_PRIMITIVES)

    @property
    def reshapes(self) -> int:
        return sum(n for name, n in self.by_primitive.items() if name in RESHAPE_PRIMITIVES)

    @property
    def kernels(self) -> int:
        return self.total - self.views - self.reshapes

    @property
    def fused(self) -> int:
        """Kernels that mx.compile fused out of elementwise chains."""
        return sum(n for name, n in self.by_primitive.items() if name.startswith("Compiled"))

    def to_dict(self) -> dict[str, object]:
        return {
            "ops": self.total,
            "kernels": self.kernels,
            "views": self.views,
            "reshapes": self.reshapes,
            "fused": self.fused,
            "by_primitive": dict(self.by_primitive.most_common()),
        }


def count_graph_ops(*outputs: mx.array) -> GraphOps:
    """The primitives between `outputs` and already evaluated arrays (each counted once)."""
    names: Counter[str] = Counter()
    for match in _NODE.finditer(_dot(*outputs)):
        name = match.group(1)
        names["Compiled" if name.startswith("Compiled") else name] += 1
    return GraphOps(names)
