"""Residency modes: how much of the model is in memory at once.

RESIDENT            every component loaded once and kept (fastest for repeated runs); an LTX-2
                    run still frees its VAEs while the transformer runs (pipeline/ltx2/models.py).
STREAM_COMPONENTS   components materialised only while needed and released after
                    (text encoder → encode → freed; transformer for the passes; VAE to decode),
                    so the peak is the largest component plus activations.
STREAM_BLOCKS       additionally, transformer blocks are read from the memory-mapped
                    checkpoint while each step runs and freed as soon as they were used,
                    so only about one block's weights are resident at a time. A quantised
                    transformer's blocks are read from its quantised cache file (quantize.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_map, tree_unflatten

logger = logging.getLogger(__name__)


class ResidencyMode(Enum):
    RESIDENT = "resident"
    STREAM_COMPONENTS = "stream_components"
    STREAM_BLOCKS = "stream_blocks"

    @property
    def description(self) -> str:
        return {
            ResidencyMode.RESIDENT: "all components resident",
            ResidencyMode.STREAM_COMPONENTS: "components loaded one at a time",
            ResidencyMode.STREAM_BLOCKS: "transformer blocks streamed from disk every step",
        }[self]


class StreamedBlock(nn.Module):
    """Runs one transformer block with weights freshly (lazily) read from the checkpoint.

    The wrapped block keeps no weights between calls: after its graph is built the
    module's references are replaced by scalars, so once the step is evaluated the
    block's weights are freed. `mx.load` maps the file lazily, so reading is cheap
    until evaluation needs the data.
    """

    def __init__(self, block: nn.Module, index: int, weights_for_step: Callable[[int], dict[str, mx.array]]):
        super().__init__()
        object.__setattr__(self, "_block", block)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_weights_for_step", weights_for_step)
        self._drop_weights()

    def _drop_weights(self) -> None:
        block = object.__getattribute__(self, "_block")
        block.update(tree_map(lambda _: mx.array(0.0), block.parameters()))

    def __call__(self, *args: Any, **kwargs: Any) -> mx.array:
        block = object.__getattribute__(self, "_block")
        return self._with_weights(type(block).__call__, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        """The wrapped block's other public methods (e.g. a step cache's `modulated_input`) also run
        with the block's weights read in for the call, and dropped after."""
        block = object.__getattribute__(self, "_block")
        method = getattr(type(block), name, None)
        if name.startswith("_") or not callable(method):
            return super().__getattr__(name)
        return functools.partial(self._with_weights, method)

    def _with_weights(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        block = object.__getattribute__(self, "_block")
        block.update(tree_unflatten(list(self._weights_for_step(self._index).items())))
        try:
            return method(block, *args, **kwargs)
        finally:
            self._drop_weights()


def stream_transformer_blocks(
    model: nn.Module, read_block_weights: Callable[[], dict[int, dict[str, mx.array]]]
) -> None:
    """Replace `model.transformer_blocks[i]` by StreamedBlocks.

    `read_block_weights()` returns {block index: {parameter name within block: lazy array}}
    for the whole checkpoint; it is called once per forward (at block 0) so each step
    builds its graph on fresh lazy arrays that nothing else keeps alive.
    """
    cache: dict[str, Any] = {}

    def weights_for(index: int) -> dict[str, mx.array]:
        if index == 0 or "blocks" not in cache:
            cache["blocks"] = read_block_weights()
        weights = cache["blocks"].pop(index)
        if not cache["blocks"]:
            cache.pop("blocks")
        return weights

    model.transformer_blocks = [
        StreamedBlock(block, index, weights_for) for index, block in enumerate(model.transformer_blocks)
    ]
    logger.info("transformer blocks stream from disk (%d blocks)", len(model.transformer_blocks))


def split_block_weights(weights: dict[str, mx.array], dtype: mx.Dtype) -> dict[int, dict[str, mx.array]]:
    """{"transformer_blocks.3.attn1.to_q.weight": w} → {3: {"attn1.to_q.weight": w}}, floating-point
    tensors in `dtype` (quantised weights are packed integers and stay as they are)."""
    blocks: dict[int, dict[str, mx.array]] = {}
    for key, value in weights.items():
        _, index, rest = key.split(".", 2)
        blocks.setdefault(int(index), {})[rest] = (
            value.astype(dtype) if mx.issubdtype(value.dtype, mx.floating) else value
        )
    return blocks


def block_weights_in_file(path: Path, dtype: mx.Dtype) -> dict[int, dict[str, mx.array]]:
    """The transformer blocks' tensors of a file that names them as the model does (the quantised
    cache), lazily loaded and split by block."""
    arrays = mx.load(str(path))
    return split_block_weights({k: v for k, v in arrays.items() if k.startswith("transformer_blocks.")}, dtype)
