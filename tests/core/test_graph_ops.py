"""Counting a graph's operations: views apart from kernels, fused chains as one, evaluated inputs not at all."""

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
