"""Tiny LoRA files for the tiny LTX-2 model (tests of the CLI and the app): rank-2 pairs on every linear
layer of its transformer, in the official naming, optionally with a wrong shape or IC-LoRA metadata."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.weights.tiny_ltx2 import LTX2ModelShapes
from tests.core.lora_helpers import layer_shape, linear_paths, official_module, random_pair, write_lora_file


def tiny_lora(path: Path, seed: int = 0, wrong_first: bool = False, metadata: dict | None = None) -> Path:
    """A rank-2 LoRA on every linear layer of the tiny LTX-2 transformer (official naming).

    `wrong_first`: the first layer's down tensor is 3 columns too wide (a LoRA made for another model).
    `metadata`: the safetensors header's metadata (an IC-LoRA's {"reference_downscale_factor": "1"}).
    """
    model = LTX2Transformer(LTX2Config.from_dict(LTX2ModelShapes().transformer))
    rng = np.random.default_rng(seed)
    pairs = {}
    for index, name in enumerate(linear_paths(model)):
        out_features, in_features = layer_shape(model, name)
        down, up = random_pair(out_features, in_features + (3 if wrong_first and index == 0 else 0), 2, rng)
        pairs[official_module(name)] = (down * 0.1, up)
    write_lora_file(path, pairs)
    if metadata:
        tensors = mx.load(str(path))
        mx.save_safetensors(str(path), tensors, metadata=metadata)
    return path
