"""The one sound mix of a film: every clip's sound on its frames, with gain, mute, equal-power
crossfades and a short fade at each cut. The export (`stitch`, in the app and on the command line)
and the app's timeline playback both mix through `iter_mix`, so what plays is what is exported.

Sample positions come from film frame positions (`sample_at`), never from adding up lengths, so
the sound cannot drift from the picture however many clips there are: the mix of a film of F
frames at `fps` has exactly `sample_at(F, fps, rate)` samples, and a clip's first sample is where
its first frame is. A clip's sound is taken from its own file's time for its frames (trims and
dropped overlap frames drop their sound too), at the file's frame rate; should that differ from
the film's, the sound is stretched to the frames' new duration. A clip without sound is silence.

Where one clip crossfades into the next, their sounds cross with equal power (cos/sin gains, so
two unrelated sounds keep their loudness through the seam); where clips are cut, each side fades
over `DECLICK_SECONDS`, so the cut does not click. The film's start and end fade the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ltx_mlx_core.video.audio import MIX_CHANNELS, MIX_RATE, read_audio

DECLICK_SECONDS = 0.004

# Decoded sound of a file at the mix's rate and channels, or None for a file without sound.
AudioReader = Callable[[str], "np.ndarray | None"]


@dataclass(frozen=True)
class AudioPiece:
    """A clip as the mix uses it: `frames` film frames from source frame `first_frame` of `path`."""

    path: str
    first_frame: int
    frames: int
    source_fps: float  # the file's own frame rate: where its frames are in its sound (0: it has none)
    gain: float = 1.0  # linear; 0 for a muted clip
    crossfade: int = 0  # film frames blended with the previous piece


def gain_from_db(gain_db: float, muted: bool = False) -> float:
    return 0.0 if muted else float(10.0 ** (gain_db / 20.0))


def sample_at(frame: float, fps: float, rate: int = MIX_RATE) -> int:
    """The first sample of film frame `frame` (frame 0 at sample 0)."""
    return round(frame * rate / fps)


def piece_starts(pieces: list[AudioPiece]) -> list[int]:
    """Each piece's first film frame: a crossfade starts a piece before the previous one ends."""
    starts, end = [], 0
    for index, piece in enumerate(pieces):
        start = end - (piece.crossfade if index else 0)
        starts.append(start)
        end = start + piece.frames
    return starts


def film_frames(pieces: list[AudioPiece]) -> int:
    starts = piece_starts(pieces)
    return starts[-1] + pieces[-1].frames if pieces else 0


def _fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """`samples` at exactly `length` samples: rounding differences padded or cut, a different
    frame rate stretched (linear interpolation, per channel)."""
    if abs(len(samples) - length) <= 2 or len(samples) < 2:
        if len(samples) >= length:
            return samples[:length]
        return np.concatenate([samples, np.zeros((length - len(samples), samples.shape[1]), np.float32)])
    positions = np.linspace(0.0, len(samples) - 1, length)
    return np.stack([np.interp(positions, np.arange(len(samples)), channel) for channel in samples.T], axis=1).astype(
        np.float32
    )


def _ramp(length: int) -> np.ndarray:
    """A raised-cosine rise from 0 to 1 over `length` samples, as a column to scale every channel."""
    k = (np.arange(length, dtype=np.float32) + 0.5) / length
    return (0.5 - 0.5 * np.cos(np.pi * k)).astype(np.float32)[:, None]


def _equal_power(outgoing: np.ndarray, incoming: np.ndarray) -> np.ndarray:
    t = ((np.arange(len(incoming), dtype=np.float32) + 0.5) / max(1, len(incoming)))[:, None]
    return outgoing * np.cos(t * np.pi / 2) + incoming * np.sin(t * np.pi / 2)


class _Sources:
    """The pieces' decoded sound; the last two files are kept (a retake splice reads one file twice)."""

    def __init__(self, read: AudioReader, channels: int):
        self._read, self._channels = read, channels
        self._files: OrderedDict[str, np.ndarray | None] = OrderedDict()

    def samples(self, piece: AudioPiece, rate: int, length: int) -> np.ndarray:
        silence = np.zeros((length, self._channels), np.float32)
        if piece.gain == 0.0 or not piece.source_fps:  # muted, or known to have no sound: nothing to decode
            return silence
        if piece.path not in self._files:
            self._files[piece.path] = self._read(piece.path)
            while len(self._files) > 2:
                self._files.popitem(last=False)
        decoded = self._files[piece.path]
        if decoded is None:
            return silence
        first = round(piece.first_frame * rate / piece.source_fps)
        last = round((piece.first_frame + piece.frames) * rate / piece.source_fps)
        taken = decoded[first:last]
        if taken.shape[1] != self._channels:
            taken = np.repeat(taken.mean(axis=1, keepdims=True), self._channels, axis=1)
        return _fit_length(taken, length) * np.float32(piece.gain)


def iter_mix(
    pieces: list[AudioPiece],
    fps: float,
    rate: int = MIX_RATE,
    channels: int = MIX_CHANNELS,
    read: AudioReader | None = None,
) -> Iterator[np.ndarray]:
    """The film's sound as float32 chunks [n, channels], in order, one or two per piece.

    `read(path)` decodes a file's sound at `rate` and `channels` (None: no sound); by default
    `read_audio`. Memory holds one piece's sound and the tail a crossfade needs, not the film.
    """
    read = read or (lambda path: read_audio(path, rate, channels))
    sources = _Sources(read, channels)
    starts = piece_starts(pieces)
    declick = max(1, round(DECLICK_SECONDS * rate))
    previous_tail = np.zeros((0, channels), np.float32)
    for index, (piece, start) in enumerate(zip(pieces, starts)):
        end = start + piece.frames
        first, last = sample_at(start, fps, rate), sample_at(end, fps, rate)
        fade_in = piece.crossfade if index else 0
        fade_out = pieces[index + 1].crossfade if index + 1 < len(pieces) else 0
        head = sample_at(start + fade_in, fps, rate) - first  # samples crossed with the previous piece
        tail = last - sample_at(end - fade_out, fps, rate)  # samples crossed with the next one
        sound = sources.samples(piece, rate, last - first)
        edge = min(declick, len(sound) // 2)
        if edge and not fade_in:
            sound[:edge] *= _ramp(edge)
        if edge and not fade_out:
            sound[len(sound) - edge :] *= _ramp(edge)[::-1]
        if head:
            sound[:head] = _equal_power(previous_tail[:head], sound[:head])
        kept = len(sound) - tail
        if kept > 0:
            yield sound[:kept]
        previous_tail = sound[max(0, kept) :].copy()
    if len(previous_tail):
        yield previous_tail


def mix(
    pieces: list[AudioPiece],
    fps: float,
    rate: int = MIX_RATE,
    channels: int = MIX_CHANNELS,
    read: AudioReader | None = None,
) -> np.ndarray:
    """The whole film's sound as one float32 array [sample_at(film frames), channels]."""
    chunks = list(iter_mix(pieces, fps, rate, channels, read))
    return np.concatenate(chunks) if chunks else np.zeros((0, channels), np.float32)
