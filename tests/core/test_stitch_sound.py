"""Exported films carry their clips' sound: muted clips silent, crossfades without a seam, picture and
sound together, ProRes with ALAC. Clips are made with ffmpeg (colour video + sine tone, AAC)."""

from __future__ import annotations

import numpy as np
import pytest

from ltx_mlx_core.video.audio import MIX_RATE
from ltx_mlx_core.video.probe import probe_media
from ltx_mlx_core.video.stitch import Segment, stitch
from tests.sound_clips import AMPLITUDE, envelope, first_frame_of_colour, rms, sound_clip, sound_of, stream_duration

FPS = 24.0
TONE_RMS = AMPLITUDE / np.sqrt(2)


def seconds(frames: float) -> int:
    return round(frames / FPS * MIX_RATE)


def test_a_muted_clip_is_silent_in_the_export(tmp_path):
    a = sound_clip(tmp_path / "a.mp4", 2.0, FPS, "red", 440)
    b = sound_clip(tmp_path / "b.mp4", 2.0, FPS, "blue", 660)
    out = stitch([Segment(str(a)), Segment(str(b), muted=True)], tmp_path / "film.mp4", FPS, preset="ultrafast")
    sound = sound_of(out)
    margin = MIX_RATE // 50  # 20 ms: the fades at the cut and AAC's frame around it
    assert rms(sound[margin : seconds(48) - margin]) == pytest.approx(TONE_RMS, rel=0.05)
    assert rms(sound[seconds(48) + margin : seconds(96) - margin]) < 1e-3


def test_a_clip_without_sound_is_silence_between_clips_with_sound(tmp_path):
    a = sound_clip(tmp_path / "a.mp4", 1.0, FPS, "red", 440)
    quiet = sound_clip(tmp_path / "q.mp4", 1.0, FPS, "green", None)
    out = stitch(
        [Segment(str(a)), Segment(str(quiet)), Segment(str(a))], tmp_path / "film.mp4", FPS, preset="ultrafast"
    )
    sound = sound_of(out)
    margin = MIX_RATE // 50
    assert rms(sound[seconds(24) + margin : seconds(48) - margin]) < 1e-3
    assert rms(sound[seconds(48) + margin : seconds(72) - margin]) == pytest.approx(TONE_RMS, rel=0.05)


def test_a_crossfade_s_seam_has_no_jump_in_the_exported_sound(tmp_path):
    """Bound: through the 12-frame crossfade of a 440 Hz and a 1 kHz tone, the 20 ms RMS envelope stays
    within 1 dB of the tones' level and moves at most 0.5 dB from one window to the next, and no sample
    steps further than 1.3x the 1 kHz tone's own largest step (measured: see docs/PERFORMANCE.md)."""
    a = sound_clip(tmp_path / "a.mp4", 2.0, FPS, "red", 440)
    b = sound_clip(tmp_path / "b.mp4", 2.0, FPS, "blue", 1000)
    out = stitch([Segment(str(a)), Segment(str(b), crossfade=12)], tmp_path / "film.mp4", FPS, preset="ultrafast")
    sound = sound_of(out)
    assert probe_media(out).frames == 96 - 12
    window = MIX_RATE // 50
    seam = sound[seconds(36 - 6) : seconds(48 + 6)]
    level_db = 20 * np.log10(envelope(seam, window) / TONE_RMS)
    assert np.abs(level_db).max() < 1.0, f"level through the seam: {level_db.min():.2f}…{level_db.max():.2f} dB"
    assert np.abs(np.diff(level_db)).max() < 0.5
    natural = 2 * np.pi * 1000 * AMPLITUDE / MIX_RATE
    assert np.abs(np.diff(seam[:, 0])).max() < 1.3 * natural


def test_picture_and_sound_of_an_export_stay_together(tmp_path):
    """A silent red clip cut to a blue clip with a tone: the tone starts on the first blue frame (within a
    frame), and ffmpeg reads the video and sound streams back as lasting the same within a frame."""
    red = sound_clip(tmp_path / "red.mp4", 1.5, FPS, "red", None)
    blue = sound_clip(tmp_path / "blue.mp4", 2.5, FPS, "blue", 440)
    out = stitch([Segment(str(red)), Segment(str(blue), trim_in=5)], tmp_path / "film.mp4", FPS, preset="ultrafast")
    first_blue = first_frame_of_colour(out, (0, 0, 255))
    sound = sound_of(out)
    onset = int(np.argmax(envelope(sound, MIX_RATE // 1000) > TONE_RMS / 2)) / 1000
    assert first_blue == 36
    assert abs(onset - first_blue / FPS) < 1 / FPS, f"the tone starts {onset - first_blue / FPS:+.3f} s from its frame"
    video, audio = stream_duration(out, "v"), stream_duration(out, "a")
    assert video == pytest.approx((36 + 55) / FPS, abs=1 / FPS)
    assert abs(video - audio) < 1 / FPS, f"video {video:.3f} s, sound {audio:.3f} s"


def test_prores_export_carries_alac_sound_and_silent_films_stay_silent(tmp_path):
    a = sound_clip(tmp_path / "a.mp4", 1.0, FPS, "red", 440)
    out = stitch([Segment(str(a)), Segment(str(a), gain_db=-6.0)], tmp_path / "film.mov", FPS, codec="prores")
    info = probe_media(out)
    assert (info.codec, info.audio_codec, info.frames) == ("prores", "alac", 48)
    sound = sound_of(out)
    margin = MIX_RATE // 50
    louder, quieter = rms(sound[margin : seconds(24) - margin]), rms(sound[seconds(24) + margin : seconds(48) - margin])
    assert 20 * np.log10(quieter / louder) == pytest.approx(-6.0, abs=0.2)

    quiet = sound_clip(tmp_path / "q.mp4", 1.0, FPS, "green", None)
    assert probe_media(stitch([Segment(str(quiet))], tmp_path / "q-film.mp4", FPS)).audio_codec is None
    with_track = stitch([Segment(str(quiet))], tmp_path / "q-track.mp4", FPS, audio=True)
    assert rms(sound_of(with_track)) < 1e-4
