"""The one media probe: what ffmpeg (or Pillow, for images) finds in a file, or one sentence saying why
it cannot read it.

Inputs (clips to continue, conditioning clips, timeline media) are probed before any
work starts, and every video ltx-mlx writes is probed before it replaces its target.
One ffmpeg run demuxes the whole video stream without decoding it (`-c copy` to the
null muxer): that finds a missing index ("moov atom not found"), a truncated or
corrupt stream, an audio-only file and a text file with a video's name, and counts
the frames exactly, in about the time it takes to read the file. An image is decoded
once by Pillow (after a structural check), which finds a text file with an image's name, a truncated file and a
picture too large to hold.

A file that cannot be read is a `MediaUnreadable`, which is also an `InvalidRequest`:
the command line answers it with exit 2 and its one sentence.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from ltx_mlx_core.errors import InvalidRequest, LtxMlxError
from ltx_mlx_core.video.images import open_image

logger = logging.getLogger(__name__)

_STREAM = re.compile(r"^\s*Stream #\d+:\d+\S*: (?P<kind>Video|Audio): (?P<rest>.*)$")
_SIZE = re.compile(r"[ ,](\d+)x(\d+)[ ,\[]")
_FPS = re.compile(r" (\d+(?:\.\d+)?)(k?) fps")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")
_FRAMES = re.compile(r"frame=\s*(\d+)")
_LEVEL = re.compile(r"^(?:\[[^\]]*\] )*\[(?P<level>[a-z]+)\] (?P<text>.*)$")


class VideoError(LtxMlxError):
    """A video file could not be read or written."""


class MediaUnreadable(VideoError, InvalidRequest):
    """ffmpeg cannot read the file as a video; the message says which file and why, `reason` only why."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class MediaInfo:
    frames: int  # counted packet by packet, exact
    fps: float
    width: int  # as shown: a rotated phone clip reports its upright size
    height: int
    codec: str
    pix_fmt: str
    audio_codec: str | None = None


def _split_top_level(text: str) -> list[str]:
    """Split at commas that are not inside parentheses ('yuv420p(tv, bt709)' stays whole)."""
    return [part.strip() for part in re.split(r",\s*(?![^()]*\))", text)]


def _parse(lines: list[tuple[str, str]]) -> tuple[dict, list[str]]:
    """(fields of the file's first video and audio streams, the error lines) from ffmpeg's log."""
    found: dict = {}
    errors = []
    reading_output = False  # stream lines after "Output #0" describe the null output, not the file
    for level, text in lines:
        if level in ("error", "fatal", "panic"):
            errors.append(text.strip())
        reading_output = reading_output or text.startswith("Output #")
        match = _STREAM.match(text)
        if match is not None and not reading_output:
            found.setdefault(match.group("kind").lower(), match.group("rest"))
        rotation = _ROTATION.search(text)
        if rotation is not None and not reading_output:
            found.setdefault("rotation", float(rotation.group(1)))
        frames = _FRAMES.findall(text)
        if frames:
            found["frames"] = int(frames[-1])
    return found, errors


def _info(found: dict) -> MediaInfo:
    video = found["video"]
    parts = _split_top_level(video)
    codec = parts[0].split(" ", 1)[0]
    pix_fmt = parts[1].split("(", 1)[0].strip() if len(parts) > 1 else ""
    size = _SIZE.search(f" {video} ")
    width, height = (int(size.group(1)), int(size.group(2))) if size else (0, 0)
    if abs(found.get("rotation", 0.0)) % 180 == 90:
        width, height = height, width
    fps_match = _FPS.search(video)
    fps = float(fps_match.group(1)) * (1000 if fps_match and fps_match.group(2) else 1) if fps_match else 0.0
    audio = found.get("audio")
    return MediaInfo(
        frames=found.get("frames", 0),
        fps=fps,
        width=width,
        height=height,
        codec=codec,
        pix_fmt=pix_fmt,
        audio_codec=audio.split(" ", 1)[0] if audio else None,
    )


def _first_reason(errors: list[str]) -> str:
    """The most telling of ffmpeg's error lines, without its trailing full stop."""
    for error in errors:
        if not error.startswith(("Error opening input", "Conversion failed")):
            return error.rstrip(".")
    return errors[0].rstrip(".") if errors else "ffmpeg could not read it"


def probe_media(path: str | Path) -> MediaInfo:
    """Frames, fps, size, codecs of a video file; `MediaUnreadable` with one sentence if ffmpeg cannot read it."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise MediaUnreadable(f"Video file '{path}' {what}.", f"it {what}")
    if path.stat().st_size == 0:
        raise MediaUnreadable(f"'{path.name}' is empty (0 bytes).", "it is empty")
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "level+info",
        "-i",
        str(path),
        "-map",
        "0:v:0?",
        "-c",
        "copy",
        "-f",
        "null",
        "-",
    ]
    try:
        run = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
    except OSError as error:
        raise MediaUnreadable(f"Could not run ffmpeg to read '{path.name}': {error}.") from error
    log = run.stderr.decode("utf-8", "replace").replace("\r", "\n").splitlines()
    lines = [(m.group("level"), m.group("text")) for m in map(_LEVEL.match, log) if m is not None]
    found, errors = _parse(lines)
    if run.returncode != 0 or errors:
        logger.debug("ffmpeg could not read %s (exit %s): %s", path, run.returncode, errors)
        reason = _first_reason(errors)
        raise MediaUnreadable(f"'{path.name}' is not a video ffmpeg can read ({reason}).", reason)
    if "video" not in found:
        raise MediaUnreadable(f"'{path.name}' has no video stream.", "it has no video stream")
    info = _info(found)
    if info.frames == 0 or not info.width or not info.height:
        raise MediaUnreadable(f"'{path.name}' has no video frames.", "it has no video frames")
    return info


def probe_image(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image Pillow can decode whole; InvalidRequest with one sentence otherwise.

    Opened through `images.open_image`, the one image decoder (its refusals: missing file, not an
    image, too many megapixels); then every pixel is decoded, so a truncated file fails here.
    """
    path = Path(path)
    if path.is_dir():
        raise MediaUnreadable(f"Image file '{path}' is a folder.", "it is a folder")
    with open_image(path) as image:
        try:
            image.verify()  # chunk structure and checksums (PNG): finds a cut file whose pixels still load
        except (OSError, SyntaxError, ValueError) as error:
            reason = str(error).rstrip(".") or type(error).__name__
            raise MediaUnreadable(f"'{path.name}' is not an image Pillow can read ({reason}).", reason) from None
    with open_image(path) as image:
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as error:
            reason = str(error).rstrip(".") or type(error).__name__
            raise MediaUnreadable(f"'{path.name}' is not an image Pillow can read ({reason}).", reason) from None
        return image.size
