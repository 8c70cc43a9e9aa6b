"""Our LTX-2.3 step with quantised weights, resident or with its blocks streamed (Mac budgets).

`quantized_step`: random bf16 weights quantised to 8 or 4 bits (weights/quantize.py), block by
block so the bf16 copies do not pile up. `streamed_step`: the quantised blocks written to one
safetensors file and read back lazily each step (weights/residency.py's StreamedBlock), so only
the blocks in flight are resident. The product does the same from its quantised cache file
(weights/loader_ltx2.py); this stages it with random weights, which have no checkpoint to quantise.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from ltx_mlx_core.bench.workloads_ltx2 import random_ltx2_transformer
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.weights.quantize import quantize_linear_layers
from ltx_mlx_core.weights.residency import stream_transformer_blocks


def quantized_step(config: LTX2Config, dtype: mx.Dtype, bits: int) -> LTX2Transformer:
    model = random_ltx2_transformer(config, dtype)
    quantize_linear_layers(model, bits)
    for block in model.transformer_blocks:
        mx.eval(block.parameters())
    mx.eval(model.parameters())
    return model


def _read_blocks(path: Path) -> dict[int, dict[str, mx.array]]:
    """{block index: {name within the block: lazily loaded array}} (quantised integers kept as they are)."""
    blocks: dict[int, dict[str, mx.array]] = {}
    for key, value in mx.load(str(path)).items():
        _, index, rest = key.split(".", 2)
        blocks.setdefault(int(index), {})[rest] = value
    return blocks


def streamed_step(model: LTX2Transformer, folder: Path) -> tuple[LTX2Transformer, int]:
    """The model with its (quantised) blocks streamed from a file in `folder`; (model, file bytes)."""
    path = folder / "blocks.safetensors"
    weights = {
        f"transformer_blocks.{index}.{name}": value
        for index, block in enumerate(model.transformer_blocks)
        for name, value in tree_flatten(block.parameters())
    }
    mx.save_safetensors(str(path), weights)
    del weights
    stream_transformer_blocks(model, lambda: _read_blocks(path))
    return model, path.stat().st_size
