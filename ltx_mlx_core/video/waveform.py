"""Waveform peaks of a file's sound, computed once and kept in a cache folder.

A waveform is drawn from peaks, not samples: the lowest and highest sample value in each
1/`PEAKS_PER_SECOND` of a second (all channels together), fine enough for the timeline's
closest zoom. `cached_peaks` decodes a file once and keeps its peaks beside the project's
media (keyed by the file's path, size and modification time, so an edited file is read
again); a file without sound is remembered as such, so it is not decoded again either.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ltx_mlx_core.errors import OutputWriteError
from ltx_mlx_core.video.atomic import write_bytes
from ltx_mlx_core.video.audio import read_audio

logger = logging.getLogger(__name__)

PEAKS_PER_SECOND = 400
PEAKS_RATE = 16_000  # decoding rate for peaks: enough for a picture of the sound, quick to decode


@dataclass(frozen=True)
class Peaks:
    """float32 [bins, 2]: each bin's lowest and highest sample, bin i covering [i, i+1) / per_second s."""

    values: np.ndarray
    per_second: int = PEAKS_PER_SECOND

    @property
    def duration(self) -> float:
        return len(self.values) / self.per_second

    def columns(self, start: float, end: float, count: int) -> np.ndarray:
        """(low, high) for `count` equal columns over [start, end) seconds; silence past the sound's end."""
        edges = np.clip(np.round(np.linspace(start, end, count + 1) * self.per_second).astype(int), 0, len(self.values))
        out = np.zeros((count, 2), np.float32)
        for column, (first, last) in enumerate(zip(edges[:-1], edges[1:])):
            if last > first:
                out[column] = self.values[first:last, 0].min(), self.values[first:last, 1].max()
            elif first < len(self.values):
                out[column] = self.values[first]
        return out


def compute_peaks(samples: np.ndarray, rate: int, per_second: int = PEAKS_PER_SECOND) -> Peaks:
    """Peaks of float PCM [samples, channels] (or [samples]) at `rate`."""
    samples = np.asarray(samples, np.float32)
    samples = samples.reshape(len(samples), -1)
    bins = int(np.ceil(len(samples) * per_second / rate))
    if not bins:
        return Peaks(np.zeros((0, 2), np.float32), per_second)
    starts = np.round(np.arange(bins) * rate / per_second).astype(int)
    flat_low, flat_high = samples.min(axis=1), samples.max(axis=1)
    values = np.stack([np.minimum.reduceat(flat_low, starts), np.maximum.reduceat(flat_high, starts)], axis=1)
    return Peaks(values.astype(np.float32), per_second)


def file_peaks(path: str | Path, per_second: int = PEAKS_PER_SECOND) -> Peaks | None:
    """Peaks of a file's sound; None when it has none. `MediaUnreadable` if ffmpeg cannot decode it."""
    samples = read_audio(path, PEAKS_RATE)
    return None if samples is None else compute_peaks(samples, PEAKS_RATE, per_second)


def cache_name(path: Path) -> str:
    """The file's cache entry name: its stem and a key of its full path, size and modification time."""
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return f"{path.stem}-{key}.peaks.npy"


def cached_peaks(path: str | Path, cache: Path, per_second: int = PEAKS_PER_SECOND) -> Peaks | None:
    """`file_peaks`, read from `cache` when it was computed before (and written there when not)."""
    path = Path(path)
    entry = Path(cache) / cache_name(path)
    try:
        values = np.load(entry, allow_pickle=False)
    except (OSError, ValueError):
        values = None
    if values is not None and values.ndim == 2 and values.shape[1] == 2:
        return Peaks(values.astype(np.float32), per_second) if len(values) else None
    peaks = file_peaks(path, per_second)
    buffer = io.BytesIO()
    np.save(buffer, peaks.values.astype(np.float16) if peaks else np.zeros((0, 2), np.float16))
    try:
        write_bytes(entry, buffer.getvalue())
    except (
        OutputWriteError
    ) as error:  # a read-only project still shows its waveforms; they are computed again next time
        logger.warning("could not cache the waveform of %s: %s", path.name, error)
    return peaks
