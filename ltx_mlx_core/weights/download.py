"""Downloading catalog models into the Hugging Face cache, with progress, cancel, resume, verification.

Files land in the standard Hugging Face cache layout (blobs/<etag>, snapshots/<commit>/<name>,
refs/main), so other tools find them and `try_to_load_from_cache` sees them. huggingface_hub's
`http_get` does the transfer (Range requests, retries on a dropped connection); unlike
`hf_hub_download`, whose partial files die with the call, the bytes go to a partial file of our
own beside the blob, so a cancelled, crashed or failed download resumes from where it stopped.
A file enters the cache only whole: its size and (for LFS files) its sha256 against the hub's
ETag are checked first, and a file that fails is deleted, so a corrupt file is never used.

This needs huggingface_hub >= 1.20: `http_get` takes our progress class (`tqdm_class`) since
1.1 and retries a body the server cut short (RemoteProtocolError) since 1.20.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ltx_mlx_core.errors import DownloadError, LtxMlxError
from ltx_mlx_core.paths import hf_cache_dir, hf_endpoint, hf_offline
from ltx_mlx_core.weights.catalog import (
    CATALOG,
    CatalogEntry,
    HubFile,
    cached_path,
    expanded,
    installed_checkpoint,
)

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".ltx-mlx.partial"
REVISION = "main"


class DownloadCancelled(LtxMlxError):
    """The user cancelled; finished files stay cached and the current one resumes next time."""


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


def _is_sha256(etag: str) -> bool:
    return len(etag) == 64 and all(c in "0123456789abcdef" for c in etag)


def _progress_class(report: Callable[[int, int], None], cancel: threading.Event | None):
    from tqdm.auto import tqdm

    class Progress(tqdm):  # type: ignore[misc]
        """huggingface_hub drives this bar before writing each chunk; we forward counts and stop on cancel."""

        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = int(kwargs.get("initial") or 0)
            self._total = int(kwargs.get("total") or 0)

        def update(self, n=1):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("Download cancelled; finished files are kept and this one resumes next time.")
            self._done += int(n or 0)
            report(self._done, self._total)
            return super().update(n)

    return Progress


def _link_into_snapshot(storage: Path, commit: str, filename: str, blob: Path) -> Path:
    snapshot = storage / "snapshots" / commit / filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if snapshot.is_symlink() or snapshot.exists():
        snapshot.unlink()
    try:
        snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    except OSError:  # file systems without symlinks: a hard link keeps one copy on disk
        os.link(blob, snapshot)
    refs = storage / "refs" / REVISION
    refs.parent.mkdir(parents=True, exist_ok=True)
    refs.write_text(commit)
    return snapshot


def _transfer(url: str, partial: Path, size: int | None, report, cancel, name: str) -> None:
    """Append the missing bytes to `partial` (Range request from its current length)."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    done = partial.stat().st_size if partial.exists() else 0
    if size is not None and done > size:
        partial.unlink()
        done = 0
    if done:
        logger.info("resuming %s from byte %d", name, done)
    with open(partial, "r+b" if done else "wb") as handle:
        handle.seek(done)
        http_get(
            url,
            handle,
            resume_size=done,
            headers=build_hf_headers(),
            expected_size=size,
            displayed_filename=name,
            tqdm_class=_progress_class(report, cancel),
        )


def _verify(partial: Path, hub_file: HubFile, etag: str, size: int | None) -> None:
    problem = None
    if size is not None and partial.stat().st_size != size:
        problem = f"is truncated ({partial.stat().st_size} of {size} bytes)"
    elif _is_sha256(etag):
        actual = _sha256(partial)
        if actual != etag:
            problem = f"is corrupt (sha256 {actual[:12]}… instead of {etag[:12]}…)"
    if problem:
        partial.unlink()
        raise DownloadError(
            f"{hub_file.filename} from {hub_file.repo_id} {problem}; it was deleted, download it again."
        )


def download_file(
    hub_file: HubFile, progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None
) -> Path:
    """The file's path in the HF cache, downloading (or resuming) it when it is not there yet."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    from huggingface_hub.file_download import repo_folder_name
    from huggingface_hub.utils import WeakFileLock

    existing = cached_path(hub_file)
    if existing is not None:
        return existing
    if hf_offline():
        raise DownloadError("Downloads are off (HF_HUB_OFFLINE is set); unset it to download models.")
    report = progress or (lambda done, total: None)
    url = hf_hub_url(hub_file.repo_id, hub_file.filename, revision=REVISION, endpoint=hf_endpoint())
    try:
        metadata = get_hf_file_metadata(url)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as error:
        raise DownloadError(f"Could not download {hub_file.filename} from {hub_file.repo_id}: {error}") from None
    etag = (metadata.etag or "").strip('"')
    if not etag or not metadata.commit_hash:
        raise DownloadError(f"The hub did not identify {hub_file.filename} (no ETag or commit); try again later.")
    storage = hf_cache_dir() / repo_folder_name(repo_id=hub_file.repo_id, repo_type="model")
    blob = storage / "blobs" / etag
    partial = blob.with_name(etag + PARTIAL_SUFFIX)
    blob.parent.mkdir(parents=True, exist_ok=True)
    lock = hf_cache_dir() / ".locks" / storage.name / f"{etag}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(lock):  # another process downloading the same blob waits instead of interleaving
        if not blob.exists():
            try:
                _transfer(url, partial, metadata.size, report, cancel, hub_file.filename)
            except DownloadCancelled:
                raise
            except (HfHubHTTPError, OSError, ValueError) as error:
                if "Consistency check failed" in str(error):
                    partial.unlink(missing_ok=True)  # the server sent a short file: nothing to resume from
                    raise DownloadError(
                        f"{hub_file.filename} from {hub_file.repo_id} arrived truncated (fewer bytes than the hub "
                        "lists); nothing was kept, download it again."
                    ) from None
                raise DownloadError(
                    f"Could not download {hub_file.filename} from {hub_file.repo_id}: {error}. "
                    "Run the download again to resume it."
                ) from None
            _verify(partial, hub_file, etag, metadata.size)
            os.replace(partial, blob)
        return _link_into_snapshot(storage, metadata.commit_hash, hub_file.filename, blob)


def _remove_cached(snapshot_path: Path) -> None:
    blob = snapshot_path.resolve()
    for path in (snapshot_path, blob):
        if path.exists() or path.is_symlink():
            path.unlink()


def download_model(
    model_id: str,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    quantized: bool = False,
) -> CatalogEntry:
    """Every file of a catalog model into the HF cache; `quantized` takes the FP8 checkpoint where there is one.

    Shard indexes come first (they are small), so the shards they name join the one progress stream.
    """
    if model_id not in CATALOG:
        raise DownloadError(f"'{model_id}' is not in the catalog; known models: {', '.join(CATALOG)}.")
    entry = CATALOG[model_id]
    chosen = entry.files_for(quantized)
    for hub_file in chosen:
        if hub_file.lists_shards and cached_path(hub_file) is None:
            download_file(hub_file, None, cancel)
    files = expanded(chosen)
    for index, hub_file in enumerate(files, start=1):
        if cached_path(hub_file) is not None:
            logger.info("%s already downloaded", hub_file.filename)
            continue

        def forward(done: int, total: int, name=hub_file.filename, index=index) -> None:
            if progress is not None:
                progress(DownloadProgress(name, index, len(files), done, total))

        download_file(hub_file, forward, cancel)
    return entry


def verify_model(model_id: str, progress: ProgressCallback | None = None) -> list[str]:
    """Re-check a downloaded model's files against their sha256 (the blob names of LFS files).

    Returns one sentence per missing or damaged file; a damaged file is deleted so that
    `download_model` fetches it again.
    """
    entry = CATALOG[model_id]
    checkpoint = installed_checkpoint(entry) or entry.checkpoint
    files = expanded((checkpoint, *entry.parts))
    problems = []
    for index, hub_file in enumerate(files, start=1):
        path = cached_path(hub_file)
        if path is None:
            problems.append(f"{hub_file.filename} is not downloaded.")
            continue
        blob = path.resolve()
        if progress is not None:
            size = blob.stat().st_size
            progress(DownloadProgress(hub_file.filename, index, len(files), size, size))
        if _is_sha256(blob.name) and _sha256(blob) != blob.name:
            _remove_cached(path)
            problems.append(f"{hub_file.filename} was damaged on disk and has been deleted; download the model again.")
    return problems


def remove_model(model_id: str) -> int:
    """Delete a catalog model's own checkpoints (bf16 and FP8) from the HF cache; bytes freed.

    Upsamplers, text encoders and split component files are shared with the family's other models and stay.
    """
    entry = CATALOG[model_id]
    freed = 0
    for hub_file in (entry.checkpoint, entry.fp8_checkpoint):
        path = cached_path(hub_file) if hub_file is not None else None
        if path is not None:
            freed += path.resolve().stat().st_size
            _remove_cached(path)
    return freed
