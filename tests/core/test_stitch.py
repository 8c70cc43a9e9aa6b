"""Stitching real encoded clips: frame counts, seams, crossfades, metadata, cancel."""

from __future__ import annotations

import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.io import VideoWriteCancelled, probe_video, read_video, write_video
from ltx_mlx_core.video.stitch import Segment, plan_stitch, stitch

W, H = 64, 48


BITS = 8


def numbered_frame(number: int, size=(W, H)) -> np.ndarray:
    """The frame's number in binary: 8 vertical stripes, white for a set bit (survives encoding)."""
    frame = np.zeros((size[1], size[0], 3), np.uint8)
    stripe = size[0] // BITS
    for bit in range(BITS):
        if number >> bit & 1:
            frame[:, bit * stripe : (bit + 1) * stripe] = 255
    return frame


def numbered_clip(path, first: int, count: int, fps: float = 24.0, size=(W, H)):
    frames = np.stack([numbered_frame(first + i, size) for i in range(count)])
    return write_video(path, frames, fps, crf=0, preset="ultrafast")


def read_number(frame: np.ndarray) -> int:
    stripe = frame.shape[1] // BITS
    return sum(1 << bit for bit in range(BITS) if frame[:, bit * stripe : (bit + 1) * stripe].mean() > 127)


def frame_numbers(path) -> list[int]:
    frames, _ = read_video(path)
    return [read_number(f) for f in frames]


def test_trims_and_drops_give_the_expected_frame_count(tmp_path):
    a = numbered_clip(tmp_path / "a.mp4", 0, 25)
    b = numbered_clip(tmp_path / "b.mp4", 30, 17)
    c = numbered_clip(tmp_path / "c.mp4", 50, 9)
    segments = [Segment(str(a), trim_in=2, trim_out=20), Segment(str(b), drop_first=5), Segment(str(c), trim_out=7)]
    out = stitch(segments, tmp_path / "film.mp4", fps=24, crf=0, preset="ultrafast")
    assert probe_video(out).frames == 18 + 12 + 7 == plan_stitch(segments).total_frames
    assert frame_numbers(out) == list(range(2, 20)) + list(range(35, 47)) + list(range(50, 57))


def test_continuation_seam_has_no_duplicated_frame(tmp_path):
    """Clip B was generated from A's last 9 frames, which it repeats at its start."""
    a = numbered_clip(tmp_path / "a.mp4", 0, 25)
    b = numbered_clip(tmp_path / "b.mp4", 16, 25)  # frames 16..40: 16..24 repeat A's end
    out = stitch(
        [Segment(str(a)), Segment(str(b), drop_first=9)], tmp_path / "film.mp4", fps=24, crf=0, preset="ultrafast"
    )
    numbers = frame_numbers(out)
    assert numbers == list(range(0, 41))
    assert all(later > earlier for earlier, later in zip(numbers, numbers[1:]))


def test_crossfade_blends_and_shortens_by_its_length(tmp_path):
    a = numbered_clip(tmp_path / "a.mp4", 0, 17)
    b = numbered_clip(tmp_path / "b.mp4", 40, 17)
    out = stitch(
        [Segment(str(a)), Segment(str(b), crossfade=4)], tmp_path / "film.mp4", fps=24, crf=0, preset="ultrafast"
    )
    frames, _ = read_video(out)
    numbers = [read_number(f) for f in frames]
    assert len(numbers) == 17 + 17 - 4
    assert numbers[:13] == list(range(13)) and numbers[-13:] == list(range(44, 57))
    # Frames 13..16 blend A's 13..16 with B's 40..43, B's weight rising: 1/5, 2/5, 3/5, 4/5.
    for k in range(4):
        expected = numbered_frame(13 + k) * (1 - (k + 1) / 5) + numbered_frame(40 + k) * ((k + 1) / 5)
        assert np.abs(frames[13 + k].astype(float) - expected).mean() < 8


def test_output_metadata_is_h264_yuv420p_at_the_project_fps(tmp_path):
    a = numbered_clip(tmp_path / "a.mp4", 0, 9, fps=30)
    b = numbered_clip(tmp_path / "b.mp4", 9, 9, fps=30, size=(96, 48))  # another size: scaled and cropped
    out = stitch([Segment(str(a)), Segment(str(b))], tmp_path / "film.mp4", fps=30, crf=20)
    info = probe_video(out)
    assert (info.codec, info.pix_fmt, info.width, info.height, info.frames) == ("h264", "yuv420p", W, H, 18)
    assert info.fps == pytest.approx(30)
    import imageio.v3 as iio

    decoded = iio.imread(out)  # a second decoder reads it too
    assert decoded.shape == (18, H, W, 3)
    assert iio.immeta(out)["fps"] == pytest.approx(30)


def test_ntsc_frame_rate_is_kept(tmp_path):
    ntsc = 24000 / 1001
    a = numbered_clip(tmp_path / "a.mp4", 0, 12, fps=ntsc)
    out = stitch([Segment(str(a))], tmp_path / "film.mp4", fps=ntsc, crf=20, preset="ultrafast")
    info = probe_video(out)
    assert info.fps == pytest.approx(ntsc, abs=0.01) and info.frames == 12


def test_cancel_writes_nothing_and_bad_plans_are_explained(tmp_path):
    a = numbered_clip(tmp_path / "a.mp4", 0, 9)
    target = tmp_path / "film.mp4"
    with pytest.raises(VideoWriteCancelled):
        stitch([Segment(str(a))], target, fps=24, progress=lambda done, total: done < 3)
    assert not target.exists()
    with pytest.raises(InvalidRequest, match="empty"):
        plan_stitch([])
    with pytest.raises(InvalidRequest, match="no frames left"):
        plan_stitch([Segment(str(a), trim_in=5, trim_out=5)])
    with pytest.raises(InvalidRequest, match="crossfade"):
        plan_stitch([Segment(str(a)), Segment(str(a), crossfade=20)])
