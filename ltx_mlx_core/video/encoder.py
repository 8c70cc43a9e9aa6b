"""One ffmpeg process that encodes raw RGB frames from a pipe to H.264 (libx264, yuv420p) or ProRes 422,
with the clip's sound (AAC beside H.264, ALAC beside ProRes) muxed in from a raw PCM file.

We run ffmpeg ourselves, rather than through imageio-ffmpeg's writer, for what a
safe writer needs from it: its exit status, its error lines (kept, not printed on
the user's terminal) and a way to stop it at once. It runs in its own session, so
a Ctrl-C in the terminal reaches only us; we stop it from our `finally` blocks.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from ltx_mlx_core.video.atomic import describe_os_error
from ltx_mlx_core.video.outputs import Container

logger = logging.getLogger(__name__)

# Errors ffmpeg reports by their C library text; said in our words when one is the cause.
_KNOWN_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO)
_CONTEXT = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\] ")


class EncoderFailed(Exception):
    """ffmpeg stopped with an error; `reason` says why in a few words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AudioInput:
    """Float32 interleaved PCM in a raw file (no header), muxed in as the video's sound."""

    path: Path
    rate: int
    channels: int


def _codec_flags(codec: str, crf: int, preset: str) -> list[str]:
    if codec == "prores":  # ProRes 422 (profile 2), 10-bit 4:2:2 as editors expect; ALAC for its sound
        return ["-c:v", "prores_ks", "-profile:v", "2", "-vendor", "apl0", "-pix_fmt", "yuv422p10le"]
    return ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", str(crf), "-preset", preset]


def _audio_flags(codec: str) -> list[str]:
    return ["-c:a", "alac"] if codec == "prores" else ["-c:a", "aac", "-b:a", "192k"]


class VideoEncoder:
    """`write(frame)` per uint8 [H, W, 3] frame, then `finish()`; `abort()` stops it on any other exit.

    `codec` is "h264" or "prores"; `audio`, when given, is muxed in (its file must be complete).
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        container: Container,
        crf: int,
        preset: str,
        codec: str = "h264",
        audio: AudioInput | None = None,
    ):
        rate = Fraction(fps).limit_denominator(100_000)  # 24000/1001 stays exact
        sound = (
            ["-f", "f32le", "-ar", str(audio.rate), "-ac", str(audio.channels), "-i", str(audio.path)] if audio else []
        )
        streams = ["-map", "0:v:0", "-map", "1:a:0", *_audio_flags(codec)] if audio else ["-an"]
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(rate),
            "-i",
            "pipe:0",
            *sound,
            *streams,
            *_codec_flags(codec, crf, preset),
            *container.flags,
            "-f",
            container.muxer,
            str(path),
        ]
        logger.debug("encoding with: %s", " ".join(command))
        self._errors: deque[str] = deque(maxlen=40)
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        # Drained all the time: a full stderr pipe would stall ffmpeg and then us.
        self._drain = threading.Thread(target=self._read_errors, name="ffmpeg-errors", daemon=True)
        self._drain.start()

    def _read_errors(self) -> None:
        for raw in self._process.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self._errors.append(_CONTEXT.sub("", line))

    def reason(self) -> str:
        """Why ffmpeg failed: a known system error in our words, else its last error line."""
        lines = list(self._errors)
        for code in _KNOWN_ERRNOS:
            if any(os.strerror(code) in line for line in lines):
                return describe_os_error(OSError(code, os.strerror(code)))
        if lines:
            return f'ffmpeg said "{lines[-1].rstrip(".")}"'
        return f"ffmpeg stopped with status {self._process.returncode}"

    def write(self, frame: np.ndarray) -> None:
        try:
            self._process.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        except OSError:  # ffmpeg has gone (BrokenPipeError): its status and errors say why
            self._process.wait()
            self._drain.join()
            raise EncoderFailed(self.reason()) from None

    def finish(self) -> None:
        """Flush, wait for ffmpeg to write the file's end, and raise `EncoderFailed` unless it exited 0."""
        try:
            self._process.stdin.close()
        except OSError:
            logger.debug("ffmpeg closed its input early")
        status = self._process.wait()
        self._drain.join()
        if status != 0:
            raise EncoderFailed(self.reason())

    def abort(self) -> None:
        """Stop ffmpeg now if it still runs (idempotent; after `finish` it does nothing)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        try:
            self._process.stdin.close()
        except OSError:
            logger.debug("ffmpeg's input was already broken")
        self._drain.join(timeout=5)  # ffmpeg is gone, so its stderr ends
        self._process.stderr.close()
