"""The models ltx-mlx supports: hub repos, files, approximate sizes, licences.

Weights live in the standard Hugging Face cache (shared with other tools that
use it); `cached_path` finds them there without touching the network.
Sizes are approximate (the hub's own metadata is checked on download).
"""
from __future__ import annotations

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


@dataclass(frozen=True)
class CatalogEntry:
    model_id: str
    label: str
    checkpoint: HubFile
    upsampler: HubFile
    pipeline_config: str
    licence: str = LTXV_LICENCE
    text_encoder: tuple[HubFile, ...] = field(
        default_factory=lambda: tuple(HubFile(T5_REPO, name, 0) for name in T5_FILES)
    )

    @property
    def files(self) -> tuple[HubFile, ...]:
        return (self.checkpoint, self.upsampler, *self.text_encoder)

    @property
    def approx_bytes(self) -> int:
        return sum(f.approx_bytes for f in self.files) + T5_APPROX_BYTES


T5_APPROX_BYTES = int(19.0 * GB)
UPSCALER = HubFile(LTXV_REPO, "ltxv-spatial-upscaler-0.9.8.safetensors", int(0.5 * GB))

CATALOG: dict[str, CatalogEntry] = {
    entry.model_id: entry
    for entry in (
        CatalogEntry(
            "ltxv-2b-0.9.8-distilled", "LTX-Video 2B 0.9.8 distilled (bf16)",
            HubFile(LTXV_REPO, "ltxv-2b-0.9.8-distilled.safetensors", int(6.3 * GB)), UPSCALER,
            "ltxv-2b-0.9.8-distilled.yaml",
        ),
        CatalogEntry(
            "ltxv-2b-0.9.8-distilled-fp8", "LTX-Video 2B 0.9.8 distilled (FP8, dequantised on load)",
            HubFile(LTXV_REPO, "ltxv-2b-0.9.8-distilled-fp8.safetensors", int(4.5 * GB)), UPSCALER,
            "ltxv-2b-0.9.8-distilled-fp8.yaml",
        ),
        CatalogEntry(
            "ltxv-13b-0.9.8-distilled", "LTX-Video 13B 0.9.8 distilled (bf16)",
            HubFile(LTXV_REPO, "ltxv-13b-0.9.8-distilled.safetensors", int(28.6 * GB)), UPSCALER,
            "ltxv-13b-0.9.8-distilled.yaml",
        ),
        CatalogEntry(
            "ltxv-13b-0.9.8-distilled-fp8", "LTX-Video 13B 0.9.8 distilled (FP8, dequantised on load)",
            HubFile(LTXV_REPO, "ltxv-13b-0.9.8-distilled-fp8.safetensors", int(15.7 * GB)), UPSCALER,
            "ltxv-13b-0.9.8-distilled-fp8.yaml",
        ),
    )
}


def cached_path(hub_file: HubFile) -> Path | None:
    """The file's path in the Hugging Face cache, or None when it is not fully downloaded."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(hub_file.repo_id, hub_file.filename, cache_dir=hf_cache_dir())
    return Path(found) if isinstance(found, str) else None


def is_installed(entry: CatalogEntry) -> bool:
    return all(cached_path(f) is not None for f in entry.files)
