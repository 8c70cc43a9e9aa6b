"""Counting a graph's operations: views apart from kernels, copying reshapes and fused chains as kernels."""

from __future__ import annotations

import mlx.core as mx

from ltx_mlx_core.bench.graph_ops import count_graph_ops
from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu, fused_on_every_device


@fuse_elementwise_on_gpu
def _chain(x: mx.array, y: mx.array) -> mx.array:
    return mx.sin(x * y) + x


def test_counts_kernels_views_and_fused_chains() -> None:
    x = mx.random.normal((4, 6), key=mx.random.key(0))
    mx.eval(x)
    plain = count_graph_ops(_chain(x[:, 1:], x[:, :-1]).T)
    assert plain.kernels == 3 and plain.views == 3 and plain.fused == 0
    with fused_on_every_device():
        fused = count_graph_ops(_chain(x[:, 1:], x[:, :-1]).reshape(-1))
    assert fused.kernels == 1 and fused.fused == 1 and fused.reshapes == 1
    assert fused.to_dict()["by_primitive"]["Slice"] == 2


def test_a_reshape_of_a_transposed_view_is_a_copy_and_of_a_contiguous_array_a_view() -> None:
    x = mx.random.normal((4, 6), key=mx.random.key(0))
    mx.eval(x)
    ops = count_graph_ops(x.T.reshape(-1) + x.reshape(-1))
    assert ops.by_primitive["Reshape (copy)"] == 1 and ops.copies == 1 and ops.reshapes == 1
    assert ops.kernels == 2 and ops.views == 1  # the copy and the add; the transpose


def test_every_call_of_a_compiled_function_is_a_kernel() -> None:
    """The calls share one primitive (one node number in the dot text); each is still a launch."""
    x = mx.random.normal((4, 6), key=mx.random.key(0))
    mx.eval(x)
    with fused_on_every_device():
        ops = count_graph_ops(_chain(_chain(x, x), x))
    assert ops.fused == 2 and ops.kernels == 2 and ops.by_primitive == {"Compiled": 2}
