"""Stitch clips into one film: trims, dropped continuation overlaps, crossfades, one encode, with sound.

A `Segment` is a clip as the timeline uses it: the source frames [trim_in, trim_out),
minus `drop_first` frames at its start that repeat the previous clip's end (an
extension is generated from the previous clip's last frames, so those frames
appear twice), blended over `crossfade` frames with the previous segment's tail.

Output frames = sum of each segment's kept frames - sum of crossfades.
Frames stream from decoder to encoder (one clip's tail held for a crossfade), so
memory does not grow with the film's length.

The sound goes with the frames: each segment's sound over its kept frames, scaled by its
gain (silent when muted), mixed by video/mix.py (equal-power crossfades, a short fade at
each cut); a clip without sound is silence. A film gets a sound track when any of its
clips has sound (or when told to).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.audio import MIX_RATE
from ltx_mlx_core.video.io import iter_frames, write_video
from ltx_mlx_core.video.mix import AudioPiece, AudioReader, gain_from_db, iter_mix
from ltx_mlx_core.video.probe import probe_media

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    path: str
    trim_in: int = 0
    trim_out: int | None = None  # exclusive; None = to the end
    drop_first: int = 0
    crossfade: int = 0  # frames blended with the previous segment's last frames
    gain_db: float = 0.0  # the clip's sound, louder or quieter
    muted: bool = False

    def kept_frames(self, source_frames: int) -> int:
        end = source_frames if self.trim_out is None else min(self.trim_out, source_frames)
        return max(0, end - self.trim_in - self.drop_first)


@dataclass
class StitchPlan:
    segments: list[Segment]
    kept: list[int] = field(default_factory=list)
    width: int = 0
    height: int = 0
    source_fps: list[float] = field(default_factory=list)
    has_audio: list[bool] = field(default_factory=list)

    @property
    def total_frames(self) -> int:
        return sum(self.kept) - sum(s.crossfade for s in self.segments[1:])

    def audio_pieces(self) -> list[AudioPiece]:
        """The segments as the sound mix takes them (a clip without sound as a silent piece)."""
        return [
            AudioPiece(
                s.path,
                s.trim_in + s.drop_first,
                kept,
                fps if sound else 0.0,
                gain_from_db(s.gain_db, s.muted),
                s.crossfade if index else 0,
            )
            for index, (s, kept, fps, sound) in enumerate(
                zip(self.segments, self.kept, self.source_fps, self.has_audio)
            )
        ]


def plan_stitch(segments: list[Segment], size: tuple[int, int] | None = None) -> StitchPlan:
    """Check every segment against its file; sizes default to the first clip's."""
    if not segments:
        raise InvalidRequest("The timeline is empty: add a clip before exporting.")
    plan = StitchPlan(segments=list(segments))
    for index, segment in enumerate(segments):
        info = probe_media(segment.path)
        plan.source_fps.append(info.fps)
        plan.has_audio.append(info.audio_codec is not None)
        if index == 0:
            plan.width, plan.height = size or (info.width - info.width % 2, info.height - info.height % 2)
        kept = segment.kept_frames(info.frames)
        if kept <= 0:
            raise InvalidRequest(f"Clip {index + 1} ('{Path(segment.path).name}') has no frames left after trimming.")
        if index > 0 and segment.crossfade > min(kept, plan.kept[-1]):
            raise InvalidRequest(
                f"The crossfade into clip {index + 1} is {segment.crossfade} frames, longer than a clip it joins; "
                f"use at most {min(kept, plan.kept[-1])}."
            )
        plan.kept.append(kept)
    return plan


def _fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover the target and centre-crop (clips of another size or aspect)."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    scale = max(width / w, height / h)
    resized = np.asarray(
        Image.fromarray(frame).resize((max(width, round(w * scale)), max(height, round(h * scale))), Image.BILINEAR)
    )
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return resized[top : top + height, left : left + width]


def _segment_frames(segment: Segment, kept: int, width: int, height: int) -> Iterator[np.ndarray]:
    start = segment.trim_in + segment.drop_first
    for frame in iter_frames(segment.path, start, kept):
        yield _fit(frame, width, height)


def iter_film_frames(plan: StitchPlan) -> Iterator[np.ndarray]:
    """Every output frame in order, crossfades blended linearly."""
    previous_tail: list[np.ndarray] = []
    for index, (segment, kept) in enumerate(zip(plan.segments, plan.kept)):
        fade_out = plan.segments[index + 1].crossfade if index + 1 < len(plan.segments) else 0
        tail: list[np.ndarray] = []
        for position, frame in enumerate(_segment_frames(segment, kept, plan.width, plan.height)):
            if position < len(previous_tail):
                weight = (position + 1) / (len(previous_tail) + 1)
                frame = (previous_tail[position] * (1 - weight) + frame * weight).round().astype(np.uint8)
            if position >= kept - fade_out:
                tail.append(frame.astype(np.float32))
            else:
                yield frame
        previous_tail = tail


def stitch(
    segments: list[Segment],
    output: str | Path,
    fps: float,
    crf: int = 18,
    preset: str = "slow",
    progress: Callable[[int, int], bool] | None = None,
    size: tuple[int, int] | None = None,
    audio: bool | None = None,
    codec: str = "h264",
    read_audio: AudioReader | None = None,
) -> Path:
    """Encode the film to `output` (H.264 + AAC, or ProRes 422 + ALAC in a .mov; atomic).

    `audio`: None gives the film a sound track when any clip has sound, True always, False
    never. `progress(done, total)` returning False cancels (raises VideoWriteCancelled;
    nothing is written). `read_audio(path)` decodes a clip's sound (a cache, in the app).
    """
    plan = plan_stitch(segments, size)
    total = plan.total_frames
    with_sound = any(plan.has_audio) if audio is None else audio
    logger.info(
        "stitching %d clips into %d frames at %.3f fps%s",
        len(segments),
        total,
        fps,
        " with sound" if with_sound else "",
    )

    def on_frame(done: int) -> bool:
        return True if progress is None else progress(done, total) is not False

    sound = iter_mix(plan.audio_pieces(), fps, MIX_RATE, read=read_audio) if with_sound else None
    return write_video(
        output,
        iter_film_frames(plan),
        fps,
        crf=crf,
        preset=preset,
        on_frame=on_frame,
        audio=sound,
        audio_rate=MIX_RATE,
        codec=codec,
    )
