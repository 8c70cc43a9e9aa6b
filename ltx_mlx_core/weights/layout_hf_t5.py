"""The Hugging Face folder layout of the T5 text encoder (PixArt's `text_encoder/`).

config.json plus either one `model.safetensors` or shards listed in
`model.safetensors.index.json`. Only the encoder is kept: decoder and LM-head
tensors of full T5 checkpoints are dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltxv.t5 import T5Config
from ltx_mlx_core.models.ltxv.t5_keys import sanitize_hf_t5
from ltx_mlx_core.weights.safetensors_io import load_tensors

SHARD_INDEX = "model.safetensors.index.json"


def sharded_files(folder: Path, index_name: str) -> list[Path]:
    """The safetensors files of a folder: from its shard index when there is one, else every file."""
    index = folder / index_name
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (OSError, json.JSONDecodeError, KeyError) as error:
            raise CheckpointError(f"The shard index '{index}' is unreadable: {error}") from None
        files = sorted({folder / name for name in weight_map.values()})
        missing = [path.name for path in files if not path.is_file()]
        if missing:
            raise CheckpointError(f"'{index}' lists shards that are missing: {', '.join(missing)}.")
        return files
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"The folder '{folder}' has no .safetensors weights.")
    return files


def t5_weight_files(folder: Path) -> list[Path]:
    return sharded_files(Path(folder), SHARD_INDEX)


def t5_config(folder: Path) -> T5Config:
    path = Path(folder) / "config.json"
    try:
        return T5Config.from_dict(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"The text encoder folder '{folder}' has no readable config.json: {error}") from None
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"'{path}' is not a T5 encoder config this version can build: {error}") from None


def read_t5(folder: Path) -> tuple[T5Config, dict[str, mx.array]]:
    folder = Path(folder)
    config = t5_config(folder)
    weights: dict[str, mx.array] = {}
    for path in t5_weight_files(folder):
        weights.update(load_tensors(path))
    weights = {k: v for k, v in weights.items() if not k.startswith("decoder.") and k != "lm_head.weight"}
    try:
        return config, sanitize_hf_t5(weights)
    except CheckpointError as error:
        raise CheckpointError(f"The text encoder in '{folder}': {error}") from None
