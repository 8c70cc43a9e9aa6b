"""The video writer reports a failed encode instead of replacing a good file with a broken one."""

from __future__ import annotations

import os
import stat
import types

import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest, OutputWriteError
from ltx_mlx_core.video import encoder
from ltx_mlx_core.video.io import VideoWriteError, probe_video, write_video

FRAMES = np.full((9, 32, 32, 3), 120, np.uint8)


def fake_ffmpeg(tmp_path, script: str):
    """An 'ffmpeg' that reads the frames, then does what `script` says (sh, the output path in $out)."""
    exe = tmp_path / "bin" / "ffmpeg"
    exe.parent.mkdir()
    exe.write_text(f"#!/bin/sh\nfor out; do :; done\ncat > /dev/null\n{script}\n")
    exe.chmod(0o755)
    return types.SimpleNamespace(get_ffmpeg_exe=lambda: str(exe))


@pytest.fixture
def good_video(tmp_path):
    folder = tmp_path / "out"
    path = write_video(folder / "keep.mp4", FRAMES, fps=8)
    return path, path.read_bytes()


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_an_encoder_that_fails_raises_the_reason_and_keeps_the_old_file(tmp_path, good_video, monkeypatch):
    path, before = good_video
    monkeypatch.setattr(
        encoder,
        "imageio_ffmpeg",
        fake_ffmpeg(
            tmp_path,
            'printf garbage > "$out"\necho "[out#0/mp4 @ 0x55d0] Error writing trailer: No space left on device" >&2\nexit 228',
        ),
    )
    with pytest.raises(VideoWriteError) as caught:
        write_video(path, np.zeros((40, 32, 32, 3), np.uint8), fps=8)
    assert str(caught.value) == "Could not write 'keep.mp4': the disk is full; the existing file was left as it was."
    assert isinstance(caught.value, OutputWriteError)
    assert path.read_bytes() == before and leftovers(path.parent) == ["keep.mp4"]


def test_an_encoder_that_exits_0_with_an_unplayable_file_is_caught_by_the_probe(tmp_path, good_video, monkeypatch):
    path, before = good_video
    monkeypatch.setattr(encoder, "imageio_ffmpeg", fake_ffmpeg(tmp_path, 'printf "not a video" > "$out"\nexit 0'))
    with pytest.raises(
        VideoWriteError,
        match=r"^Could not write 'keep.mp4': the encoded file does not play back "
        r"\(.*\); the existing file was left as it was\.$",
    ):
        write_video(path, FRAMES, fps=8)
    assert path.read_bytes() == before and leftovers(path.parent) == ["keep.mp4"]


def test_an_encoder_that_dies_mid_stream_is_reported_without_its_banner(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(encoder, "imageio_ffmpeg", types.SimpleNamespace(get_ffmpeg_exe=lambda: "/bin/false"))
    with pytest.raises(
        VideoWriteError,
        match=r"^Could not write 'new.mp4': ffmpeg stopped with status 1; "
        r"nothing was written\.$",
    ):
        write_video(tmp_path / "new.mp4", np.zeros((200, 256, 256, 3), np.uint8), fps=8)
    assert leftovers(tmp_path) == []
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("name", ["clip.json", "clip.txt", "clip.gif", "clip.webm", "clip"])
def test_a_suffix_the_writer_cannot_make_is_refused_before_encoding(tmp_path, name):
    with pytest.raises(InvalidRequest, match=r"a video is written as \.mp4, \.m4v, \.mov or \.mkv\.$"):
        write_video(tmp_path / name, FRAMES, fps=8)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".mp4", ".m4v", ".mov", ".mkv"])
def test_every_known_container_writes_a_playable_file(tmp_path, suffix):
    path = write_video(tmp_path / f"clip{suffix}", FRAMES, fps=8)
    info = probe_video(path)
    assert (info.frames, info.width, info.codec) == (9, 32, "h264")


def test_a_new_video_follows_the_umask_and_a_replaced_one_keeps_its_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        path = write_video(tmp_path / "clip.mp4", FRAMES, fps=8)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o640)
        write_video(path, FRAMES, fps=8)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(previous)


def test_an_interrupt_mid_encode_stops_ffmpeg_and_leaves_no_temporary_file(tmp_path, good_video):
    path, before = good_video

    def frames():
        yield from FRAMES[:3]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(path, frames(), fps=8)
    assert path.read_bytes() == before and leftovers(path.parent) == ["keep.mp4"]
