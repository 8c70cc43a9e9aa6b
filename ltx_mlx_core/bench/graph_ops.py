"""Counting the operations of an unevaluated MLX graph: a launch-bound decode's cost on a GPU.

With few operations per command buffer (gpu_commands.py) every kernel is a launch, so for
graphs of many small operations (the vocoders) the count predicts the time. The graph is read
through ``mx.export_to_dot`` without evaluating it. Views (slices, transposes, broadcasts,
strided views) launch nothing; a reshape launches a copy only when its input is not contiguous,
so reshapes are counted apart. Wrap the call that builds the graph in
``fusion.fused_on_every_device()`` to count the fused forms a GPU runs.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass

import mlx.core as mx

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
    text = io.StringIO()
    mx.export_to_dot(text, *outputs)
    names = Counter()
    for match in _NODE.finditer(text.getvalue()):
        name = match.group(1)
        names["Compiled" if name.startswith("Compiled") else name] += 1
    return GraphOps(names)
