"""Real MP4 files through ffmpeg: frame counts, fps, pixel format, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.io import (
    VideoError,
    VideoWriteCancelled,
    probe_video,
    read_frames,
    read_video,
    write_video,
)


def moving_square(frames: int, height: int = 64, width: int = 96) -> np.ndarray:
    video = np.zeros((frames, height, width, 3), dtype=np.uint8)
    video[..., 2] = 60
    for i in range(frames):
        x = (i * 5) % (width - 16)
        video[i, 20:36, x : x + 16] = (240, 200, 40)
    return video


def test_write_then_read_keeps_frame_count_size_and_fps(tmp_path):
    frames = moving_square(17)
    path = write_video(tmp_path / "clip.mp4", frames, fps=24, crf=12)
    info = probe_video(path)
    assert (info.frames, info.width, info.height) == (17, 96, 64)
    assert info.fps == pytest.approx(24)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p"
    decoded, fps = read_video(path)
    assert decoded.shape == frames.shape and fps == pytest.approx(24)
    # Lossy but close: the square is where we drew it.
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 6


def test_read_frames_takes_a_range_and_counts_from_the_end(tmp_path):
    frames = moving_square(25)
    path = write_video(tmp_path / "clip.mp4", frames, fps=30, crf=0, preset="ultrafast")
    tail = read_frames(path, start=-9)
    middle = read_frames(path, start=4, count=3)
    assert tail.shape[0] == 9 and middle.shape[0] == 3
    assert np.abs(tail[-1].astype(int) - frames[-1].astype(int)).mean() < 3
    assert np.abs(middle[0].astype(int) - frames[4].astype(int)).mean() < 3


def test_failed_write_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "clip.mp4"
    write_video(target, moving_square(9), fps=24)
    before = target.read_bytes()

    def broken_frames():
        yield moving_square(1)[0]
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError):
        write_video(target, broken_frames(), fps=24)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_cancelled_write_saves_nothing(tmp_path):
    target = tmp_path / "clip.mp4"
    with pytest.raises(VideoWriteCancelled):
        write_video(target, moving_square(9), fps=24, on_frame=lambda i: i < 3)
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_get_actionable_messages(tmp_path):
    with pytest.raises(InvalidRequest, match="even sizes"):
        write_video(tmp_path / "odd.mp4", np.zeros((3, 33, 64, 3), np.uint8), fps=24)
    with pytest.raises(InvalidRequest, match="CRF"):
        write_video(tmp_path / "x.mp4", moving_square(3), fps=24, crf=60)
    not_video = tmp_path / "notes.txt"
    not_video.write_text("hello")
    with pytest.raises(VideoError, match="not a video"):
        probe_video(not_video)
    with pytest.raises(VideoError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
