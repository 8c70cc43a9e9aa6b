"""The memory plan of a split run counts this rank's shard of the transformer, not the whole of it:
on the released LTX-2.3 22B shapes, a budget that holds the model only when split is planned, not refused."""

from __future__ import annotations

import math

import pytest

from ltx_mlx_core.distributed.components import DistributedComponents
from ltx_mlx_core.distributed.plan import ParallelMode, ParallelPlan
from ltx_mlx_core.distributed.tensor_parallel import shard_shapes
from ltx_mlx_core.errors import OutOfMemoryRisk
from ltx_mlx_core.pipeline.memory_estimate import MEMORY_LIMIT_ENV, plan_memory
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.shapes_ltx2 import full_size_shapes

GIB = 1 << 30


class FullSize22B:
    """The released LTX-2.3 22B distilled model's components as planning sees them (shapes only)."""

    model_id, config, family, version, variant = "ltx-2.3-22b-distilled", None, "ltx2", "2.3", "distilled"

    def shapes(self):
        return full_size_shapes("2.3")


class Ranks:
    """The part of an mx.distributed group the plan reads: how many ranks share the work."""

    def __init__(self, size: int):
        self._size = size

    def size(self) -> int:
        return self._size

    def rank(self) -> int:
        return 0


def parameters(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def split(size: int, mode: ParallelMode = ParallelMode.TENSOR) -> DistributedComponents:
    return DistributedComponents(FullSize22B(), Ranks(size), ParallelPlan(mode, size, "test"))


def request(**fields) -> GenerationRequest:
    return GenerationRequest(
        prompt="a red ball", model="ltx-2.3-22b-distilled", width=512, height=320, num_frames=25, **fields
    )


def test_tensor_parallel_shapes_hold_about_half_the_split_layers():
    whole = full_size_shapes("2.3").transformer
    half = split(2).shapes().transformer
    assert half["transformer_blocks.0.attn1.to_q.weight"] == (2048, 4096)
    assert half["transformer_blocks.0.attn1.to_out.weight"] == (4096, 2048)
    assert half["transformer_blocks.0.ff.proj_out.bias"] == (4096,)  # added after the all-sum: whole
    assert half["patchify_proj.weight"] == whole["patchify_proj.weight"]
    ratio = parameters(half) / parameters(whole)
    print(f"rank 0 of 2 holds {ratio:.3f} of the 22B transformer's parameters")
    assert 0.5 <= ratio < 0.55
    assert split(2, ParallelMode.SEQUENCE).shapes().transformer == whole
    assert shard_shapes(whole, 1) == whole


def test_a_model_that_fits_only_when_split_is_planned_not_refused(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(32 * GIB))
    alone, halves = (
        plan_memory(request(), FullSize22B(), dtype_bytes=2),
        plan_memory(request(), split(2), dtype_bytes=2),
    )
    print(f"32 GiB, one machine: {alone}; two: {halves}")
    assert alone.quantize_bits == 8  # bf16 does not fit one 32 GiB machine
    assert halves.quantize_bits is None  # but half of it does

    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(20 * GIB))
    with pytest.raises(OutOfMemoryRisk):
        plan_memory(request(quantize_bits=8), FullSize22B(), dtype_bytes=2, stream_blocks=False)
    alone = plan_memory(request(quantize_bits=8), FullSize22B(), dtype_bytes=2)
    assert alone.residency is ResidencyMode.STREAM_BLOCKS  # one machine only by reading the blocks every step
    plan = plan_memory(request(quantize_bits=8), split(2), dtype_bytes=2)
    print(f"20 GiB, 8-bit, two machines: {plan}")
    assert plan.residency is not ResidencyMode.STREAM_BLOCKS  # each holds its shard
    assert plan.estimate.peak_for(plan.residency) <= 20 * GIB
