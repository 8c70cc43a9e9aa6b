"""What a model is made of on disk: `ModelFiles`, and the `model.json` manifest of a model folder.

A model folder (the tiny test models, MLX-native caches) names its files in `model.json`;
catalog models and loose checkpoints get their `ModelFiles` from the registry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_mlx_core.errors import CheckpointError, InvalidRequest, ModelNotInstalled

MANIFEST = "model.json"
# Manifest key: {relative path: sha256} of every file of a model made on this machine.
CHECKSUMS = "sha256"
MAKE_TINY_AGAIN = "`ltx-mlx models make-tiny --force`"

# Families: LTX-Video 0.9.x (silent video, T5) and LTX-2 (video with sound, Gemma).
LTXV = "ltxv"
LTX2 = "ltx2"
FAMILIES = (LTXV, LTX2)
FAMILY_LABELS = {LTXV: "LTX-Video 0.9.x (video)", LTX2: "LTX-2 family (video with sound)"}
# Optional parts named in a manifest, beside the checkpoint, upsampler, text encoder and tokenizer.
_EXTRA_PARTS = ("temporal_upsampler", "distilled_lora", "video_vae", "audio_vae", "vocoder")


@dataclass(frozen=True)
class ModelFiles:
    """Where one model's components live. `config` is a pipeline YAML path or name.

    `family` says which model family the files are ("ltxv" or "ltx2"), `version` which release
    ("0.9.8"; "2", "2.3", "2.5") and `variant` which weights ("distilled" or "dev"), so a pipeline
    can pick its recipe. For LTX-2, `text_encoder_dir` is a Gemma folder (or LTX-2.5's single
    Gemma file) and the video VAE, audio VAE and vocoder are in `checkpoint` unless a split
    layout names their own files.
    """

    model_id: str
    checkpoint: Path
    text_encoder_dir: Path
    tokenizer_dir: Path
    upsampler: Path | None = None
    config: str | None = None
    label: str = ""
    is_test_model: bool = False
    family: str = LTXV
    version: str = ""
    variant: str = ""
    temporal_upsampler: Path | None = None
    distilled_lora: Path | None = None
    video_vae: Path | None = None
    audio_vae: Path | None = None
    vocoder: Path | None = None

    def to_manifest(self, root: Path) -> dict[str, Any]:
        def rel(path: Path | None) -> str | None:
            return None if path is None else str(Path(path).relative_to(root))

        manifest = {
            "id": self.model_id,
            "label": self.label,
            "family": self.family,
            "version": self.version,
            "variant": self.variant,
            "checkpoint": rel(self.checkpoint),
            "upsampler": rel(self.upsampler),
            "text_encoder": rel(self.text_encoder_dir),
            "tokenizer": rel(self.tokenizer_dir),
            "pipeline_config": self.config,
            "is_test_model": self.is_test_model,
        }
        manifest.update({part: rel(getattr(self, part)) for part in _EXTRA_PARTS if getattr(self, part) is not None})
        return manifest


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
    family = data.get("family", LTXV)
    if family not in FAMILIES:
        raise InvalidRequest(f"'{manifest_path}' names the model family '{family}'; known: {', '.join(FAMILIES)}.")
    files = ModelFiles(
        model_id=data.get("id", folder.name),
        checkpoint=path("checkpoint"),
        text_encoder_dir=path("text_encoder"),
        tokenizer_dir=path("tokenizer") or path("text_encoder"),
        upsampler=path("upsampler"),
        config=config,
        label=data.get("label", ""),
        is_test_model=bool(data.get("is_test_model", False)),
        family=family,
        version=str(data.get("version", "")),
        variant=str(data.get("variant", "")),
        **{part: path(part) for part in _EXTRA_PARTS},
    )
    for name, value in (("checkpoint", files.checkpoint), ("text encoder", files.text_encoder_dir)):
        if value is None or not Path(value).exists():
            raise ModelNotInstalled(
                f"Model '{files.model_id}' is incomplete: its {name} is missing from '{folder}'."
                + (f" Make it again with {MAKE_TINY_AGAIN}." if files.is_test_model else "")
            )
    # Made here (no hub to download from again): a damaged file is caught before anything reads it.
    problems = checksum_problems(folder, data.get(CHECKSUMS) or {})
    if problems:
        remedy = f"make it again with {MAKE_TINY_AGAIN}" if files.is_test_model else "make it again"
        raise CheckpointError(f"Model '{files.model_id}' in '{folder}' is damaged ({'; '.join(problems)}); {remedy}.")
    return files


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `folder` except the manifest."""
    return {
        str(path.relative_to(folder)): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


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
