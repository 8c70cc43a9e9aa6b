"""Where an LTX-2 text encoder's parts are: a Hugging Face Gemma folder, or LTX-2.5's single file.

A folder (Gemma 3 12B for LTX-2 and 2.3, a diffusers `text_encoder/`) holds config.json and
safetensors files, shards or one, and usually the tokenizer. LTX-2.5 ships its fine-tuned Gemma 4
as one safetensors file that also carries the feature-extractor projection
(`text_embedding_projection.*`); its config is the header's "config" JSON when the file has one,
else the released LTX-2.5 Gemma 4 12B config below. Nothing here reads tensor data: the readers
return paths and configs, and `gemma_shapes` sizes a text encoder from headers alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.text.gemma import BUNDLED_PROJECTION_PREFIX, language_model_weights
from ltx_mlx_core.weights.safetensors_io import read_header

# google/gemma-3-12b-it's config.json (the text part; transformers fills the rest with its defaults).
GEMMA3_12B_CONFIG: dict[str, Any] = {
    "architectures": ["Gemma3ForConditionalGeneration"],
    "model_type": "gemma3",
    "text_config": {
        "hidden_size": 3840,
        "intermediate_size": 15360,
        "model_type": "gemma3_text",
        "num_attention_heads": 16,
        "num_hidden_layers": 48,
        "num_key_value_heads": 8,
        "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
        "sliding_window": 1024,
    },
}
# LTX-2.5's fine-tuned Gemma 4 12B (diffusers loads it as Gemma4UnifiedForConditionalGeneration).
GEMMA4_12B_LTX25_CONFIG: dict[str, Any] = {
    "model_type": "gemma4_unified",
    "text_config": {
        "hidden_size": 3840,
        "num_hidden_layers": 48,
        "intermediate_size": 15360,
        "num_attention_heads": 16,
        "head_dim": 256,
        "global_head_dim": 512,
        "num_key_value_heads": 8,
        "num_global_key_value_heads": 1,
        "attention_k_eq_v": True,
        "sliding_window": 1024,
        "vocab_size": 262144,
        "final_logit_softcapping": 30.0,
        "hidden_size_per_layer_input": 0,
        "num_kv_shared_layers": 0,
    },
}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")


@dataclass(frozen=True)
class GemmaSource:
    """A Gemma text encoder on disk: its config and the safetensors files that hold its tensors."""

    path: Path
    config: dict[str, Any]
    weight_files: tuple[Path, ...]

    @property
    def is_single_file(self) -> bool:
        return self.path.is_file()


def gemma_source(path: str | Path) -> GemmaSource:
    """The Gemma at `path` (a folder, or LTX-2.5's single file); CheckpointError saying what is missing."""
    path = Path(path)
    if path.is_file():
        if path.suffix != ".safetensors":
            raise CheckpointError(f"'{path.name}' is not a safetensors Gemma text encoder.")
        header = read_header(path)
        config = header.config() or GEMMA4_12B_LTX25_CONFIG
        return GemmaSource(path, dict(config.get("text_encoder", config)), (path,))
    if not path.is_dir():
        raise CheckpointError(f"The Gemma text encoder '{path}' does not exist.")
    config_path = path / "config.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(
            f"'{path}' has no readable config.json, so it is not a Gemma model folder: {error}"
        ) from None
    files = tuple(sorted(path.glob("*.safetensors")))
    if not files:
        raise CheckpointError(f"The Gemma folder '{path}' has no .safetensors weights.")
    _check_shards(path)
    return GemmaSource(path, config, files)


def _check_shards(folder: Path) -> None:
    """Every shard a `model.safetensors.index.json` names is present (a half-finished copy fails here)."""
    index = folder / "model.safetensors.index.json"
    if not index.is_file():
        return
    try:
        names = set(json.loads(index.read_text())["weight_map"].values())
    except (OSError, json.JSONDecodeError, KeyError) as error:
        raise CheckpointError(f"The shard index '{index}' is unreadable: {error}") from None
    missing = sorted(name for name in names if not (folder / name).is_file())
    if missing:
        raise CheckpointError(f"The Gemma folder '{folder}' lacks the shards {', '.join(missing)}.")


def tokenizer_folder(*candidates: Path | None) -> Path:
    """The first of `candidates` (folders, or a single file's folder) that holds Gemma tokenizer files."""
    for candidate in candidates:
        if candidate is None:
            continue
        folder = candidate if candidate.is_dir() else candidate.parent
        if any((folder / name).is_file() for name in _TOKENIZER_FILES):
            return folder
        nested = sorted(p.parent for name in _TOKENIZER_FILES for p in folder.glob(f"*/{name}"))
        if nested:
            return nested[0]
    shown = ", ".join(str(c) for c in candidates if c is not None)
    raise CheckpointError(f"No Gemma tokenizer (tokenizer.json or tokenizer.model) in {shown}.")


def gemma_shapes(source: GemmaSource) -> dict[str, tuple[int, ...]]:
    """The language model's tensor shapes (text-only names), from the headers: what loading reads."""
    shapes: dict[str, tuple[int, ...]] = {}
    for path in source.weight_files:
        shapes.update({name: info.shape for name, info in read_header(path).tensors.items()})
    return {name: shape for name, shape in language_model_weights(shapes).items()}  # type: ignore[arg-type]


def bundled_projection_keys(source: GemmaSource) -> dict[Path, list[str]]:
    """{file: [keys]} of the `text_embedding_projection.*` tensors the Gemma files carry (LTX-2.5)."""
    found: dict[Path, list[str]] = {}
    for path in source.weight_files:
        keys = read_header(path).keys_with_prefix(BUNDLED_PROJECTION_PREFIX)
        if keys:
            found[path] = keys
    return found
