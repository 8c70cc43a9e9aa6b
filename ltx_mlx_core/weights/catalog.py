"""The models ltx-mlx supports: hub repos, files, approximate sizes, licences.

Weights live in the standard Hugging Face cache (shared with other tools that
use it); `cached_path` finds them there without touching the network.
Sizes are approximate (the hub's own metadata is checked on download).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ltx_mlx_core.paths import hf_cache_dir

LTXV_REPO = "Lightricks/LTX-Video"
T5_REPO = "PixArt-alpha/PixArt-XL-2-1024-MS"
LTXV_LICENCE = (
    "LTX-Video Open Weights License (Lightricks): free for research and for commercial use by entities "
    "under the licence's revenue threshold; read it at huggingface.co/Lightricks/LTX-Video before use."
)
T5_LICENCE = "T5 v1.1 XXL encoder (Apache-2.0), distributed with PixArt-alpha."
T5_FILES = (
    "text_encoder/config.json",
    "text_encoder/model.safetensors.index.json",
    "text_encoder/model-00001-of-00002.safetensors",
    "text_encoder/model-00002-of-00002.safetensors",
    "tokenizer/added_tokens.json",
    "tokenizer/special_tokens_map.json",
    "tokenizer/spiece.model",
    "tokenizer/tokenizer_config.json",
)
GB = 1_000_000_000


@dataclass(frozen=True)
class HubFile:
    repo_id: str
    filename: str
    approx_bytes: int = 0
    # A shard index (`model.safetensors.index.json`): the shards its weight_map names belong to the model too.
    lists_shards: bool = False


@dataclass(frozen=True)
class CatalogEntry:
    """One model id: its hub files, what it is, and how big.

    `checkpoint` is the bf16 (or the only) weights file; `fp8_checkpoint`, where Lightricks
    publishes one, is downloaded instead for a quantised choice (smaller; dequantised and
    re-quantised on first load into the MLX cache). `video_vae`/`audio_vae` are the split files of
    layouts that do not keep every component in the checkpoint (LTX-2.5).
    """

    model_id: str
    label: str
    checkpoint: HubFile
    upsampler: HubFile | None
    pipeline_config: str | None
    licence: str = LTXV_LICENCE
    text_encoder: tuple[HubFile, ...] = field(
        default_factory=lambda: tuple(HubFile(T5_REPO, name, 0) for name in T5_FILES)
    )
    family: str = "ltxv"
    version: str = "0.9.8"
    variant: str = "distilled"
    fp8_checkpoint: HubFile | None = None
    temporal_upsampler: HubFile | None = None
    distilled_lora: HubFile | None = None
    video_vae: HubFile | None = None
    audio_vae: HubFile | None = None
    tokenizer: tuple[HubFile, ...] = ()
    text_encoder_bytes: int = 0
    text_encoder_licence: str = T5_LICENCE

    @property
    def parts(self) -> tuple[HubFile, ...]:
        """Every file but the checkpoint (shared upsamplers and text encoders among them)."""
        optional = (self.upsampler, self.temporal_upsampler, self.distilled_lora, self.video_vae, self.audio_vae)
        return (*(f for f in optional if f is not None), *self.text_encoder, *self.tokenizer)

    def files_for(self, quantized: bool = False) -> tuple[HubFile, ...]:
        """The files one download fetches: the FP8 checkpoint for a quantised choice where there is one."""
        checkpoint = self.fp8_checkpoint if quantized and self.fp8_checkpoint is not None else self.checkpoint
        return (checkpoint, *self.parts)

    @property
    def files(self) -> tuple[HubFile, ...]:
        return self.files_for(False)

    def approx_bytes_for(self, quantized: bool = False) -> int:
        return sum(f.approx_bytes for f in self.files_for(quantized)) + self.text_encoder_bytes

    @property
    def approx_bytes(self) -> int:
        return self.approx_bytes_for(False)


T5_APPROX_BYTES = int(19.0 * GB)
UPSCALER = HubFile(LTXV_REPO, "ltxv-spatial-upscaler-0.9.8.safetensors", int(0.5 * GB))


def _ltxv(model_id: str, label: str, approx_gb: float) -> CatalogEntry:
    return CatalogEntry(
        model_id,
        label,
        HubFile(LTXV_REPO, f"{model_id}.safetensors", int(approx_gb * GB)),
        UPSCALER,
        f"{model_id}.yaml",
        text_encoder_bytes=T5_APPROX_BYTES,
    )


LTXV_ENTRIES = (
    _ltxv("ltxv-2b-0.9.8-distilled", "LTX-Video 2B 0.9.8 distilled (bf16)", 6.3),
    _ltxv("ltxv-2b-0.9.8-distilled-fp8", "LTX-Video 2B 0.9.8 distilled (FP8, dequantised on load)", 4.5),
    _ltxv("ltxv-13b-0.9.8-distilled", "LTX-Video 13B 0.9.8 distilled (bf16)", 28.6),
    _ltxv("ltxv-13b-0.9.8-distilled-fp8", "LTX-Video 13B 0.9.8 distilled (FP8, dequantised on load)", 15.7),
)

# ---- LTX-2 family -----------------------------------------------------------------------------
# File names from the Lightricks model cards and ltx-pipelines' docs; sizes are the hub's where
# known, else computed from the architectures (tests/core/test_catalog_ltx2.py checks the latter).
LTX2_REPO = "Lightricks/LTX-2"
LTX23_REPO = "Lightricks/LTX-2.3"
LTX23_FP8_REPO = "Lightricks/LTX-2.3-fp8"
LTX25_REPO = "Lightricks/LTX-2.5"
LTX25_DIFFUSERS_REPO = "Lightricks/LTX-2.5-Diffusers"
GEMMA3_REPO = "google/gemma-3-12b-it-qat-q4_0-unquantized"
GIB = 1 << 30
LTX2_LICENCE = (
    "LTX-2 Community License Agreement (Lightricks): free for research and for commercial use by entities "
    "under the licence's revenue threshold; read it at huggingface.co/Lightricks/LTX-2 before use."
)
LTX25_LICENCE = LTX2_LICENCE.replace(
    "LTX-2 before use.",
    "LTX-2.5 before use; that repository is gated: accept its terms there and log in (`hf auth login` or HF_TOKEN).",
)
GEMMA_LICENCE = (
    "Gemma Terms of Use (Google). The Gemma repositories are gated: accept the terms on the model page and "
    "log in (`hf auth login` or HF_TOKEN) before downloading."
)
GEMMA3_APPROX_BYTES = int(24.4 * GB)
GEMMA3_FILES = tuple(
    HubFile(GEMMA3_REPO, name, 0, lists_shards=name.endswith(".index.json"))
    for name in (
        "config.json",
        "model.safetensors.index.json",
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
        "special_tokens_map.json",
    )
)


def _ltx2(
    model_id: str, label: str, checkpoint: HubFile, upsampler: HubFile, version: str, variant: str, **parts
) -> CatalogEntry:
    licence = LTX25_LICENCE if version == "2.5" else LTX2_LICENCE
    return CatalogEntry(
        model_id,
        label,
        checkpoint,
        upsampler,
        None,
        licence=licence,
        text_encoder=parts.pop("text_encoder", GEMMA3_FILES),
        family="ltx2",
        version=version,
        variant=variant,
        text_encoder_bytes=parts.pop("text_encoder_bytes", GEMMA3_APPROX_BYTES),
        text_encoder_licence=GEMMA_LICENCE,
        **parts,
    )


_LTX2_UPSCALER = HubFile(LTX2_REPO, "ltx-2-spatial-upscaler-x2-1.0.safetensors", int(1.0 * GB))
_LTX2_TEMPORAL = HubFile(LTX2_REPO, "ltx-2-temporal-upscaler-x2-1.0.safetensors", int(0.26 * GB))
_LTX23_UPSCALER = HubFile(LTX23_REPO, "ltx-2.3-spatial-upscaler-x2-1.1.safetensors", 995_743_560)
_LTX23_TEMPORAL = HubFile(LTX23_REPO, "ltx-2.3-temporal-upscaler-x2-1.0.safetensors", int(0.26 * GB))
_LTX25_UPSCALER = HubFile(
    LTX25_REPO, "latent_upscale_models/ltx-2.5-latent-spatial-upscaler-x2-bf16-1.0.safetensors", int(0.93 * GIB)
)
_LTX25_SPLIT = dict(
    video_vae=HubFile(LTX25_REPO, "vae/ltx-2.5-video-vae-bf16.safetensors", int(1.37 * GIB)),
    audio_vae=HubFile(LTX25_REPO, "vae/ltx-2.5-audio-vae-bf16.safetensors", int(0.34 * GIB)),
    text_encoder=(
        HubFile(LTX25_REPO, "text_encoders/gemma4-12b-with-proj-ltx-2.5-bf16.safetensors", int(24.46 * GIB)),
    ),
    tokenizer=tuple(
        HubFile(LTX25_DIFFUSERS_REPO, f"tokenizer/{name}") for name in ("tokenizer.json", "tokenizer_config.json")
    ),
    text_encoder_bytes=0,
)

LTX2_ENTRIES = (
    _ltx2(
        "ltx-2-19b-distilled",
        "LTX-2 19B distilled (video with sound)",
        HubFile(LTX2_REPO, "ltx-2-19b-distilled.safetensors", int(43.3 * GB)),
        _LTX2_UPSCALER,
        "2",
        "distilled",
        fp8_checkpoint=HubFile(LTX2_REPO, "ltx-2-19b-distilled-fp8.safetensors", int(27.0 * GB)),
        temporal_upsampler=_LTX2_TEMPORAL,
    ),
    _ltx2(
        "ltx-2-19b-dev",
        "LTX-2 19B dev (video with sound, guided)",
        HubFile(LTX2_REPO, "ltx-2-19b-dev.safetensors", int(43.3 * GB)),
        _LTX2_UPSCALER,
        "2",
        "dev",
        fp8_checkpoint=HubFile(LTX2_REPO, "ltx-2-19b-dev-fp8.safetensors", int(27.0 * GB)),
        temporal_upsampler=_LTX2_TEMPORAL,
        distilled_lora=HubFile(LTX2_REPO, "ltx-2-19b-distilled-lora-384.safetensors", int(7.7 * GB)),
    ),
    _ltx2(
        "ltx-2.3-22b-distilled",
        "LTX-2.3 22B distilled 1.1 (video with sound)",
        HubFile(LTX23_REPO, "ltx-2.3-22b-distilled-1.1.safetensors", 46_149_345_334),
        _LTX23_UPSCALER,
        "2.3",
        "distilled",
        temporal_upsampler=_LTX23_TEMPORAL,
    ),
    _ltx2(
        "ltx-2.3-22b-dev",
        "LTX-2.3 22B dev (video with sound, guided)",
        HubFile(LTX23_REPO, "ltx-2.3-22b-dev.safetensors", int(46.1 * GB)),
        _LTX23_UPSCALER,
        "2.3",
        "dev",
        fp8_checkpoint=HubFile(LTX23_FP8_REPO, "ltx-2.3-22b-dev-fp8.safetensors", 29_145_431_166),
        temporal_upsampler=_LTX23_TEMPORAL,
        distilled_lora=HubFile(LTX23_REPO, "ltx-2.3-22b-distilled-lora-384.safetensors", int(7.6 * GB)),
    ),
    _ltx2(
        "ltx-2.5-22b-distilled",
        "LTX-2.5 22B distilled (video with sound)",
        HubFile(LTX25_REPO, "diffusion_models/ltx-2.5-22b-distilled-transformer-bf16.safetensors", int(39.13 * GIB)),
        _LTX25_UPSCALER,
        "2.5",
        "distilled",
        **_LTX25_SPLIT,
    ),
    _ltx2(
        "ltx-2.5-22b-dev",
        "LTX-2.5 22B dev (video with sound, guided)",
        HubFile(LTX25_REPO, "diffusion_models/ltx-2.5-22b-dev-transformer-bf16.safetensors", int(39.13 * GIB)),
        _LTX25_UPSCALER,
        "2.5",
        "dev",
        **_LTX25_SPLIT,
    ),
)
CATALOG: dict[str, CatalogEntry] = {entry.model_id: entry for entry in (*LTXV_ENTRIES, *LTX2_ENTRIES)}
FAMILY_OF: dict[str, str] = {model_id: entry.family for model_id, entry in CATALOG.items()}


def cached_path(hub_file: HubFile) -> Path | None:
    """The file's path in the Hugging Face cache, or None when it is not fully downloaded."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(hub_file.repo_id, hub_file.filename, cache_dir=hf_cache_dir())
    return Path(found) if isinstance(found, str) else None


def shard_files(index: HubFile) -> tuple[HubFile, ...]:
    """The shards a downloaded shard index names (none while the index itself is not downloaded)."""
    path = cached_path(index)
    if path is None:
        return ()
    try:
        names = sorted(set(json.loads(path.read_text())["weight_map"].values()))
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    folder = index.filename.rpartition("/")[0]
    return tuple(HubFile(index.repo_id, f"{folder}/{name}" if folder else name) for name in names)


def expanded(files: tuple[HubFile, ...]) -> tuple[HubFile, ...]:
    """`files` with the shards of every downloaded shard index after it."""
    out: list[HubFile] = []
    for hub_file in files:
        out.append(hub_file)
        if hub_file.lists_shards:
            out.extend(shard_files(hub_file))
    return tuple(out)


def installed_checkpoint(entry: CatalogEntry) -> HubFile | None:
    """The checkpoint on this machine: the bf16 file when it is there, else the FP8 one, else None."""
    for choice in (entry.checkpoint, entry.fp8_checkpoint):
        if choice is not None and cached_path(choice) is not None:
            return choice
    return None


def is_installed(entry: CatalogEntry) -> bool:
    """Every part and one of the checkpoints fully downloaded (a shard index with all its shards)."""
    if installed_checkpoint(entry) is None:
        return False
    parts = expanded(entry.parts)
    indexes_complete = all(not f.lists_shards or shard_files(f) for f in parts)
    return indexes_complete and all(cached_path(f) is not None for f in parts)
