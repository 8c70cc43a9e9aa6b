"""Generation pipeline: `generate(request)` streams events, `run(request)` drains them.

`write_result` turns a finished `VideoResult` into MP4 files, each with a JSON
sidecar holding the full request (so any video can be reproduced) and the residency
mode that was in effect (the request may say "auto").
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator

from ltx_mlx_core.errors import GenerationError
from ltx_mlx_core.pipeline.events import Event, Finished, VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.video.io import write_video

log = logging.getLogger(__name__)

__all__ = ["generate", "run", "write_result", "output_paths", "sidecar_path"]


def generate(request: GenerationRequest) -> Iterator[Event]:
    """Validate, resolve the model and stream the generation's events (ends with Finished)."""
    # Imported on first use: the app imports this package at launch (for the request types), and
    # the engine behind Pipeline (MLX, the models, weights) would delay the window by ~0.45 s
    # (measured on Linux CPU: `import desktop.main_window` 1.0-1.2 s, then the engine 0.42-0.49 s);
    # the worker thread imports it with the first generation instead.
    from ltx_mlx_core.pipeline.pipeline import Pipeline

    request.validate()
    return Pipeline.for_request(request).generate(request)


def run(request: GenerationRequest) -> VideoResult:
    """Generate to the end and return the result (no progress reporting)."""
    result = None
    for event in generate(request):
        if isinstance(event, Finished):
            result = event.result
    if result is None:
        raise GenerationError("The generation ended without a video.")
    return result


def output_paths(output_path: Path, seeds: list[int]) -> list[Path]:
    """OUT.mp4 for one seed; OUT_seed{N}.mp4 for each of several."""
    output_path = Path(output_path)
    if len(seeds) == 1:
        return [output_path]
    return [output_path.with_name(f"{output_path.stem}_seed{seed}{output_path.suffix}") for seed in seeds]


def sidecar_path(video_path: Path) -> Path:
    return Path(video_path).with_suffix(".json")


def _sidecar(result: VideoResult, seed: int, video_path: Path) -> dict:
    request = result.request.to_dict()
    request["seeds"] = [seed]
    return {
        "video": video_path.name,
        "seed": seed,
        "fps": result.fps,
        "frames": int(result.videos[result.seeds.index(seed)].shape[0]),
        "request": request,
        "residency_in_effect": result.residency or None,
        "timings": result.timings,
        "peak_memory_bytes": result.peak_memory_bytes,
    }


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, default=str)
    os.replace(tmp, path)


def write_result(result: VideoResult, output_path: Path, crf: int = 18) -> list[Path]:
    """Write one MP4 (+ JSON sidecar of the request) per seed; returns the MP4 paths."""
    paths = output_paths(Path(output_path), result.seeds)
    for path, seed, frames in zip(paths, result.seeds, result.videos):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, frames, result.fps, crf=crf)
        _write_json_atomic(sidecar_path(path), _sidecar(result, seed, path))
        log.info("Wrote %s (%d frames, seed %d)", path, frames.shape[0], seed)
    return paths
