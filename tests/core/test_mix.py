"""The film's sound mix: on its frames, gain and mute, equal-power crossfades, cuts that do not click.

Sources are synthetic (a reader hands the mixer numpy signals), so every sample can be checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from ltx_mlx_core.video.audio import MIX_RATE
from ltx_mlx_core.video.mix import (
    DECLICK_SECONDS,
    AudioPiece,
    film_frames,
    gain_from_db,
    iter_mix,
    mix,
    sample_at,
)
from tests.sound_clips import envelope, rms

RATE = MIX_RATE


def ramp(seconds: float, offset: float = 0.0) -> np.ndarray:
    """A signal whose value says its own time: offset + t / 10 (stereo)."""
    t = np.arange(round(seconds * RATE)) / RATE
    value = (offset + t / 10).astype(np.float32)
    return np.stack([value, value], axis=1)


def sine(seconds: float, frequency: float, amplitude: float = 0.5, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    value = (amplitude * np.sin(2 * np.pi * frequency * t + phase)).astype(np.float32)
    return np.stack([value, value], axis=1)


def reader(signals: dict):
    return lambda path: signals[path]


@pytest.mark.parametrize("fps", [24.0, 25.0, 30000 / 1001])
def test_the_mix_has_exactly_the_film_s_samples_however_many_clips(fps):
    pieces = [
        AudioPiece(
            f"c{i}", first_frame=i, frames=17 + 8 * (i % 3), source_fps=fps, crossfade=(5 if i % 2 else 0) if i else 0
        )
        for i in range(12)
    ]
    signals = {p.path: sine(5, 200 + 20 * i) for i, p in enumerate(pieces)}
    chunks = list(iter_mix(pieces, fps, read=reader(signals)))
    assert sum(len(c) for c in chunks) == sample_at(film_frames(pieces), fps)
    assert all(c.dtype == np.float32 and c.shape[1] == 2 for c in chunks)


def test_each_clip_s_sound_stays_on_its_frames_after_trims_and_dropped_overlap():
    fps = 24.0
    signals = {"a": ramp(3), "b": ramp(3, offset=1.0)}
    # A trimmed to start at its frame 5; B an extension whose first 9 frames repeat A (dropped).
    pieces = [
        AudioPiece("a", first_frame=5, frames=20, source_fps=fps),
        AudioPiece("b", first_frame=9, frames=30, source_fps=fps),
    ]
    film = mix(pieces, fps, read=reader(signals))
    for film_frame, (source, source_frame) in ((2, ("a", 7)), (15, ("a", 20)), (22, ("b", 11)), (40, ("b", 29))):
        heard = film[sample_at(film_frame, fps) + 100, 0]
        offset = 1.0 if source == "b" else 0.0
        expected = offset + (source_frame / fps + 100 / RATE) / 10
        assert heard == pytest.approx(expected, abs=1e-4), (film_frame, source)


def test_a_muted_clip_is_silent_and_gain_scales_the_sound():
    fps = 24.0
    signals = {"a": sine(2, 440), "b": sine(2, 660)}
    pieces = [
        AudioPiece("a", 0, 24, fps, gain=gain_from_db(-6.0)),
        AudioPiece("b", 0, 24, fps, gain=gain_from_db(3, True)),
    ]
    film = mix(pieces, fps, read=reader(signals))
    edge = round(DECLICK_SECONDS * RATE)
    first, second = film[edge : RATE - edge], film[RATE + edge : 2 * RATE - edge]
    assert rms(first) == pytest.approx(rms(signals["a"]) * 10 ** (-6 / 20), rel=1e-3)
    assert np.abs(second).max() == 0.0


def test_a_clip_without_sound_is_silence_and_is_not_decoded():
    fps = 24.0
    read = []
    signals = {"a": sine(2, 440)}

    def recording_reader(path):
        read.append(path)
        return signals.get(path)

    pieces = [AudioPiece("a", 0, 24, fps), AudioPiece("silent", 0, 24, source_fps=0.0), AudioPiece("none", 0, 24, fps)]
    film = mix(pieces, fps, read=recording_reader)
    assert len(film) == 3 * RATE and np.abs(film[RATE:]).max() == 0.0 and rms(film[: RATE // 2]) > 0.3
    assert read == ["a", "none"]  # the piece known to be silent was never read


def test_an_equal_power_crossfade_keeps_two_sounds_loudness_through_the_seam():
    fps, fade = 24.0, 12
    signals = {"a": sine(3, 440), "b": sine(3, 1000)}
    pieces = [AudioPiece("a", 0, 48, fps), AudioPiece("b", 0, 48, fps, crossfade=fade)]
    film = mix(pieces, fps, read=reader(signals))
    assert len(film) == sample_at(96 - fade, fps)
    window = RATE // 50  # 20 ms
    seam = slice(sample_at(48 - fade - 6, fps) // window, sample_at(48 + 6, fps) // window)
    level_db = 20 * np.log10(envelope(film, window)[seam] / rms(signals["a"][:, :1]))
    assert np.abs(level_db).max() < 0.5, f"loudness through the crossfade varies by {np.abs(level_db).max():.2f} dB"
    # A linear crossfade of the same sounds dips by ~3 dB in the middle; this one does not.
    middle = film[sample_at(48 - fade / 2, fps) - window // 2 :][:window]
    assert 20 * np.log10(rms(middle[:, :1]) / rms(signals["a"][:, :1])) > -0.5


def test_a_cut_fades_each_side_so_it_does_not_click():
    fps = 24.0
    # A ends at its peak and B starts at its opposite peak: butted together they would jump by 1.0.
    a = sine(1, 240, phase=np.pi / 2 - 2 * np.pi * 240 * (1 - 1 / RATE))
    b = sine(1, 240, phase=-np.pi / 2)
    film = mix([AudioPiece("a", 0, 24, fps), AudioPiece("b", 0, 24, fps)], fps, read=reader({"a": a, "b": b}))
    cut = sample_at(24, fps)
    assert abs(a[-1, 0] - b[0, 0]) > 0.99  # what a plain cut would do
    steps = np.abs(np.diff(film[cut - 400 : cut + 400, 0]))
    natural = 2 * np.pi * 240 * 0.5 / RATE  # the tone's own largest step between samples
    assert steps.max() < 1.25 * natural, f"largest step at the cut {steps.max():.4f}, the tone's own {natural:.4f}"
    assert abs(film[cut - 1, 0]) < 0.01 and abs(film[cut, 0]) < 0.01


def test_a_clip_at_another_frame_rate_is_stretched_to_its_frames():
    signals = {"a": ramp(2)}
    film = mix([AudioPiece("a", 0, 24, source_fps=30.0)], 24.0, read=reader(signals))
    assert len(film) == RATE  # 24 frames of a 24 fps film: one second
    assert film[RATE // 2, 0] == pytest.approx((12 / 30) / 10, abs=1e-4)  # film frame 12 is its frame 12


def test_a_clip_crossfaded_on_both_sides_is_mixed_into_both():
    fps = 24.0
    signals = {name: sine(2, f) for name, f in (("a", 300), ("b", 500), ("c", 700))}
    pieces = [
        AudioPiece("a", 0, 10, fps),
        AudioPiece("b", 0, 10, fps, crossfade=10),
        AudioPiece("c", 0, 10, fps, crossfade=10),
    ]
    film = mix(pieces, fps, read=reader(signals))
    assert len(film) == sample_at(film_frames(pieces), fps) == sample_at(10, fps)
    assert np.isfinite(film).all() and np.abs(film).max() <= 1.0
