"""Reading a timeline project's JSON (`Name.ltxproj/project.json`) into stitch segments.

The desktop app's `Project` document writes this schema; the CLI (`ltx-mlx stitch`)
and the app both turn it into segments here, so the two export the same film.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.stitch import Segment

PROJECT_FILE = "project.json"


def resolve_media(root: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else Path(root) / candidate


def segments_from_project(data: dict[str, Any], root: Path) -> list[Segment]:
    """One segment per clip: its active take, trims, overlap to drop, crossfade from the previous clip,
    and its sound's gain and mute (absent from files saved before clips had sound: 0 dB, not muted)."""
    segments = []
    for index, clip in enumerate(data.get("clips", [])):
        take = clip["takes"][clip.get("active", 0)]
        crossfade = clip.get("transition_frames", 0) if clip.get("transition") == "crossfade" and index else 0
        segments.append(Segment(
            str(resolve_media(root, take["path"])), clip.get("trim_in", 0), clip.get("trim_out"),
            clip.get("overlap_in", 0), crossfade, float(clip.get("gain_db", 0.0)), bool(clip.get("muted", False)),
        ))
    return segments


def read_project(path: str | Path) -> tuple[dict[str, Any], Path]:
    """(project dict, project folder) from a project folder or its project.json."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    file = folder / PROJECT_FILE
    try:
        return json.loads(file.read_text()), folder
    except FileNotFoundError:
        raise InvalidRequest(f"'{path}' is not an ltx-mlx project (no {PROJECT_FILE}).") from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"'{file}' is damaged: {error}") from None
