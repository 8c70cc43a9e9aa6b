"""Where each film frame comes from, and small decoded frames for thumbnails and preview.

`film_layout` and `film_sources` are pure (no Qt) so the timeline view, the
preview player and the tests agree on one mapping from film frames to clip frames.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from desktop.project import Clip, Project
from ltx_mlx_core.video.io import VideoError, read_video

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    clip: Clip
    start: int  # first film frame of the clip
    duration: int  # kept frames
    fade_in: int  # frames blended with the previous clip

    @property
    def end(self) -> int:
        return self.start + self.duration

    @property
    def first_source_frame(self) -> int:
        return self.clip.trim_in + self.clip.overlap_in


def film_layout(project: Project) -> list[Placement]:
    """Each clip's span on the film; a crossfade starts a clip before the previous one ends."""
    placements: list[Placement] = []
    position = 0
    for index, clip in enumerate(project.clips):
        fade = clip.transition_frames if index and clip.transition == "crossfade" else 0
        start = position - fade
        placements.append(Placement(clip, start, clip.duration, fade))
        position = start + clip.duration
    return placements


def film_sources(project: Project, frame: int) -> list[tuple[Clip, int, float]]:
    """(clip, source frame, weight) pairs whose weighted sum is film frame `frame` (as stitch blends)."""
    sources = []
    layout = film_layout(project)
    for place in layout:
        if not place.start <= frame < place.end:
            continue
        offset = frame - place.start
        source = place.first_source_frame + offset
        if place.fade_in and offset < place.fade_in:
            weight = (offset + 1) / (place.fade_in + 1)
            sources = [(c, s, w * (1 - weight)) for c, s, w in sources]
            sources.append((place.clip, source, weight))
        else:
            sources = [(place.clip, source, 1.0)]
    return sources


class FrameCache:
    """Whole clips decoded once at preview size (a few clips kept, least recently used dropped)."""

    def __init__(self, height: int = 180, clips: int = 6):
        self.height = height
        self.capacity = clips
        self._videos: OrderedDict[str, np.ndarray] = OrderedDict()

    def frames(self, path: Path) -> np.ndarray | None:
        key = str(path)
        if key in self._videos:
            self._videos.move_to_end(key)
            return self._videos[key]
        try:
            video, _ = read_video(path)
        except VideoError as error:
            logger.warning("cannot preview %s: %s", path, error)
            return None
        scale = self.height / video.shape[1]
        if scale < 1:
            size = (max(2, round(video.shape[2] * scale)), self.height)
            video = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR)) for f in video])
        self._videos[key] = video
        while len(self._videos) > self.capacity:
            self._videos.popitem(last=False)
        return video

    def frame(self, path: Path, index: int) -> np.ndarray | None:
        video = self.frames(path)
        if video is None or len(video) == 0:
            return None
        return video[max(0, min(index, len(video) - 1))]

    def film_frame(self, project: Project, frame: int) -> np.ndarray | None:
        """The film frame as the export will show it (crossfades blended), at preview size."""
        result = None
        for clip, source, weight in film_sources(project, frame):
            image = self.frame(project.media_path(clip), source)
            if image is None:
                continue
            if result is None:
                result = np.zeros(image.shape, np.float32)
            if image.shape != result.shape:
                image = np.asarray(Image.fromarray(image).resize(result.shape[1::-1], Image.BILINEAR))
            result += image.astype(np.float32) * weight
        return None if result is None else result.round().clip(0, 255).astype(np.uint8)

    def forget(self, path: Path) -> None:
        self._videos.pop(str(path), None)
