"""Sound in and out of media files: the first audio stream of a clip or audio file as float PCM.

Every sound ltx-mlx mixes, plays or draws is decoded here by the ffmpeg imageio-ffmpeg
ships, resampled to one rate and channel count (48 kHz stereo unless told) and placed
on the file's own timeline: an audio stream that starts after the video (or AAC's
priming samples before it) is padded or trimmed so that sample 0 is the file's time 0,
which is what keeps a clip's sound on its frames. A file without sound decodes to None.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from ltx_mlx_core.video.probe import MediaUnreadable

logger = logging.getLogger(__name__)

MIX_RATE = 48_000
MIX_CHANNELS = 2
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".flac"})

_AUDIO_STREAM = re.compile(r"Stream #\d+:\d+\S*: Audio: (?P<codec>\w+)[^,]*, (?P<rate>\d+) Hz, (?P<layout>[^,]+)")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_NO_AUDIO = ("matches no streams", "does not contain any stream")
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    duration: float  # seconds, as the container states it


def is_audio_file(path: str | Path) -> bool:
    """A file whose suffix says it holds only sound (WAV, MP3, M4A, FLAC)."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def _channels(layout: str) -> int:
    layout = layout.strip().split("(", 1)[0]
    if layout in _LAYOUT_CHANNELS:
        return _LAYOUT_CHANNELS[layout]
    match = re.match(r"(\d+) channels", layout)
    return int(match.group(1)) if match else 2


def _ffmpeg(arguments: list[str], path: Path) -> subprocess.CompletedProcess:
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *arguments]
    try:
        return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    except OSError as error:
        raise MediaUnreadable(f"Could not run ffmpeg to read '{path.name}': {error}.") from error


def _check_file(path: Path) -> None:
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise MediaUnreadable(f"Audio file '{path}' {what}.", f"it {what}")


def probe_audio(path: str | Path) -> AudioInfo:
    """Codec, rate, channels and duration of a file's first audio stream; `MediaUnreadable` when it has none."""
    path = Path(path)
    _check_file(path)
    run = _ffmpeg(["-i", str(path), "-map", "0:a:0?", "-c", "copy", "-f", "null", "-"], path)
    log = run.stderr.decode("utf-8", "replace")
    stream = _AUDIO_STREAM.search(log)
    if stream is None:
        if run.returncode != 0 and not any(text in log for text in _NO_AUDIO):
            reason = log.strip().splitlines()[-1].rstrip(".") if log.strip() else "ffmpeg could not read it"
            raise MediaUnreadable(f"'{path.name}' is not a file ffmpeg can read ({reason}).", reason)
        raise MediaUnreadable(f"'{path.name}' has no sound.", "it has no sound")
    duration = _DURATION.search(log)
    seconds = (
        int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3)) if duration else 0.0
    )
    return AudioInfo(
        codec=stream.group("codec"),
        sample_rate=int(stream.group("rate")),
        channels=_channels(stream.group("layout")),
        duration=seconds,
    )


def _decode(path: Path, rate: int, channels: int | None) -> tuple[np.ndarray | None, int]:
    """(float32 samples, channel count) of the first audio stream; `channels` None keeps the file's."""
    layout = ["-ac", str(channels)] if channels else []
    run = _ffmpeg(
        [
            "-loglevel",
            "info",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "aresample=first_pts=0",
            "-f",
            "f32le",
            "-acodec",
            "pcm_f32le",
            *layout,
            "-ar",
            str(rate),
            "-",
        ],
        path,
    )
    log = run.stderr.decode("utf-8", "replace")
    if run.returncode != 0:
        if any(text in log for text in _NO_AUDIO):
            return None, 0
        errors = [line for line in log.splitlines() if "rror" in line] or log.strip().splitlines()[-1:]
        reason = errors[-1].strip().rstrip(".") if errors else f"ffmpeg exited {run.returncode}"
        logger.debug("ffmpeg could not decode the sound of %s: %s", path, log)
        raise MediaUnreadable(f"Could not decode the sound of '{path.name}' ({reason}).", reason)
    output = log[log.find("Output #0") :]
    stream = _AUDIO_STREAM.search(output)
    found = channels or (_channels(stream.group("layout")) if stream else 2)
    samples = np.frombuffer(run.stdout, dtype=np.float32)
    return samples[: len(samples) - len(samples) % found].reshape(-1, found), found


def read_audio(path: str | Path, rate: int = MIX_RATE, channels: int = MIX_CHANNELS) -> np.ndarray | None:
    """The file's first audio stream as float32 [samples, channels] at `rate`, sample 0 at the file's
    time 0; None when the file has no sound. `MediaUnreadable` when ffmpeg cannot decode it.

    A mono sound is heard at its own level on every channel (ffmpeg's own upmix would lower it by
    3 dB); a sound of more channels than asked for is mixed down by ffmpeg.
    """
    path = Path(path)
    _check_file(path)
    samples, found = _decode(path, rate, None)
    if samples is None:
        return None
    if found > channels:
        samples, found = _decode(path, rate, channels)
    elif found < channels:
        samples = np.repeat(samples[:, :1], channels, axis=1)
    return np.ascontiguousarray(samples, dtype=np.float32)


def tone(
    seconds: float,
    frequency: float = 440.0,
    amplitude: float = 0.25,
    rate: int = MIX_RATE,
    channels: int = MIX_CHANNELS,
) -> np.ndarray:
    """A sine tone as float32 [samples, channels] (the self-test's and the examples' sound)."""
    t = np.arange(round(seconds * rate)) / rate
    wave = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)
