"""Project files damaged the ways people's files get damaged, shared by the CLI, core and app tests.

Each variant is the bytes of a `project.json` and the words its refusal must contain.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOOD: dict[str, Any] = {
    "version": 1,
    "name": "Film",
    "fps": 24.0,
    "width": 64,
    "height": 48,
    "model": None,
    "clips": [
        {
            "takes": [{"path": "media/a.mp4", "request": None, "label": "", "frames": 25, "created": 1.0}],
            "active": 0,
            "trim_in": 0,
            "trim_out": None,
            "overlap_in": 0,
            "transition": "cut",
            "transition_frames": 0,
            "id": "a",
        },
        {
            "takes": [{"path": "media/b.mp4", "request": None, "label": "", "frames": 25, "created": 2.0}],
            "active": 0,
            "trim_in": 0,
            "trim_out": None,
            "overlap_in": 0,
            "transition": "crossfade",
            "transition_frames": 4,
            "id": "b",
        },
    ],
}


def _edited(edit: Callable[[dict[str, Any]], Any]) -> bytes:
    data = copy.deepcopy(GOOD)
    replaced = edit(data)
    return json.dumps(data if replaced is None else replaced).encode()


def _set(clip: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["clips"][clip].__setitem__(key, value)


def _drop(clip: int, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["clips"][clip].__delitem__(key)


# name -> (project.json bytes, fragment of the one-line refusal)
VARIANTS: dict[str, tuple[bytes, str]] = {
    "active_take_out_of_range": (_edited(_set(0, "active", 3)), "clip 1: 'active' is take 4, but the clip has 1 take"),
    "missing_takes": (_edited(_drop(1, "takes")), "clip 2 has no 'takes'"),
    "empty_takes": (_edited(_set(0, "takes", [])), "clip 1 has no takes"),
    "list_at_the_root": (_edited(lambda d: [d]), "should be an object with named fields, but it is a list"),
    "string_trim": (
        _edited(_set(1, "trim_in", "3")),
        "clip 2: 'trim_in' should be a whole number of at least 0, but it is '3'",
    ),
    "string_fps": (_edited(lambda d: d.__setitem__("fps", "24")), "'fps' should be a number above 0, but it is '24'"),
    "binary_file": (bytes(range(256)) * 4, "is not a project file: it is not text"),
    "future_version": (_edited(lambda d: d.__setitem__("version", 99)), "saved by a newer ltx-mlx (format version 99"),
    "unknown_transition": (
        _edited(_set(1, "transition", "wipe")),
        "'transition' should be one of cut, crossfade, but it is 'wipe'",
    ),
    "negative_trim": (
        _edited(_set(0, "trim_in", -2)),
        "clip 1: 'trim_in' should be a whole number of at least 0, but it is -2",
    ),
}


def write_project(folder: Path, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "project.json").write_bytes(content)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes: compare before and after to prove nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
