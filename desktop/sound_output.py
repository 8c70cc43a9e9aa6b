"""Sound to the speakers: decoded PCM played through a QAudioSink, with volume and mute.

The preview player (one clip) and the timeline (the film's mix, see ltx_mlx_core.video.mix)
both hand their sound here as float PCM and read back how far it has played, which drives
their picture (desktop.playback_clock). The samples sit in a QBuffer the sink pulls from in
C++, so no Python runs per audio buffer.

Without a sound device (a server, a CI machine, a Linux desktop without PulseAudio), or where
Qt's sound library cannot load at all (Linux without libpulse), the app plays pictures only:
`output_problem()` says why, the reason is logged once, and the players show it.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject

from ltx_mlx_core.video.audio import MIX_CHANNELS, MIX_RATE

log = logging.getLogger(__name__)

try:
    from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices, QtAudio
except ImportError as error:  # libQt6Multimedia needs libpulse on Linux: without it, no sound at all
    MULTIMEDIA_MISSING: str | None = f"Qt's sound library could not load ({error})"
    log.warning("No sound: %s. Clips play without sound.", MULTIMEDIA_MISSING)
else:
    MULTIMEDIA_MISSING = None

BUFFER_SECONDS = 0.2  # queued ahead of the device: rides out short GUI-thread stalls
_reported: set[str] = set()


def _report_once(reason: str) -> None:
    if reason not in _reported:
        _reported.add(reason)
        log.warning("No sound: %s. Clips play without sound.", reason)


def output_problem() -> str | None:
    """Why sound cannot play on this machine now (None: it can)."""
    if MULTIMEDIA_MISSING is not None:
        return MULTIMEDIA_MISSING
    device = QMediaDevices.defaultAudioOutput()
    if device.isNull():
        return "no sound output device was found"
    if not device.isFormatSupported(sound_format()):
        return f"the sound output '{device.description()}' does not take {MIX_RATE} Hz stereo"
    return None


def output_name() -> str:
    """The default sound output's name ('' when there is none)."""
    return "" if MULTIMEDIA_MISSING is not None else QMediaDevices.defaultAudioOutput().description()


def sound_format() -> QAudioFormat:
    audio_format = QAudioFormat()
    audio_format.setSampleRate(MIX_RATE)
    audio_format.setChannelCount(MIX_CHANNELS)
    audio_format.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    return audio_format


def to_int16(samples: np.ndarray) -> bytes:
    """Float PCM [n, 2] in [-1, 1] as interleaved 16-bit samples."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


class SoundOutput(QObject):
    """Plays one stretch of PCM (a clip's or the film's) from any position; `position()` says how far."""

    BYTES_PER_SECOND = MIX_RATE * MIX_CHANNELS * 2

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._buffer = QBuffer(self)
        self._sink = None  # a QAudioSink, made at the first play
        self._start = 0.0  # media position the sink started from
        self._volume = 1.0
        self._muted = False
        self.has_sound = False  # PCM is loaded
        self.problem: str | None = None  # why the last play had no sound

    # ----- what to play -----
    def set_samples(self, samples: np.ndarray | bytes | None) -> None:
        """Float32 [n, 2] at MIX_RATE, or that already made `to_int16` (on a pool thread, for a long
        film); None: nothing to play. Stops what played."""
        self.stop()
        self._buffer.close()
        data = to_int16(samples) if isinstance(samples, np.ndarray) else samples or b""
        self._buffer.setData(QByteArray(data))
        self.has_sound = len(data) > 0

    def duration(self) -> float:
        return self._buffer.size() / self.BYTES_PER_SECOND

    # ----- playing -----
    def play(self, position: float) -> bool:
        """Play from `position` seconds; False (and `problem` says why) when no sound can play."""
        self.stop()
        if not self.has_sound or position >= self.duration():
            return False
        self.problem = output_problem()
        if self.problem is not None:
            _report_once(self.problem)
            return False
        if self._sink is None:
            self._sink = QAudioSink(QMediaDevices.defaultAudioOutput(), sound_format(), self)
            self._sink.setBufferSize(int(BUFFER_SECONDS * self.BYTES_PER_SECOND) // 4 * 4)
        self._apply_volume()
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        frame = 2 * MIX_CHANNELS
        self._buffer.seek(int(position * MIX_RATE) * frame)
        self._start = position
        self._sink.start(self._buffer)
        if self._sink.error() != QtAudio.Error.NoError:
            self.problem = f"the sound output could not be opened ({self._sink.error().name})"
            _report_once(self.problem)
            self.stop()
            return False
        return True

    def stop(self) -> None:
        if self._sink is not None and self._sink.state() != QtAudio.State.StoppedState:
            self._sink.stop()
        if self._buffer.isOpen():
            self._buffer.close()

    def position(self) -> float | None:
        """The media position the device has played to (None: no sound is playing)."""
        if self._sink is None or self._sink.state() == QtAudio.State.StoppedState:
            return None
        if self._sink.state() == QtAudio.State.IdleState and self._buffer.atEnd():
            return None  # played to its end: the picture runs on by itself
        return self._start + self._sink.processedUSecs() / 1e6

    # ----- volume -----
    def set_volume(self, volume: float) -> None:
        """`volume` 0-1 as a listener hears it (a slider's scale); the sink takes it linear."""
        self._volume = max(0.0, min(1.0, volume))
        self._apply_volume()

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        self._apply_volume()

    def _apply_volume(self) -> None:
        if self._sink is not None:
            linear = QtAudio.convertVolume(
                self._volume, QtAudio.VolumeScale.LogarithmicVolumeScale, QtAudio.VolumeScale.LinearVolumeScale
            )
            self._sink.setVolume(0.0 if self._muted else linear)
