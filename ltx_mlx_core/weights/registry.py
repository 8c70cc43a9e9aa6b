"""Model ids → files on disk, for both families.

A model folder holds a `model.json` manifest naming its files (the tiny test
models and MLX-native caches are such folders). Catalog ids resolve through the
Hugging Face cache, where `ltx-mlx models download` puts them. `list_models` says
which of them are on this machine. LTX-2 specifics are in registry_ltx2.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ltx_mlx_core import paths
from ltx_mlx_core.errors import InvalidRequest, ModelNotInstalled
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
from ltx_mlx_core.weights.layout_ltx2 import is_ltx2_checkpoint
from ltx_mlx_core.weights.model_files import (  # noqa: F401  (re-exported: callers import them from here)
    CHECKSUMS,
    FAMILIES,
    FAMILY_LABELS,
    LTX2,
    LTXV,
    MAKE_TINY_AGAIN,
    MANIFEST,
    ModelFiles,
    checksum_problems,
    checksums,
    read_manifest,
)
from ltx_mlx_core.weights.registry_ltx2 import (
    TINY_LTX2_ID,
    TINY_LTX2_LABEL,
    is_ltx2_diffusers_folder,
    ltx2_diffusers_files,
    ltx2_installed_files,
    ltx2_single_file,
)
from ltx_mlx_core.weights.safetensors_io import read_header

logger = logging.getLogger(__name__)

DIFFUSERS_INDEX = "model_index.json"
TINY_ID = "tiny"
TINY_LABEL = "Tiny test model (random weights: its output is noise)"
TEST_MODEL_IDS = (TINY_ID, TINY_LTX2_ID)


def diffusers_files(folder: Path) -> ModelFiles:
    """A diffusers pipeline folder: `checkpoint` is the folder itself (the loader reads its parts).

    Such folders carry no latent upsampler and no pipeline YAML: pass one (e.g. a base
    single-pass config) with the request.
    """
    for part in ("transformer", "vae", "text_encoder", "tokenizer"):
        if not (folder / part).is_dir():
            raise ModelNotInstalled(f"The diffusers folder '{folder}' has no '{part}' folder.")
    return ModelFiles(
        model_id=folder.name,
        checkpoint=folder,
        text_encoder_dir=folder / "text_encoder",
        tokenizer_dir=folder / "tokenizer",
        label=f"{folder.name} (diffusers layout)",
    )


def single_file(checkpoint: Path) -> ModelFiles:
    """An official single-file checkpoint anywhere on disk, of either family.

    The text encoder (and, when none lies beside the file, the latent upsampler) come
    from the Hugging Face cache, where `ltx-mlx models download` puts them; the
    pipeline YAML is the official one named like the file when there is one.
    """
    header = read_header(checkpoint)
    if is_ltx2_checkpoint(header):
        return ltx2_single_file(checkpoint, header)
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
        model_id=checkpoint.stem,
        checkpoint=checkpoint,
        text_encoder_dir=text_config.parent,
        tokenizer_dir=tokenizer_config.parent,
        upsampler=upsampler,
        config=str(config) if config.is_file() else None,
        label=checkpoint.name,
    )


def tiny_model_dir(family: str = LTXV) -> Path:
    return paths.local_models_dir() / (TINY_LTX2_ID if family == LTX2 else TINY_ID)


def resolve_model(id_or_path: str) -> ModelFiles:
    """A model id (`tiny`, `tiny-ltx2`, a catalog id) or a model folder → its files; clear errors otherwise."""
    if id_or_path in TEST_MODEL_IDS:
        family = LTX2 if id_or_path == TINY_LTX2_ID else LTXV
        folder = tiny_model_dir(family)
        if not (folder / MANIFEST).is_file():
            how = "ltx-mlx models make-tiny" + (" --family ltx2" if family == LTX2 else "")
            raise ModelNotInstalled(
                f"The test model '{id_or_path}' is not on this machine. Create it with `{how}` "
                "(or Models → Make tiny test model in the app)."
            )
        return read_manifest(folder)
    candidate = Path(id_or_path).expanduser()
    if candidate.is_dir() and (candidate / MANIFEST).is_file():
        return read_manifest(candidate)
    if candidate.is_dir() and is_ltx2_diffusers_folder(candidate):
        return ltx2_diffusers_files(candidate)
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
    known = ", ".join(sorted([*TEST_MODEL_IDS, *CATALOG]))
    raise InvalidRequest(f"Unknown model '{id_or_path}'. Use one of: {known}, or a model folder.")


def installed_files(entry: CatalogEntry) -> ModelFiles:
    """A catalog model's files in the Hugging Face cache; ModelNotInstalled naming what is missing."""
    if entry.family == LTX2:
        return ltx2_installed_files(entry)
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
        version=entry.version,
        variant=entry.variant,
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
    family: str = LTXV


TINY_LICENCE = "Random weights made on this machine; no licence restrictions. Its output is noise."
TINY_APPROX_BYTES = 4_000_000
TINY_LTX2_APPROX_BYTES = 11_000_000


def list_models() -> list[ModelStatus]:
    """The tiny test models and every catalog model, with what is on this machine (no network), by family."""
    rows = [
        ModelStatus(
            TINY_ID,
            TINY_LABEL,
            TINY_APPROX_BYTES,
            TINY_LICENCE,
            (tiny_model_dir() / MANIFEST).is_file(),
            is_test_model=True,
        )
    ]
    rows += [
        ModelStatus(
            entry.model_id, entry.label, entry.approx_bytes, entry.licence, is_installed(entry), family=entry.family
        )
        for entry in CATALOG.values()
        if entry.family == LTXV
    ]
    rows += [
        ModelStatus(
            TINY_LTX2_ID,
            TINY_LTX2_LABEL,
            TINY_LTX2_APPROX_BYTES,
            TINY_LICENCE,
            (tiny_model_dir(LTX2) / MANIFEST).is_file(),
            is_test_model=True,
            family=LTX2,
        )
    ]
    rows += [
        ModelStatus(
            entry.model_id, entry.label, entry.approx_bytes, entry.licence, is_installed(entry), family=entry.family
        )
        for entry in CATALOG.values()
        if entry.family == LTX2
    ]
    return rows
