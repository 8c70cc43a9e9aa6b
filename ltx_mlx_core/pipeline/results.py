"""Writing a finished generation: one video per seed, each with a JSON sidecar of its request.

The sidecar (`OUT.json` beside `OUT.mp4`) holds the full request, so any video can
be reproduced, and the residency mode that was in effect (the request may say
"auto"). It carries a `format` key that marks it as ours: an existing sidecar we
wrote is replaced with its video, but a same-named JSON file of the user's is
never overwritten; `check_outputs` refuses such an output before any work starts.
The video and its sidecar are written through the one atomic writer: both are new
or both are old.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.events import VideoResult
from ltx_mlx_core.video.atomic import replacing
from ltx_mlx_core.video.io import write_video
from ltx_mlx_core.video.outputs import check_video_output

log = logging.getLogger(__name__)

SIDECAR_FORMAT = "ltx-mlx-sidecar/1"


def output_paths(output_path: Path, seeds: list[int]) -> list[Path]:
    """OUT.mp4 for one seed; OUT_seed{N}.mp4 for each of several."""
    output_path = Path(output_path)
    if len(seeds) == 1:
        return [output_path]
    return [output_path.with_name(f"{output_path.stem}_seed{seed}{output_path.suffix}") for seed in seeds]


def sidecar_path(video_path: Path) -> Path:
    return Path(video_path).with_suffix(".json")


def is_own_sidecar(data: Any) -> bool:
    """A sidecar ltx-mlx wrote: marked by its format, or (before the mark) a request beside a video name."""
    if not isinstance(data, dict):
        return False
    if str(data.get("format", "")).startswith("ltx-mlx-sidecar/"):
        return True
    return isinstance(data.get("request"), dict) and isinstance(data.get("video"), str) and "seed" in data


def _replaceable(sidecar: Path) -> bool:
    try:
        return is_own_sidecar(json.loads(sidecar.read_bytes()))
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False


def check_outputs(output_path: Path, seeds: list[int]) -> list[Path]:
    """Every video path a request will write, checked before any work: container, folder, sidecar."""
    paths = output_paths(check_video_output(output_path), seeds)
    for path in paths:
        check_video_output(path)
        sidecar = sidecar_path(path)
        if sidecar.is_dir() or not _replaceable(sidecar):
            raise InvalidRequest(
                f"'{sidecar}' exists and was not written by ltx-mlx; the video's settings are saved under "
                "that name, so move that file or choose another output name."
            )
    return paths


def sidecar_data(result: VideoResult, seed: int, video_path: Path) -> dict:
    request = result.request.to_dict()
    request["seeds"] = [seed]
    return {
        "format": SIDECAR_FORMAT,
        "video": video_path.name,
        "seed": seed,
        "fps": result.fps,
        "frames": int(result.videos[result.seeds.index(seed)].shape[0]),
        "request": request,
        "residency_in_effect": result.residency or None,
        "timings": result.timings,
        "peak_memory_bytes": result.peak_memory_bytes,
        "step_cache": result.step_cache.get(seed),
        "audio_rate": result.audio_rate if result.audio else None,
        "parallel": result.parallel or None,
    }


def write_result(result: VideoResult, output_path: Path, crf: int = 18) -> list[Path]:
    """Write one video (+ JSON sidecar of the request) per seed; returns the video paths.

    Raises `InvalidRequest` for an output `check_outputs` refuses and `OutputWriteError`
    when a file cannot be written; a seed's video and sidecar stay as they were then.
    """
    paths = check_outputs(Path(output_path), result.seeds)
    for index, (path, seed, frames) in enumerate(zip(paths, result.seeds, result.videos)):
        sound = result.audio[index] if index < len(result.audio) else None
        payload = json.dumps(sidecar_data(result, seed, path), indent=2, default=str).encode("utf-8")
        # The sidecar is written first (a full disk fails here, before the video is touched) and
        # renamed into place after the video, so the two change together.
        with replacing(sidecar_path(path)) as (sidecar_temp,):
            sidecar_temp.write_bytes(payload)
            if sound is None:
                write_video(path, frames, result.fps, crf=crf)
            else:
                write_video(path, frames, result.fps, crf=crf, audio=sound, audio_rate=result.audio_rate)
        log.info(
            "Wrote %s (%d frames, seed %d%s)", path, frames.shape[0], seed, ", with sound" if sound is not None else ""
        )
    return paths
