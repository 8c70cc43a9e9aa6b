"""Operations in a lazy MLX graph, by primitive, and which of them launch a kernel on a GPU.

With few operations per command buffer (gpu_commands.py) every kernel is a launch, so for graphs of
many small operations (the vocoders) the kernel count predicts the time. The graph is read through
``mx.export_to_dot`` without evaluating it: evaluated arrays are its leaves, and each unevaluated
operation behind the outputs is counted once.

`count_graph_ops` gives a `GraphOps`: the operations by primitive name, split into views (they
share their input's buffer: no kernel on any backend), reshapes that are views, and kernels. Three
names are ours, not MLX's:

- "Reshape (copy)" (or "Flatten (copy)", "Unflatten (copy)"): a reshape of a transposed view
  copies it, so it is a kernel. A reshape of another non-contiguous view (a strided slice, a
  broadcast) copies too but is counted as a view: the dot text has no shapes to tell.
- "Compiled": every kernel mx.compile fused out of an elementwise chain, whatever its chain.
- `NORM_KERNEL`: the VAE's pixel-norm kernel, one stand-in node built inside `graphs_as_on_gpu`.

Copies a primitive makes of non-contiguous inputs inside itself (a convolution's sliced weights)
are not in the graph and not counted. To count the graph a GPU runs, on any device, build it inside
`graphs_as_on_gpu()` (fused forms and the pixel-norm kernel) or ``fusion.fused_on_every_device()``
(fused forms only, for graphs without the VAE's norm).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import mlx.core as mx

from ltx_mlx_core.models.common import fusion
from ltx_mlx_core.models.ltxv.vae import fused_norm

# Primitives whose GPU evaluation shares the input's buffer.
VIEWS = frozenset({"Slice", "Squeeze", "ExpandDims", "Broadcast", "Transpose", "AsStrided", "StopGradient"})
# Views too when their input is contiguous; of a transposed view they copy and are renamed "... (copy)".
RESHAPES = frozenset({"Reshape", "Flatten", "Unflatten"})
COPY = " (copy)"
COMPILED = "Compiled"
NORM_KERNEL = "pixel norm kernel"
_NORM_STAND_IN = "ErfInv"  # nothing the counted decoders build uses erfinv (mx.random.normal does)

# export_to_dot writes each operation as a block: `{ 1234 [label ="Add", shape=rectangle]; }`, then
# edges from the arrays it reads (`"A" -> 1234`), then to the arrays it makes (`1234 -> "B"`). The
# number is the primitive's address, which the calls of one mx.compile'd function share: an
# operation is a block, not a number.
_PRIMITIVE = re.compile(r'\{ (\d+) \[label ="([^"]+)", shape=rectangle\]; \}')
_EDGE = re.compile(r'("?\w+"?) -> ("?\w+"?)')


def launches_kernel(name: str) -> bool:
    """Whether an operation named as in `GraphOps.by_primitive` runs a kernel."""
    return name not in VIEWS and name not in RESHAPES


@dataclass(frozen=True)
class GraphOps:
    """Operations of a graph by name (see the module docstring for the names that are ours)."""

    by_primitive: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: GraphOps) -> GraphOps:
        """The operations of two graphs evaluated one after the other."""
        return GraphOps(self.by_primitive + other.by_primitive)

    @property
    def total(self) -> int:
        return sum(self.by_primitive.values())

    @property
    def views(self) -> int:
        return sum(n for name, n in self.by_primitive.items() if name in VIEWS)

    @property
    def reshapes(self) -> int:
        """Reshapes that are views (those that copy are kernels, in `copies`)."""
        return sum(n for name, n in self.by_primitive.items() if name in RESHAPES)

    @property
    def kernels(self) -> int:
        return self.total - self.views - self.reshapes

    @property
    def copies(self) -> int:
        """Reshapes of transposed views: each copies, one kernel."""
        return sum(n for name, n in self.by_primitive.items() if name.endswith(COPY))

    @property
    def fused(self) -> int:
        """Kernels that mx.compile fused out of elementwise chains."""
        return self.by_primitive[COMPILED]

    def to_dict(self) -> dict[str, object]:
        return {
            "ops": self.total,
            "kernels": self.kernels,
            "views": self.views,
            "reshapes": self.reshapes,
            "copies": self.copies,
            "fused": self.fused,
            "by_primitive": dict(self.by_primitive.most_common()),
        }


def _dot(*outputs: mx.array) -> str:
    text = io.StringIO()
    mx.export_to_dot(text, *outputs)
    return text.getvalue()


def count_graph_ops(*outputs: mx.array) -> GraphOps:
    """The operations between `outputs` and already evaluated arrays, each counted once."""
    names: list[str] = []  # one per operation, in the dot text's order
    reads: list[list[str]] = []  # the arrays each operation reads
    made_by: dict[str, int] = {}  # array -> the operation that makes it
    for line in _dot(*outputs).splitlines():
        if operation := _PRIMITIVE.fullmatch(line):
            names.append(operation[2])
            reads.append([])
        elif edge := _EDGE.fullmatch(line):
            source, target = edge.groups()
            if target.isdigit():
                reads[-1].append(source)
            else:
                made_by[target] = len(names) - 1
    counted: Counter[str] = Counter()
    for name, arrays in zip(names, reads, strict=True):
        if name.startswith(COMPILED):
            name = COMPILED
        elif name == _NORM_STAND_IN:
            name = NORM_KERNEL
        elif name in RESHAPES and any(names[made_by[a]] == "Transpose" for a in arrays if a in made_by):
            name += COPY
        counted[name] += 1
    return GraphOps(counted)


class _NormKernelStandIn:
    """One node (an erfinv) where the GPU runs fused_norm's kernel."""

    def usable(self, dtype: mx.Dtype) -> bool:
        return True

    def run(self, x: mx.array, *_: object) -> mx.array:
        return mx.erfinv(x)


@contextlib.contextmanager
def graphs_as_on_gpu() -> Iterator[None]:
    """Within: model code builds the GPU backend's graph, the fused forms and the VAE's pixel-norm
    kernel as one stand-in node (for counting, never for evaluating)."""
    saved = fused_norm._FUSED
    fused_norm._FUSED = _NormKernelStandIn()  # type: ignore[assignment]
    try:
        with fusion.fused_on_every_device():
            yield
    finally:
        fused_norm._FUSED = saved
