"""Downloading catalog models into the Hugging Face cache, with progress, cancel, resume, verification.

huggingface_hub does the transfer, so the files land where other tools find
them; a transfer interrupted by the network is resumed with a Range request
from the last chunk written. We add: one progress callback across all files,
cancellation between chunks (the partial file is discarded: a cancelled file
starts over, finished files stay), and a sha256 check of every LFS file against
the hub's ETag; a file that fails it is deleted, so a corrupt file is never used.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ltx_mlx_core.errors import DownloadError, LtxMlxError
from ltx_mlx_core.weights.catalog import CATALOG, CatalogEntry, HubFile, cached_path

logger = logging.getLogger(__name__)


class DownloadCancelled(LtxMlxError):
    """The user cancelled; finished files stay cached, the partial one is discarded."""


@dataclass(frozen=True)
class DownloadProgress:
    filename: str
    file_index: int  # 1-based
    file_count: int
    done_bytes: int
    total_bytes: int


ProgressCallback = Callable[[DownloadProgress], None]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _progress_class(report: Callable[[int, int], None], cancel: Optional[threading.Event]):
    from tqdm.auto import tqdm

    class Progress(tqdm):  # type: ignore[misc]
        """huggingface_hub drives this bar; we forward its counts and stop it on cancel."""

        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)
            self._total = int(kwargs.get("total") or 0)

        def update(self, n=1):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("Download cancelled; files already finished are kept.")
            self._done += int(n or 0)
            report(self._done, self._total)
            return super().update(n)

    return Progress


def download_file(hub_file: HubFile, progress: Optional[Callable[[int, int], None]] = None,
                  cancel: Optional[threading.Event] = None) -> Path:
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from ltx_mlx_core.paths import hf_cache_dir, hf_endpoint, hf_offline

    if hf_offline():
        raise DownloadError("Downloads are off (HF_HUB_OFFLINE is set); unset it to download models.")
    report = progress or (lambda done, total: None)
    endpoint = hf_endpoint()
    try:
        metadata = get_hf_file_metadata(hf_hub_url(hub_file.repo_id, hub_file.filename, endpoint=endpoint))
        local = Path(hf_hub_download(
            hub_file.repo_id, hub_file.filename, cache_dir=hf_cache_dir(), endpoint=endpoint,
            tqdm_class=_progress_class(report, cancel),
        ))
    except DownloadCancelled:
        raise
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as error:
        if "Consistency check failed" in str(error):
            # huggingface_hub compares the bytes written with the hub's size and keeps no blob.
            raise DownloadError(
                f"{hub_file.filename} from {hub_file.repo_id} arrived truncated (fewer bytes than the hub lists); "
                "nothing was kept, download it again."
            ) from None
        raise DownloadError(f"Could not download {hub_file.filename} from {hub_file.repo_id}: {error}") from None
    expected = (metadata.etag or "").strip('"')
    if len(expected) == 64 and all(c in "0123456789abcdef" for c in expected):
        actual = _sha256(local)
        if actual != expected:
            _remove_cached(local)
            raise DownloadError(
                f"{hub_file.filename} is corrupt (sha256 {actual[:12]}… instead of {expected[:12]}…); "
                "it was deleted, download it again."
            )
    if metadata.size is not None and local.stat().st_size != metadata.size:
        _remove_cached(local)
        raise DownloadError(f"{hub_file.filename} is truncated; it was deleted, download it again.")
    return local


def _remove_cached(snapshot_path: Path) -> None:
    blob = snapshot_path.resolve()
    for path in (snapshot_path, blob):
        if path.exists() or path.is_symlink():
            path.unlink()


def download_model(model_id: str, progress: Optional[ProgressCallback] = None,
                   cancel: Optional[threading.Event] = None) -> CatalogEntry:
    if model_id not in CATALOG:
        raise DownloadError(f"'{model_id}' is not in the catalog; known models: {', '.join(CATALOG)}.")
    entry = CATALOG[model_id]
    files = entry.files
    for index, hub_file in enumerate(files, start=1):
        if cached_path(hub_file) is not None:
            logger.info("%s already downloaded", hub_file.filename)
            continue

        def forward(done: int, total: int, name=hub_file.filename, index=index) -> None:
            if progress is not None:
                progress(DownloadProgress(name, index, len(files), done, total))

        download_file(hub_file, forward, cancel)
    return entry


def remove_model(model_id: str) -> int:
    """Delete a catalog model's own files from the HF cache (the shared T5 stays); bytes freed."""
    entry = CATALOG[model_id]
    freed = 0
    for hub_file in (entry.checkpoint,):
        path = cached_path(hub_file)
        if path is not None:
            freed += path.resolve().stat().st_size
            _remove_cached(path)
    return freed
