"""LTX-2 family models → their files: catalog ids, loose official files, diffusers folders.

An official LTX-2/2.3 single file holds every component but the text encoder and the upsamplers;
those come from beside the file or from the Hugging Face cache (where a catalog download put
them). LTX-2.5 splits the video VAE and the audio VAE (with the vocoder) into files of their own.
"""

from __future__ import annotations

import json
from pathlib import Path

from ltx_mlx_core.errors import CheckpointError, ModelNotInstalled
from ltx_mlx_core.weights.catalog import (
    CATALOG,
    CatalogEntry,
    HubFile,
    cached_path,
    expanded,
    installed_checkpoint,
    shard_files,
)
from ltx_mlx_core.weights.layout_ltx2 import (
    AUDIO_VAE_PREFIX,
    VAE_PREFIX,
    transformer_config,
    version_of,
)
from ltx_mlx_core.weights.model_files import LTX2, ModelFiles
from ltx_mlx_core.weights.safetensors_io import SafetensorsHeader

TINY_LTX2_ID = "tiny-ltx2"
TINY_LTX2_LABEL = "Tiny LTX-2 test model (random weights: its picture and sound are noise)"
DIFFUSERS_PARTS = ("transformer", "vae", "audio_vae", "vocoder", "connectors", "text_encoder", "tokenizer")
# A catalog entry of each release, whose text encoder and upsamplers a loose file of that release uses.
_RELEASE_ENTRY = {"2": "ltx-2-19b-distilled", "2.3": "ltx-2.3-22b-distilled", "2.5": "ltx-2.5-22b-distilled"}


def is_ltx2_diffusers_folder(folder: Path) -> bool:
    index = folder / "model_index.json"
    try:
        name = json.loads(index.read_text()).get("_class_name", "")
    except (OSError, json.JSONDecodeError):
        return False
    return name.startswith("LTX2") or (folder / "audio_vae").is_dir()


def ltx2_diffusers_files(folder: Path) -> ModelFiles:
    """A diffusers LTX-2 pipeline folder: `checkpoint` is the folder; `latent_upsampler/` when it has one."""
    for part in DIFFUSERS_PARTS:
        if not (folder / part).is_dir():
            raise ModelNotInstalled(f"The diffusers folder '{folder}' has no '{part}' folder.")
    upsampler = folder / "latent_upsampler"
    return ModelFiles(
        model_id=folder.name,
        checkpoint=folder,
        text_encoder_dir=folder / "text_encoder",
        tokenizer_dir=folder / "tokenizer",
        upsampler=upsampler if upsampler.is_dir() else None,
        label=f"{folder.name} (diffusers layout)",
        family=LTX2,
    )


def _cached(hub_file: HubFile | None) -> Path | None:
    return None if hub_file is None else cached_path(hub_file)


def _beside(checkpoint: Path, *patterns: str) -> Path | None:
    for pattern in patterns:
        found = sorted(checkpoint.parent.glob(pattern))
        if found:
            return found[-1]
    return None


def _text_encoder(entry: CatalogEntry) -> tuple[Path, Path] | None:
    """(Gemma folder or file, tokenizer folder) of a catalog entry when every file is downloaded."""
    files = expanded(entry.text_encoder + entry.tokenizer)
    paths = [cached_path(f) for f in files]
    if any(p is None for p in paths) or any(f.lists_shards and not shard_files(f) for f in files):
        return None
    gemma = paths[0] if len(entry.text_encoder) == 1 and paths[0].suffix == ".safetensors" else paths[0].parent
    tokenizer = cached_path(entry.tokenizer[0]).parent if entry.tokenizer else gemma
    return gemma, tokenizer


def ltx2_single_file(checkpoint: Path, header: SafetensorsHeader) -> ModelFiles:
    """An official LTX-2 family file anywhere on disk (a single file, or LTX-2.5's transformer file)."""
    try:
        version = version_of(transformer_config(checkpoint, header))
    except CheckpointError as error:
        raise CheckpointError(
            f"'{checkpoint.name}' looks like an LTX-2 file but its transformer is unreadable: {error}"
        ) from None
    entry = CATALOG[_RELEASE_ENTRY[version]]
    text = _text_encoder(entry)
    if text is None:
        raise ModelNotInstalled(
            f"'{checkpoint.name}' is an LTX-{version} model and needs its Gemma text encoder, which is not "
            f"downloaded. Download it with `ltx-mlx models download {entry.model_id}`."
        )
    split = not header.keys_with_prefix(VAE_PREFIX)
    video_vae = (
        (_beside(checkpoint, "*video-vae*.safetensors", "*video_vae*.safetensors") or _cached(entry.video_vae))
        if split
        else None
    )
    audio_vae = (
        (_beside(checkpoint, "*audio-vae*.safetensors", "*audio_vae*.safetensors") or _cached(entry.audio_vae))
        if not header.keys_with_prefix(AUDIO_VAE_PREFIX)
        else None
    )
    if split and video_vae is None:
        raise ModelNotInstalled(
            f"'{checkpoint.name}' holds no video VAE and none lies beside it; download "
            f"`ltx-mlx models download {entry.model_id}` for the LTX-{version} component files."
        )
    stem = checkpoint.stem
    return ModelFiles(
        model_id=stem,
        checkpoint=checkpoint,
        text_encoder_dir=text[0],
        tokenizer_dir=text[1],
        upsampler=_beside(checkpoint, "*spatial-upscaler-x2*.safetensors") or _cached(entry.upsampler),
        temporal_upsampler=_beside(checkpoint, "*temporal-upscaler-x2*.safetensors")
        or _cached(entry.temporal_upsampler),
        distilled_lora=_beside(checkpoint, "*distilled-lora*.safetensors") if "dev" in stem else None,
        video_vae=video_vae,
        audio_vae=audio_vae,
        label=checkpoint.name,
        family=LTX2,
        version=version,
        variant="dev" if "dev" in stem else "distilled",
    )


def ltx2_installed_files(entry: CatalogEntry) -> ModelFiles:
    """A catalog LTX-2 model's files in the Hugging Face cache; ModelNotInstalled naming what is missing."""
    checkpoint = installed_checkpoint(entry)
    missing = [] if checkpoint is not None else [entry.checkpoint.filename]
    missing += [f.filename for f in expanded(entry.parts) if cached_path(f) is None]
    missing += [f.filename for f in entry.parts if f.lists_shards and not shard_files(f)]
    text = _text_encoder(entry)
    if missing or text is None:
        shown = missing[0] if missing else entry.text_encoder[0].filename
        raise ModelNotInstalled(
            f"Model '{entry.model_id}' is not downloaded ({max(len(missing), 1)} file(s) missing, e.g. {shown}). "
            f"Download it with `ltx-mlx models download {entry.model_id}` or the app's model manager."
        )
    return ModelFiles(
        model_id=entry.model_id,
        checkpoint=cached_path(checkpoint),
        text_encoder_dir=text[0],
        tokenizer_dir=text[1],
        upsampler=_cached(entry.upsampler),
        temporal_upsampler=_cached(entry.temporal_upsampler),
        distilled_lora=_cached(entry.distilled_lora),
        video_vae=_cached(entry.video_vae),
        audio_vae=_cached(entry.audio_vae),
        label=entry.label,
        family=LTX2,
        version=entry.version,
        variant=entry.variant,
    )
