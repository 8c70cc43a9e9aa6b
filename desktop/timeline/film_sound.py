"""The timeline's sound for playback: the film mixed by the export's own mixer, in the background.

`FilmSound.samples(project)` answers at once with the mix of the project as it is now (as the
16-bit samples the sound output plays, converted on the pool thread too), or None while that
mix is being made (or when no clip has sound); `ready` fires when a mix arrives. The mix is ltx_mlx_core.video.mix's, from the same segments the export stitches,
so playback sounds as the exported film will. One mix is made at a time; an edit made
meanwhile is mixed next. Each clip's decoded sound is kept, so a mix after an edit only
decodes clips it has not heard yet.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from desktop.background import run_in_thread_pool
from desktop.project import Project
from desktop.sound_output import to_int16
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.audio import MIX_RATE, read_audio
from ltx_mlx_core.video.mix import mix
from ltx_mlx_core.video.stitch import Segment, plan_stitch

logger = logging.getLogger(__name__)

MixKey = tuple[tuple[Segment, ...], float]


class DecodedSounds:
    """Clips' decoded sound at the mix rate, shared by the pool threads (the last `capacity` files)."""

    def __init__(self, capacity: int = 24):
        self._capacity = capacity
        self._lock = threading.Lock()
        self._files: OrderedDict[tuple[str, int], np.ndarray | None] = OrderedDict()

    def read(self, path: str) -> np.ndarray | None:
        key = (path, Path(path).stat().st_mtime_ns)
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)
                return self._files[key]
        samples = read_audio(path, MIX_RATE)
        with self._lock:
            self._files[key] = samples
            while len(self._files) > self._capacity:
                self._files.popitem(last=False)
        return samples


def mix_film(segments: tuple[Segment, ...], fps: float, sounds: DecodedSounds) -> bytes | None:
    """On a pool thread: the film's sound as the export mixes it, as 16-bit samples; None when no clip
    has sound."""
    if not segments:
        return None
    plan = plan_stitch(list(segments))
    if not any(plan.has_audio):
        return None
    return to_int16(mix(plan.audio_pieces(), fps, MIX_RATE, read=sounds.read))


class FilmSound(QObject):
    ready = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.sounds = DecodedSounds()
        self._key: MixKey | None = None  # what `_samples` is the mix of
        self._samples: bytes | None = None
        self._running: MixKey | None = None
        self._wanted: MixKey | None = None

    @staticmethod
    def key(project: Project) -> MixKey:
        return tuple(project.segments()), float(project.fps)

    def known(self, project: Project) -> bool:
        """Whether the mix of the project as it is now has been made (it may be None: no sound)."""
        return self._key == self.key(project)

    def samples(self, project: Project) -> bytes | None:
        key = self.key(project)
        if key == self._key:
            return self._samples
        self._wanted = key
        self._start_next()
        return None

    def _start_next(self) -> None:
        if self._running is not None or self._wanted is None or self._wanted == self._key:
            return
        key = self._running = self._wanted
        run_in_thread_pool(
            lambda progress: mix_film(key[0], key[1], self.sounds),
            self,
            name="mix the film's sound",
            on_result=lambda samples: self._done(key, samples),
            on_error=lambda error: self._failed(key, error),
            expected=(LtxMlxError, OSError),
        )

    def _done(self, key: MixKey, samples: bytes | None) -> None:
        self._running = None
        self._key, self._samples = key, samples
        if key == self._wanted:
            self.ready.emit()
        self._start_next()

    def _failed(self, key: MixKey, error: BaseException) -> None:
        logger.warning("the timeline plays without sound: %s", error)
        self._done(key, None)
