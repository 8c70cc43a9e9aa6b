"""The timeline project file's schema, checked in one place for the app and the command line.

`validate_project` takes what `json.load` gave and returns the project as a plain
dict with every field present and of its type, or raises `InvalidRequest` naming
the first field that is wrong (the app shows it as is; the CLI exits 2 with it).
It checks what a file can get wrong on its own; whether trims fit the clips' real
lengths is known only from the media, and the stitcher checks that.
Keys it does not know are left out, so a file from a newer minor version opens.
"""

from __future__ import annotations

import math
from typing import Any

from ltx_mlx_core.errors import InvalidRequest

FORMAT_VERSION = 1
TRANSITIONS = ("cut", "crossfade")
_MISSING = object()


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


class _Fields:
    """Reads typed fields of one JSON object; every refusal says where it is."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise InvalidRequest(f"{where} should be an object with named fields, but it is {_kind(data)}.")
        self.data, self.where = data, where

    def _refuse(self, key: str, expected: str, value: Any) -> None:
        shown = f"'{value}'" if isinstance(value, str) else _kind(value) if isinstance(value, (dict, list)) else value
        raise InvalidRequest(f"{self.where}: '{key}' should be {expected}, but it is {shown}.")

    def whole(self, key: str, default: Any, minimum: int = 0) -> Any:
        value = self.data.get(key, default)
        if value is None and default is None:
            return None
        if not _whole(value) or value < minimum:
            self._refuse(key, f"a whole number of at least {minimum}", value)
        return value

    def number(self, key: str, default: float) -> float:
        value = self.data.get(key, default)
        if not _number(value) or value <= 0:
            self._refuse(key, "a number above 0", value)
        return float(value)

    def text(self, key: str, default: Any, optional: bool = False) -> Any:
        value = self.data.get(key, default)
        if not (isinstance(value, str) or (optional and value is None)):
            self._refuse(key, "text", value)
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.data.get(key, default)
        if value not in choices:
            self._refuse(key, f"one of {', '.join(choices)}", value)
        return value

    def items(self, key: str, default: Any) -> list[Any]:
        value = self.data.get(key, default)
        if value is _MISSING:
            raise InvalidRequest(f"{self.where} has no '{key}'.")
        if not isinstance(value, list):
            self._refuse(key, "a list", value)
        return value


def _take(data: Any, where: str) -> dict[str, Any]:
    fields = _Fields(data, where)
    if not data.get("path"):
        raise InvalidRequest(f"{where} has no video path.")
    path = fields.text("path", "")
    request = data.get("request")
    if request is not None and not isinstance(request, dict):
        fields._refuse("request", "an object or null", request)
    take = {"path": path, "request": request, "label": fields.text("label", ""), "frames": fields.whole("frames", 0)}
    if "created" in data:
        if not _number(data["created"]):
            fields._refuse("created", "a time in seconds", data["created"])
        take["created"] = float(data["created"])
    if data.get("has_audio") is not None:
        if not isinstance(data["has_audio"], bool):
            fields._refuse("has_audio", "true, false or null", data["has_audio"])
        take["has_audio"] = data["has_audio"]
    return take


def _clip(data: Any, where: str) -> dict[str, Any]:
    fields = _Fields(data, where)
    raw_takes = fields.items("takes", _MISSING)
    if not raw_takes:
        raise InvalidRequest(f"{where} has no takes (each clip needs at least one video).")
    takes = [_take(take, f"{where}, take {number}") for number, take in enumerate(raw_takes, 1)]
    active = fields.whole("active", 0)
    if active >= len(takes):
        raise InvalidRequest(f"{where}: 'active' is take {active + 1}, but the clip has {len(takes)} take(s).")
    trim_in = fields.whole("trim_in", 0)
    trim_out = fields.whole("trim_out", None, minimum=1)
    if trim_out is not None and trim_out <= trim_in:
        raise InvalidRequest(f"{where}: 'trim_out' ({trim_out}) must be after 'trim_in' ({trim_in}).")
    clip = {
        "takes": takes,
        "active": active,
        "trim_in": trim_in,
        "trim_out": trim_out,
        "overlap_in": fields.whole("overlap_in", 0),
        "transition": fields.choice("transition", "cut", TRANSITIONS),
        "transition_frames": fields.whole("transition_frames", 0),
    }
    if "id" in data:
        clip["id"] = fields.text("id", "")
    # Sound (files saved before clips had sound have neither: 0 dB, not muted).
    if "gain_db" in data:
        if not _number(data["gain_db"]):
            fields._refuse("gain_db", "a number of decibels", data["gain_db"])
        clip["gain_db"] = float(data["gain_db"])
    if "muted" in data:
        if not isinstance(data["muted"], bool):
            fields._refuse("muted", "true or false", data["muted"])
        clip["muted"] = data["muted"]
    return clip


def validate_project(data: Any, source: str = "the project") -> dict[str, Any]:
    """The project with every field checked and defaults filled in; InvalidRequest for the first bad one."""
    fields = _Fields(data, source)
    version = fields.whole("version", 0)
    if version > FORMAT_VERSION:
        raise InvalidRequest(
            f"{source} was saved by a newer ltx-mlx (format version {version}; this one reads up to "
            f"{FORMAT_VERSION}); update ltx-mlx to open it."
        )
    clips = [_clip(clip, f"{source}, clip {number}") for number, clip in enumerate(fields.items("clips", []), 1)]
    model: str | None = fields.text("model", None, optional=True)
    return {
        "version": version,
        "name": fields.text("name", "Untitled"),
        "fps": fields.number("fps", 30.0),
        "width": fields.whole("width", 768, minimum=1),
        "height": fields.whole("height", 512, minimum=1),
        "model": model,
        "clips": clips,
    }
