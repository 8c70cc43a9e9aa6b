"""Sound in and out of files: audio files and clips decoded on their own timeline, videos written with sound."""

from __future__ import annotations

import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.audio import MIX_RATE, probe_audio, read_audio, tone
from ltx_mlx_core.video.io import VideoWriteCancelled, write_video
from ltx_mlx_core.video.probe import MediaUnreadable, probe_media
from ltx_mlx_core.video.waveform import cached_peaks, compute_peaks
from tests.sound_clips import AMPLITUDE, rms, sound_clip, sound_of, tone_file


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".m4a", ".flac"])
def test_audio_files_are_probed_and_decoded(tmp_path, suffix):
    path = tone_file(tmp_path / f"voice{suffix}", seconds=1.5)
    info = probe_audio(path)
    assert info.sample_rate == 44100 and info.channels == 1 and info.duration == pytest.approx(1.5, abs=0.06)
    samples = read_audio(path)
    assert samples.shape[1] == 2 and len(samples) == pytest.approx(1.5 * MIX_RATE, abs=0.06 * MIX_RATE)
    # A mono sound at its own level on both channels (lossy formats within 1 dB).
    assert rms(samples[MIX_RATE // 10 : MIX_RATE]) == pytest.approx(AMPLITUDE / np.sqrt(2), rel=0.1)


def test_a_clip_without_sound_decodes_to_none_and_its_probe_says_so(tmp_path):
    silent = sound_clip(tmp_path / "silent.mp4", frequency=None)
    assert read_audio(silent) is None and probe_media(silent).audio_codec is None
    with pytest.raises(MediaUnreadable, match="has no sound"):
        probe_audio(silent)
    text = tmp_path / "notes.wav"
    text.write_text("not a sound")
    with pytest.raises(MediaUnreadable, match="notes.wav"):
        read_audio(text)


def test_a_sound_that_starts_late_is_placed_on_the_file_s_timeline(tmp_path):
    late = sound_clip(tmp_path / "late.mp4", seconds=2.0, sound_delay=0.5)
    samples = sound_of(late)
    onset = np.argmax(np.abs(samples[:, 0]) > AMPLITUDE / 2) / MIX_RATE
    assert onset == pytest.approx(0.5, abs=0.005)
    assert rms(samples[: MIX_RATE * 4 // 10]) < 1e-3


def test_a_video_is_written_with_its_sound_as_aac_and_reads_back_whole(tmp_path):
    frames = np.zeros((48, 64, 96, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(48)[:, None, None] * 5
    out = write_video(tmp_path / "clip.mp4", frames, 24.0, audio=tone(2.0, 440.0), preset="ultrafast")
    info = probe_media(out)
    assert (info.frames, info.codec, info.audio_codec) == (48, "h264", "aac")
    samples = sound_of(out)
    assert abs(len(samples) - 2 * MIX_RATE) < MIX_RATE // 24  # within a frame of the picture's 2 s
    assert rms(samples[MIX_RATE // 10 : -MIX_RATE // 10]) == pytest.approx(0.25 / np.sqrt(2), rel=0.05)


def test_prores_goes_in_a_mov_with_alac_sound(tmp_path):
    frames = np.full((12, 32, 48, 3), 90, np.uint8)
    out = write_video(tmp_path / "edit.mov", frames, 12.0, audio=tone(1.0), codec="prores")
    info = probe_media(out)
    assert (info.codec, info.pix_fmt, info.audio_codec) == ("prores", "yuv422p10le", "alac")
    assert np.abs(sound_of(out) - tone(1.0)).max() < 1e-3  # ALAC is lossless (16-bit here)
    with pytest.raises(InvalidRequest, match=r"name the output 'edit\.mov'"):
        write_video(tmp_path / "edit.mp4", frames, 12.0, codec="prores")


def test_a_cancelled_write_with_sound_leaves_nothing_behind(tmp_path):
    def stop_after_three(done: int) -> bool:
        return done < 3

    with pytest.raises(VideoWriteCancelled):
        write_video(
            tmp_path / "c.mp4", np.zeros((10, 32, 32, 3), np.uint8), 10.0, audio=tone(1.0), on_frame=stop_after_three
        )
    assert list(tmp_path.iterdir()) == []


def test_bad_sound_is_refused_before_encoding(tmp_path):
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    with pytest.raises(InvalidRequest, match="1 or 2 channels"):
        write_video(tmp_path / "x.mp4", frames, 8.0, audio=np.zeros((100, 6), np.float32))
    with pytest.raises(InvalidRequest, match="empty"):
        write_video(tmp_path / "x.mp4", frames, 8.0, audio=np.zeros((0, 2), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_waveform_peaks_bound_the_samples_and_are_cached_once(tmp_path, monkeypatch):
    signal = np.sin(np.linspace(0, 40 * np.pi, 16000))[:, None] * np.array([[0.5, -0.25]])
    peaks = compute_peaks(signal, 16000, per_second=100)
    assert peaks.values.shape == (100, 2) and peaks.duration == 1.0
    assert peaks.values[:, 0].min() == pytest.approx(-0.5, abs=1e-3) and peaks.values[:, 1].max() == pytest.approx(
        0.5, abs=1e-3
    )
    columns = peaks.columns(0.0, 2.0, 20)  # past the sound's end: silence
    assert np.all(columns[10:] == 0) and np.all(columns[:10, 1] > 0.4)

    clip = sound_clip(tmp_path / "a.mp4")
    silent = sound_clip(tmp_path / "s.mp4", frequency=None)
    cache = tmp_path / "media" / ".waveforms"
    first = cached_peaks(clip, cache)
    assert first.duration == pytest.approx(2.0, abs=0.03) and first.values[:, 1].max() == pytest.approx(
        AMPLITUDE, abs=0.05
    )
    assert cached_peaks(silent, cache) is None
    monkeypatch.setattr("ltx_mlx_core.video.waveform.read_audio", lambda *a: pytest.fail("decoded again"))
    again = cached_peaks(clip, cache)
    assert np.allclose(again.values, first.values, atol=1e-3) and cached_peaks(silent, cache) is None
    assert len(list(cache.glob("*.peaks.npy"))) == 2
