"""Input media checked before any work: is this file an image or video we can use?

`probe_image` and `probe_video` read just enough of a file to know its size (and,
for a video, its frame count and rate) and raise `InvalidRequest` with one
sentence when it is empty, damaged, truncated, not what its name says, has no
video stream, or is too small. ffmpeg's own log never reaches the user: it runs
quietly (stream copy, no decoding) and only its first error line is quoted.
Results are remembered per (path, size, modification time), so validating a
request several times probes each file once.
"""
from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.images import open_image

# Smaller media cannot be cropped to a clip's aspect and encoded (yuv420p needs 2x2 blocks) usefully.
MIN_SIDE = 16
PROBE_TIMEOUT_S = 300

_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (?P<codec>\w+).*?, (?P<width>\d+)x(?P<height>\d+)")
_FPS = re.compile(r", (?P<fps>\d+(?:\.\d+)?)(?P<k>k?) (?:fps|tbr)\b")
_FRAMES = re.compile(r"frame=\s*(?P<frames>\d+)")
_LEVEL = re.compile(r"^(?:\[[^\]]*\] )*\[(?P<level>error|fatal|panic)\] (?P<text>.*)$")


@dataclass(frozen=True)
class MediaInfo:
    """What the pipeline needs to know of an input before reading it."""

    kind: str  # "image" or "video"
    width: int
    height: int
    frames: int = 1
    fps: float = 0.0
    codec: str = ""


def _stat_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InvalidRequest(f"the file '{path}' does not exist.") from None
    except OSError as error:
        raise InvalidRequest(f"the file '{path}' cannot be read: {error.strerror or error}.") from None
    if not path.is_file():
        raise InvalidRequest(f"'{path}' is not a file.")
    if stat.st_size == 0:
        raise InvalidRequest(f"'{path.name}' is empty (0 bytes).")
    return str(path), stat.st_size, stat.st_mtime_ns


def _check_size(name: str, kind: str, width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE:
        raise InvalidRequest(
            f"the {kind} '{name}' is {width}x{height} pixels; conditioning media need at least "
            f"{MIN_SIDE} pixels on each side."
        )


def probe_image(path: str | Path) -> MediaInfo:
    """Size (as stored; EXIF orientation may turn it) of a readable image; its data checked where the format allows."""
    return _probe_image(*_stat_key(Path(path)))


@functools.lru_cache(maxsize=64)
def _probe_image(path: str, _size: int, _mtime: int) -> MediaInfo:
    name = Path(path).name
    with open_image(path) as image:
        width, height = image.size
        _check_size(name, "image", width, height)
        try:
            # Walks the file's chunks and checksums (PNG) without decoding pixels; must come first.
            image.verify()
        except (OSError, SyntaxError, ValueError) as error:
            raise InvalidRequest(f"the image '{name}' is damaged or incomplete ({error}).") from None
    return MediaInfo("image", width, height)


def probe_video(path: str | Path) -> MediaInfo:
    """Size, exact frame count, frame rate and codec of the first video stream of a readable file."""
    return _probe_video(*_stat_key(Path(path)))


def _ffmpeg_log(path: str) -> tuple[int, list[str]]:
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "level+info",
        "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "null", "-",
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise InvalidRequest(f"reading '{Path(path).name}' took over {PROBE_TIMEOUT_S} s; is it on a slow disk?") from None
    return done.returncode, done.stderr.decode("utf-8", "replace").splitlines()


@functools.lru_cache(maxsize=64)
def _probe_video(path: str, _size: int, _mtime: int) -> MediaInfo:
    name = Path(path).name
    returncode, lines = _ffmpeg_log(path)
    errors = [match.group("text").strip() for line in lines if (match := _LEVEL.match(line))]
    input_lines = lines[: next((i for i, line in enumerate(lines) if "Stream mapping:" in line), len(lines))]
    stream = next((m for line in input_lines if (m := _STREAM.search(line))), None)
    log = "\n".join(lines)
    if "moov atom not found" in log or (stream is None and "Invalid data found" in log):
        raise InvalidRequest(f"'{name}' is not a video that can be read: it is damaged, incomplete or another kind of file.")
    if stream is None and any("matches no streams" in line for line in lines):
        raise InvalidRequest(f"'{name}' has no video stream (it holds only sound or other data).")
    if returncode != 0 or errors or stream is None:
        reason = errors[0] if errors else f"ffmpeg stopped with status {returncode}"
        raise InvalidRequest(f"the video '{name}' is damaged or truncated ({reason.rstrip('.')}).")
    frames = [int(m.group("frames")) for line in lines if (m := _FRAMES.search(line))]
    if not frames or frames[-1] == 0:
        raise InvalidRequest(f"the video '{name}' has no frames.")
    width, height = int(stream.group("width")), int(stream.group("height"))
    _check_size(name, "video", width, height)
    fps_match = _FPS.search(stream.string)
    fps = float(fps_match.group("fps")) * (1000 if fps_match.group("k") else 1) if fps_match else 0.0
    return MediaInfo("video", width, height, frames=frames[-1], fps=fps, codec=stream.group("codec"))
