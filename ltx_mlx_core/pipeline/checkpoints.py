"""Stage checkpoints: the latents after each stage, saved beside the job.

A second pass that fails or is cancelled can then resume without redoing the
first. Every file is written atomically (temporary name + rename), so a
checkpoint either exists whole or not at all. `manifest.json` holds the hash
of everything that determines the latents; a job folder written for another
request is never reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.pipeline.request import GenerationRequest

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
# Request fields that do not change the latents: where files go, how weights sit in memory.
_FIELDS_NOT_AFFECTING_LATENTS = ("job_dir", "residency", "seeds")


def request_hash(request: GenerationRequest, pipeline_config: dict[str, Any] | None = None) -> str:
    """Stable hash of everything that determines a seed's latents (request + resolved config)."""
    data = request.to_dict()
    for name in _FIELDS_NOT_AFFECTING_LATENTS:
        data.pop(name, None)
    if data.get("step_cache") == "off":
        data.pop("step_cache")  # so checkpoints from before the step cache existed still resume
    # In-memory conditioning frames are hashed by content, not just by shape.
    data["conditioning_pixels"] = [
        hashlib.sha256(item.frames.tobytes()).hexdigest() if item.frames is not None else None
        for item in request.conditioning
    ]
    data["resolved_config"] = pipeline_config
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _atomic_write_bytes(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class StageCheckpoints:
    """Per-seed latents after each completed stage, in `job_dir`.

    Files: `seed{N}_{stage}.safetensors` and `manifest.json` with the request
    hash and, per seed, the stages completed in order.
    """

    def __init__(self, job_dir: str | Path, request_digest: str):
        self.job_dir = Path(job_dir)
        self.request_digest = request_digest
        self._manifest = self._read_manifest()

    def _manifest_path(self) -> Path:
        return self.job_dir / MANIFEST_NAME

    def _read_manifest(self) -> dict[str, Any]:
        fresh = {"request_hash": self.request_digest, "completed": {}}
        path = self._manifest_path()
        if not path.is_file():
            return fresh
        try:
            manifest = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            log.warning("Ignoring unreadable stage manifest %s", path)
            return fresh
        if manifest.get("request_hash") != self.request_digest:
            log.info("Job folder %s holds checkpoints of another request; starting afresh", self.job_dir)
            return fresh
        return manifest

    def _write_manifest(self) -> None:
        text = json.dumps(self._manifest, indent=2, sort_keys=True)
        _atomic_write_bytes(self._manifest_path(), lambda tmp: tmp.write_text(text))

    def latents_path(self, seed: int, stage: str) -> Path:
        return self.job_dir / f"seed{seed}_{stage}.safetensors"

    def completed_stages(self, seed: int) -> list[str]:
        return list(self._manifest["completed"].get(str(seed), []))

    def has(self, seed: int, stage: str) -> bool:
        return stage in self.completed_stages(seed) and self.latents_path(seed, stage).is_file()

    def save(self, seed: int, stage: str, latents: mx.array, extra: dict[str, mx.array] | None = None) -> None:
        """Write the stage's (evaluated) latents (and `extra` arrays, e.g. the LTX-2 audio latents), then
        record the stage as completed."""
        path = self.latents_path(seed, stage)
        _atomic_write_bytes(
            path,
            lambda tmp: mx.save_safetensors(
                str(tmp),
                {**(extra or {}), "latents": latents},
                metadata={"request_hash": self.request_digest, "stage": stage, "seed": str(seed)},
            ),
        )
        done = self._manifest["completed"].setdefault(str(seed), [])
        if stage not in done:
            done.append(stage)
        self._write_manifest()
        log.debug("Saved %s latents of seed %d to %s", stage, seed, path)

    def load(self, seed: int, stage: str) -> mx.array:
        return self.load_arrays(seed, stage)["latents"]

    def load_arrays(self, seed: int, stage: str) -> dict[str, mx.array]:
        """Every array saved for the stage: 'latents' and any extra ones."""
        path = self.latents_path(seed, stage)
        try:
            arrays = mx.load(str(path))
            if "latents" not in arrays:
                raise KeyError("latents")
            return arrays
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise CheckpointError(f"The stage checkpoint {path} cannot be read ({error}).") from error

    def last_completed(self, seed: int, stage_order: list[str]) -> str | None:
        """The latest stage in `stage_order` whose checkpoint exists for `seed`, or None."""
        last = None
        for stage in stage_order:
            if not self.has(seed, stage):
                break
            last = stage
        return last
