"""Model downloads against a real local HTTP server that serves the hub's file API (HF_ENDPOINT)."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from ltx_mlx_core.errors import DownloadError
from ltx_mlx_core.paths import hf_cache_dir
from ltx_mlx_core.weights import catalog
from ltx_mlx_core.weights.catalog import CatalogEntry, HubFile, cached_path
from ltx_mlx_core.weights.download import DownloadCancelled, download_file, download_model
from tests.core.hub_server import HubFiles, serve

REPO = "Lightricks/LTX-Video"
NAME = "ltxv-test.safetensors"
PAYLOAD = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub.constants as constants

    files = HubFiles(files={f"{REPO}/{NAME}": PAYLOAD})
    server, url = serve(files)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # Small chunks so a partial transfer leaves whole chunks on disk to resume from.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 256 * 1024)
    yield files
    server.shutdown()


def test_download_reports_progress_and_lands_in_the_hf_cache(hub):
    seen = []
    path = download_file(HubFile(REPO, NAME), progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == PAYLOAD
    assert cached_path(HubFile(REPO, NAME)) == path
    assert seen and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_interrupted_transfer_resumes_with_a_range_request(hub):
    hub.drop_after[f"{REPO}/{NAME}"] = 1_000_000
    path = download_file(HubFile(REPO, NAME))
    assert path.read_bytes() == PAYLOAD
    ranges = [r for method, _, r in hub.requests if method == "GET" and r]
    # The retry asks only for what is missing: from the last whole 256 KiB chunk written.
    assert ranges == [f"bytes={3 * 256 * 1024}-"]


def test_cancelled_download_is_never_used_and_resumes_where_it_stopped(hub):
    cancel = threading.Event()

    def cancel_after_two_chunks(done, total):
        if done >= 2 * 256 * 1024:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_file(HubFile(REPO, NAME), progress=cancel_after_two_chunks, cancel=cancel)
    assert cached_path(HubFile(REPO, NAME)) is None  # the partial bytes are not a cached file
    blobs = catalog_cache_root() / "models--Lightricks--LTX-Video" / "blobs"
    (partial,) = blobs.iterdir()
    assert partial.name.endswith(".partial") and partial.stat().st_size == 2 * 256 * 1024
    hub.requests.clear()
    seen = []
    path = download_file(HubFile(REPO, NAME), progress=lambda done, total: seen.append(done))
    assert path.read_bytes() == PAYLOAD
    # The second run asked only for the missing bytes, and its progress started from what was there.
    assert [r for method, _, r in hub.requests if method == "GET"] == [f"bytes={2 * 256 * 1024}-"]
    assert seen[0] > 2 * 256 * 1024 and seen[-1] == len(PAYLOAD)
    assert sorted(p.name for p in blobs.iterdir()) == [hashlib.sha256(PAYLOAD).hexdigest()]


def test_corrupt_partial_from_an_earlier_run_is_caught_by_the_checksum(hub):
    """Bytes on disk that do not match the hub (say, a disk error) fail verification and are deleted."""
    blobs = catalog_cache_root() / "models--Lightricks--LTX-Video" / "blobs"
    blobs.mkdir(parents=True)
    etag = hashlib.sha256(PAYLOAD).hexdigest()
    (blobs / f"{etag}.ltx-mlx.partial").write_bytes(b"\0" * 1000)
    with pytest.raises(DownloadError, match="is corrupt"):
        download_file(HubFile(REPO, NAME))
    assert list(blobs.iterdir()) == [] and cached_path(HubFile(REPO, NAME)) is None
    assert download_file(HubFile(REPO, NAME)).read_bytes() == PAYLOAD


def test_corrupt_file_is_rejected_and_never_used(hub):
    hub.corrupt.add(f"{REPO}/{NAME}")
    with pytest.raises(DownloadError, match="corrupt"):
        download_file(HubFile(REPO, NAME))
    assert cached_path(HubFile(REPO, NAME)) is None


def test_missing_file_and_offline_mode_give_clear_errors(hub, monkeypatch):
    with pytest.raises(DownloadError, match="nothing.safetensors"):
        download_file(HubFile(REPO, "nothing.safetensors"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE"):
        download_file(HubFile(REPO, NAME))


def test_download_model_walks_every_file_with_one_progress_stream(hub, monkeypatch):
    second = "ltxv-upscaler-test.safetensors"
    hub.files[f"{REPO}/{second}"] = os.urandom(4096)
    entry = CatalogEntry("test-model", "Test", HubFile(REPO, NAME), HubFile(REPO, second), "tiny.yaml", text_encoder=())
    monkeypatch.setitem(catalog.CATALOG, "test-model", entry)
    events = []
    download_model("test-model", progress=events.append)
    assert {e.filename for e in events} == {NAME, second}
    assert events[-1].file_index == 2 and events[-1].file_count == 2
    assert catalog.is_installed(entry)


def catalog_cache_root():
    return hf_cache_dir()


def test_truncated_file_is_rejected_and_never_used(hub):
    hub.truncated[f"{REPO}/{NAME}"] = len(PAYLOAD) // 2
    with pytest.raises(DownloadError, match=f"{NAME} from {REPO} arrived truncated"):
        download_file(HubFile(REPO, NAME))
    assert cached_path(HubFile(REPO, NAME)) is None
    blobs = catalog_cache_root() / "models--Lightricks--LTX-Video" / "blobs"
    assert not blobs.exists() or [p for p in blobs.iterdir() if not p.name.endswith(".incomplete")] == []
