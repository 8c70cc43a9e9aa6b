"""Model ids → files on disk.

A model folder holds a `model.json` manifest naming its files (the tiny test
model and MLX-native caches are such folders). Catalog ids resolve through the
Hugging Face cache, where `ltx-mlx models download` puts them. `list_models` says
which of them are on this machine.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_mlx_core import paths
from ltx_mlx_core.errors import CheckpointError, InvalidRequest, ModelNotInstalled
from ltx_mlx_core.paths import configs_dir
from ltx_mlx_core.weights.catalog import (
    CATALOG,
    T5_FILES,
    T5_REPO,
    UPSCALER,
    CatalogEntry,
    HubFile,
    cached_path,
    is_installed,
)

logger = logging.getLogger(__name__)

MANIFEST = "model.json"
DIFFUSERS_INDEX = "model_index.json"
TINY_ID = "tiny"
TINY_LABEL = "Tiny test model (random weights: its output is noise)"
# Manifest key: {relative path: sha256} of every file of a model made on this machine.
CHECKSUMS = "sha256"
MAKE_TINY_AGAIN = "`ltx-mlx models make-tiny --force`"


@dataclass(frozen=True)
class ModelFiles:
    """Where one model's components live. `config` is a pipeline YAML path or name."""

    model_id: str
    checkpoint: Path
    text_encoder_dir: Path
    tokenizer_dir: Path
    upsampler: Path | None = None
    config: str | None = None
    label: str = ""
    is_test_model: bool = False

    def to_manifest(self, root: Path) -> dict[str, Any]:
        def rel(path: Path | None) -> str | None:
            return None if path is None else str(Path(path).relative_to(root))

        return {
            "id": self.model_id,
            "label": self.label,
            "checkpoint": rel(self.checkpoint),
            "upsampler": rel(self.upsampler),
            "text_encoder": rel(self.text_encoder_dir),
            "tokenizer": rel(self.tokenizer_dir),
            "pipeline_config": self.config,
            "is_test_model": self.is_test_model,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `folder` except the manifest."""
    return {str(path.relative_to(folder)): file_sha256(path) for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != MANIFEST}


def checksum_problems(folder: Path, recorded: dict[str, str]) -> list[str]:
    """One phrase per file of `recorded` that is missing or differs from when the model was made."""
    problems = []
    for relative, expected in recorded.items():
        path = folder / relative
        if not path.is_file():
            problems.append(f"{relative} is missing")
        elif file_sha256(path) != expected:
            problems.append(f"{relative} has changed since it was made")
    return problems


def read_manifest(folder: Path) -> ModelFiles:
    manifest_path = folder / MANIFEST
    try:
        data = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InvalidRequest(f"'{manifest_path}' is not a readable model manifest: {error}") from None

    def path(key: str) -> Path | None:
        return folder / data[key] if data.get(key) else None

    config = data.get("pipeline_config")
    if config and (folder / config).is_file():
        config = str(folder / config)
    files = ModelFiles(
        model_id=data.get("id", folder.name),
        checkpoint=path("checkpoint"),
        text_encoder_dir=path("text_encoder"),
        tokenizer_dir=path("tokenizer") or path("text_encoder"),
        upsampler=path("upsampler"),
        config=config,
        label=data.get("label", ""),
        is_test_model=bool(data.get("is_test_model", False)),
    )
    for name, value in (("checkpoint", files.checkpoint), ("text encoder", files.text_encoder_dir)):
        if value is None or not Path(value).exists():
            raise ModelNotInstalled(f"Model '{files.model_id}' is incomplete: its {name} is missing from '{folder}'."
                                    + (f" Make it again with {MAKE_TINY_AGAIN}." if files.is_test_model else ""))
    # Made here (no hub to download from again): a damaged file is caught before anything reads it.
    problems = checksum_problems(folder, data.get(CHECKSUMS) or {})
    if problems:
        remedy = f"make it again with {MAKE_TINY_AGAIN}" if files.is_test_model else "make it again"
        raise CheckpointError(
            f"Model '{files.model_id}' in '{folder}' is damaged ({'; '.join(problems)}); {remedy}."
        )
    return files


def diffusers_files(folder: Path) -> ModelFiles:
    """A diffusers pipeline folder: `checkpoint` is the folder itself (the loader reads its parts).

    Such folders carry no latent upsampler and no pipeline YAML: pass one (e.g. a base
    single-pass config) with the request.
    """
    for part in ("transformer", "vae", "text_encoder", "tokenizer"):
        if not (folder / part).is_dir():
            raise ModelNotInstalled(f"The diffusers folder '{folder}' has no '{part}' folder.")
    return ModelFiles(
        model_id=folder.name, checkpoint=folder, text_encoder_dir=folder / "text_encoder",
        tokenizer_dir=folder / "tokenizer", label=f"{folder.name} (diffusers layout)",
    )


def single_file(checkpoint: Path) -> ModelFiles:
    """An official single-file checkpoint anywhere on disk.

    The text encoder (and, when none lies beside the file, the latent upsampler) come
    from the Hugging Face cache, where `ltx-mlx models download` puts them; the
    pipeline YAML is the official one named like the file when there is one.
    """
    text_config = cached_path(HubFile(T5_REPO, T5_FILES[0]))
    tokenizer_config = cached_path(HubFile(T5_REPO, "tokenizer/tokenizer_config.json"))
    if text_config is None or tokenizer_config is None:
        raise ModelNotInstalled(
            f"'{checkpoint.name}' needs the T5 text encoder, which is not downloaded. Download any catalog "
            "model (e.g. `ltx-mlx models download ltxv-2b-0.9.8-distilled`) to get it."
        )
    beside = sorted(checkpoint.parent.glob("ltxv-spatial-upscaler-*.safetensors"))
    upsampler = beside[-1] if beside else cached_path(UPSCALER)
    config = configs_dir() / f"{checkpoint.stem}.yaml"
    return ModelFiles(
        model_id=checkpoint.stem, checkpoint=checkpoint, text_encoder_dir=text_config.parent,
        tokenizer_dir=tokenizer_config.parent, upsampler=upsampler,
        config=str(config) if config.is_file() else None, label=checkpoint.name,
    )


def tiny_model_dir() -> Path:
    return paths.local_models_dir() / TINY_ID


def resolve_model(id_or_path: str) -> ModelFiles:
    """A model id (`tiny`, a catalog id) or a model folder → its files; clear errors otherwise."""
    if id_or_path == TINY_ID:
        folder = tiny_model_dir()
        if not (folder / MANIFEST).is_file():
            raise ModelNotInstalled(
                "The tiny test model is not on this machine. Create it with `ltx-mlx models make-tiny` "
                "(or Models → Make tiny test model in the app)."
            )
        return read_manifest(folder)
    candidate = Path(id_or_path).expanduser()
    if candidate.is_dir() and (candidate / MANIFEST).is_file():
        return read_manifest(candidate)
    if candidate.is_dir() and (candidate / DIFFUSERS_INDEX).is_file():
        return diffusers_files(candidate)
    if candidate.is_file():
        if candidate.suffix != ".safetensors":
            raise InvalidRequest(
                f"'{candidate.name}' is not a .safetensors checkpoint; ltx-mlx reads safetensors files only "
                "(pickled PyTorch files such as .pt/.bin/.ckpt are not loaded)."
            )
        return single_file(candidate)
    local = paths.local_models_dir() / id_or_path
    if (local / MANIFEST).is_file():
        return read_manifest(local)
    if id_or_path in CATALOG:
        return installed_files(CATALOG[id_or_path])
    known = ", ".join(sorted([TINY_ID, *CATALOG]))
    raise InvalidRequest(f"Unknown model '{id_or_path}'. Use one of: {known}, or a model folder.")


def installed_files(entry: CatalogEntry) -> ModelFiles:
    """A catalog model's files in the Hugging Face cache; ModelNotInstalled naming what is missing."""
    found = {f.filename: cached_path(f) for f in entry.files}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise ModelNotInstalled(
            f"Model '{entry.model_id}' is not downloaded ({len(missing)} file(s) missing, e.g. {missing[0]}). "
            f"Download it with `ltx-mlx models download {entry.model_id}` or the app's model manager."
        )
    text_encoder = found["text_encoder/config.json"].parent
    return ModelFiles(
        model_id=entry.model_id,
        checkpoint=found[entry.checkpoint.filename],
        upsampler=found[entry.upsampler.filename],
        text_encoder_dir=text_encoder,
        tokenizer_dir=found["tokenizer/tokenizer_config.json"].parent,
        config=str(configs_dir() / entry.pipeline_config),
        label=entry.label,
    )


@dataclass(frozen=True)
class ModelStatus:
    """One row of `ltx-mlx models list` and the app's model manager."""

    model_id: str
    label: str
    approx_bytes: int
    licence: str
    installed: bool
    is_test_model: bool = False


TINY_LICENCE = "Random weights made on this machine; no licence restrictions. Its output is noise."
TINY_APPROX_BYTES = 4_000_000


def list_models() -> list[ModelStatus]:
    """The tiny test model and every catalog model, with what is on this machine (no network)."""
    rows = [ModelStatus(TINY_ID, TINY_LABEL, TINY_APPROX_BYTES, TINY_LICENCE,
                        (tiny_model_dir() / MANIFEST).is_file(), is_test_model=True)]
    rows += [ModelStatus(entry.model_id, entry.label, entry.approx_bytes, entry.licence, is_installed(entry))
             for entry in CATALOG.values()]
    return rows
