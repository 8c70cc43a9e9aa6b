"""Past generations, found from the JSON sidecars beside the videos in the output folder.

The sidecar (written by the core's `write_result`) holds the full request, so
a history entry can be reopened (played) or re-run exactly. No separate
database: moving or deleting videos in the file manager is reflected at once.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.results import is_own_sidecar, sidecar_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryEntry:
    video: Path
    sidecar: Path
    data: dict[str, Any]
    created: float

    @property
    def request(self) -> GenerationRequest:
        return GenerationRequest.from_dict(self.data["request"])

    @property
    def title(self) -> str:
        prompt = self.data["request"].get("prompt", "").strip() or "(no prompt)"
        return prompt if len(prompt) <= 60 else prompt[:57] + "…"

    @property
    def subtitle(self) -> str:
        req = self.data["request"]
        when = datetime.fromtimestamp(self.created).strftime("%Y-%m-%d %H:%M")
        return (
            f"{when} · {req.get('model')} · {req.get('width')}×{req.get('height')} · "
            f"{self.data.get('frames', req.get('num_frames'))} frames · seed {self.data.get('seed')}"
        )


def output_name(prompt: str, when: float | None = None) -> str:
    """ "20261124-031500-a-red-fox.mp4": sortable, unique per second, readable."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40] or "video"
    return f"{stamp}-{slug}.mp4"


def unique_output_path(folder: Path, prompt: str) -> Path:
    """A new file name in `folder` (a -2, -3… suffix when two generations start in one second, or when a
    file of the user's has the name the video's sidecar would take)."""
    path = Path(folder) / output_name(prompt)
    number = 2
    while path.exists() or sidecar_path(path).exists():
        path = path.with_name(f"{Path(output_name(prompt)).stem}-{number}.mp4")
        number += 1
    return path


def read_entry(sidecar: Path) -> HistoryEntry | None:
    """The entry a sidecar describes; None for any other JSON file (or a sidecar whose video is gone)."""
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    if not is_own_sidecar(data):
        return None  # some other JSON file
    name, prompt = data["video"], data["request"].get("prompt", "")
    if not name or Path(name).name != name or not isinstance(prompt, str):
        return None  # looks like a sidecar, but not one we could have written
    video = sidecar.with_name(name)
    if not video.is_file():
        return None
    return HistoryEntry(video, sidecar, data, video.stat().st_mtime)


def scan_history(output_dir: Path, limit: int = 200) -> list[HistoryEntry]:
    """Newest first. A file that cannot be read as an entry is skipped, never fatal to the whole list."""
    if not Path(output_dir).is_dir():
        return []
    entries = []
    for path in Path(output_dir).glob("*.json"):
        try:
            entry = read_entry(path)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            log.info("Not listing %s in the history: %s", path.name, error)
            continue
        if entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: e.created, reverse=True)
    return entries[:limit]
