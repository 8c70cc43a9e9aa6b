"""Output paths checked before any work starts: a known container, a folder that can take the file.

The video writer encodes H.264 (libx264, yuv420p) and, for sound, AAC; the containers
below carry both, and QuickTime (.mov) is also where ProRes goes. Anything else
(.gif, .webm, .json, no suffix) is refused here, up front, with one sentence, rather
than found by ffmpeg after a generation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ltx_mlx_core.errors import InvalidRequest


@dataclass(frozen=True)
class Container:
    muxer: str  # ffmpeg's -f name
    flags: tuple[str, ...] = ()  # muxer options


_MOV_FLAGS = ("-movflags", "+faststart")  # the index at the front: playable while still downloading
VIDEO_CONTAINERS: dict[str, Container] = {
    ".mp4": Container("mp4", _MOV_FLAGS),
    ".m4v": Container("mp4", _MOV_FLAGS),
    ".mov": Container("mov", _MOV_FLAGS),
    ".mkv": Container("matroska"),
}


def video_suffixes() -> str:
    """'.mp4, .m4v, .mov or .mkv' for messages and help texts."""
    names = list(VIDEO_CONTAINERS)
    return ", ".join(names[:-1]) + " or " + names[-1]


# The video codecs the writer makes: H.264 (with AAC sound) in any container above, ProRes 422 (with
# ALAC sound) for people who edit further, in QuickTime only.
VIDEO_CODECS = {"h264": "H.264 + AAC", "prores": "ProRes 422 + ALAC"}
PRORES_SUFFIXES = (".mov",)


def check_codec(path: str | Path, codec: str) -> None:
    """`InvalidRequest` for an unknown codec or ProRes in a container other than .mov."""
    if codec not in VIDEO_CODECS:
        raise InvalidRequest(f"The video codec must be one of {', '.join(VIDEO_CODECS)}; got '{codec}'.")
    if codec == "prores" and Path(path).suffix.lower() not in PRORES_SUFFIXES:
        raise InvalidRequest(f"ProRes is written in a QuickTime file: name the output '{Path(path).stem}.mov'.")


def container_for(path: str | Path) -> Container:
    """The container a video path's suffix asks for; `InvalidRequest` for a suffix the writer cannot make."""
    path = Path(path)
    container = VIDEO_CONTAINERS.get(path.suffix.lower())
    if container is None:
        shown = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise InvalidRequest(f"'{path.name}' has {shown}; a video is written as {video_suffixes()}.")
    return container


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def check_output_path(path: str | Path) -> Path:
    """Refuse an output that cannot be written (a folder, a file in the way of its folder, no permission).

    A file is replaced by renaming a new one over it, so its folder's permissions
    are what count, not the file's own.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise InvalidRequest(f"The output '{path}' is a folder; give a file name inside it.")
    folder = _nearest_existing(path.parent)
    if not folder.is_dir():
        raise InvalidRequest(f"The output's folder cannot be made: '{folder}' is a file.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidRequest(f"The folder '{folder}' is not writable; choose another output.")
    return path


def check_video_output(path: str | Path) -> Path:
    """A known video container and a writable place; returns the path (user's home expanded)."""
    container_for(path)
    return check_output_path(path)
