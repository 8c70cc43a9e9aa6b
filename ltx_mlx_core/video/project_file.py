"""Reading a timeline project's JSON (`Name.ltxproj/project.json`) into stitch segments.

The desktop app's `Project` document writes this schema; the CLI (`ltx-mlx stitch`)
and the app both read it through `read_project` (checked by project_schema) and turn
it into segments here, so the two open the same files and export the same film.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.project_schema import validate_project
from ltx_mlx_core.video.stitch import Segment

PROJECT_FILE = "project.json"


def resolve_media(root: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else Path(root) / candidate


def segments_from_project(data: dict[str, Any], root: Path) -> list[Segment]:
    """One segment per clip of a checked project (`validate_project`): its active take, trims, overlap
    to drop, crossfade from the previous clip, and its sound's gain and mute (absent from files saved
    before clips had sound: 0 dB, not muted)."""
    segments = []
    for index, clip in enumerate(data["clips"]):
        take = clip["takes"][clip["active"]]
        crossfade = clip["transition_frames"] if clip["transition"] == "crossfade" and index else 0
        segments.append(
            Segment(
                str(resolve_media(root, take["path"])),
                clip["trim_in"],
                clip["trim_out"],
                clip["overlap_in"],
                crossfade,
                float(clip.get("gain_db", 0.0)),
                bool(clip.get("muted", False)),
            )
        )
    return segments


def read_project(path: str | Path) -> tuple[dict[str, Any], Path]:
    """(checked project dict, project folder) from a project folder or its project.json."""
    path = Path(path)
    folder = path.parent if path.is_file() or path.name == PROJECT_FILE else path
    file = folder / PROJECT_FILE
    try:
        text = file.read_bytes().decode("utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise InvalidRequest(f"'{path}' is not an ltx-mlx project (no {PROJECT_FILE}).") from None
    except UnicodeDecodeError:
        raise InvalidRequest(f"'{file}' is not a project file: it is not text.") from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"'{file}' is damaged: {error}.") from None
    except OSError as error:
        raise InvalidRequest(f"'{file}' cannot be read: {error.strerror or error}.") from None
    return validate_project(data, f"'{file}'"), folder
