"""Clips with sound for the tests, made with the ffmpeg imageio-ffmpeg ships: a colour video and a sine tone.

`sound_clip` writes an H.264 + AAC MP4 by default (what generated clips are), or PCM in a
QuickTime file when a test needs the exact samples back. Helpers read the sound and the
picture back and measure them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from ltx_mlx_core.video.audio import MIX_RATE, read_audio
from ltx_mlx_core.video.io import read_video

AMPLITUDE = 0.5


def ffmpeg(*arguments: str) -> None:
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, arguments)]
    subprocess.run(command, check=True, capture_output=True)


def sound_clip(
    path: Path,
    seconds: float = 2.0,
    fps: float = 24.0,
    colour: str = "red",
    frequency: float | None = 440.0,
    size: tuple[int, int] = (64, 48),
    exact: bool = False,
    sound_delay: float = 0.0,
    pattern: str | None = None,
) -> Path:
    """A `colour` video of `seconds` at `fps` with a sine of `frequency` Hz at AMPLITUDE (None: no sound).

    `exact`: 16-bit PCM sound in a .mov (lossless, for sample-exact checks); else AAC in an MP4.
    `sound_delay`: the sound stream starts this many seconds after the video.
    `pattern`: a moving ffmpeg test picture instead of the plain colour ('testsrc2', 'smptebars', ...).
    """
    width, height = size
    picture = f"color=c={colour}:" if pattern is None else f"{pattern}="
    video = ["-f", "lavfi", "-i", f"{picture}s={width}x{height}:r={fps}:d={seconds}"]
    if frequency is None:
        ffmpeg(*video, "-c:v", "libx264", "-pix_fmt", "yuv420p", path)
        return path
    tone = f"aevalsrc={AMPLITUDE}*sin(2*PI*{frequency}*t):s={MIX_RATE}:d={seconds - sound_delay}"
    sound = [*(["-itsoffset", str(sound_delay)] if sound_delay else []), "-f", "lavfi", "-i", tone]
    audio_codec = ["-c:a", "pcm_s16le"] if exact else ["-c:a", "aac", "-b:a", "192k"]
    ffmpeg(*video, *sound, "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv420p", *audio_codec, path)
    return path


def tone_file(path: Path, seconds: float = 1.5, frequency: float = 330.0) -> Path:
    """An audio-only file in the format its suffix names (.wav, .mp3, .m4a, .flac)."""
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc={AMPLITUDE}*sin(2*PI*{frequency}*t):s=44100:d={seconds}", path)
    return path


def sound_of(path: Path) -> np.ndarray:
    """The file's sound at the mix rate, stereo (fails the test if it has none)."""
    samples = read_audio(path)
    assert samples is not None, f"{path.name} has no sound"
    return samples


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def envelope(samples: np.ndarray, window: int) -> np.ndarray:
    """RMS of the first channel over consecutive windows of `window` samples."""
    usable = len(samples) // window * window
    return np.sqrt(np.mean(samples[:usable, 0].reshape(-1, window) ** 2, axis=1))


def first_frame_of_colour(path: Path, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """The index of the first frame whose centre pixel is near `rgb`."""
    frames, _ = read_video(path)
    centre = frames[:, frames.shape[1] // 2, frames.shape[2] // 2].astype(int)
    hits = np.nonzero((np.abs(centre - np.array(rgb)) <= tolerance).all(axis=1))[0]
    assert len(hits), f"no frame of {path.name} is {rgb}"
    return int(hits[0])


def stream_duration(path, stream: str) -> float:
    """What ffmpeg -i says one stream lasts: its packets copied to nowhere, the last time= it reports."""
    run = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-i",
            str(path),
            "-map",
            f"0:{stream}:0",
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    hours, minutes, secs = re.findall(r"time=(\d+):(\d+):(\d+\.\d+)", run.stderr)[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)
