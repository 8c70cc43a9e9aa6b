"""The one atomic writer: modes that follow the umask, targets untouched and no temporary file left on failure."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from ltx_mlx_core.errors import OutputWriteError
from ltx_mlx_core.video.atomic import replacing, write_bytes, write_json


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_gets_the_umask_mode_not_0600(tmp_path, umask_022):
    path = write_json(tmp_path / "new.json", {"a": 1})
    assert mode(path) == 0o644


def test_a_new_file_under_a_strict_umask_stays_private(tmp_path):
    previous = os.umask(0o077)
    try:
        path = write_bytes(tmp_path / "private.bin", b"x")
    finally:
        os.umask(previous)
    assert mode(path) == 0o600


def test_a_replaced_file_keeps_its_mode(tmp_path, umask_022):
    target = tmp_path / "shared.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_json(target, {"new": True})
    assert mode(target) == 0o640 and target.read_text().startswith("{")


def test_an_exception_in_the_block_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("keep me")
    for error in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with replacing(target) as (temp,):
                temp.write_text("half")
                raise error
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_a_full_disk_becomes_one_sentence_and_changes_nothing(tmp_path):
    target = tmp_path / "clip.json"
    target.write_text("old sidecar")
    with pytest.raises(OutputWriteError) as caught:
        with replacing(target) as (temp,):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(temp))
    assert str(caught.value) == "Could not write 'clip.json': the disk is full; the existing file was left as it was."
    assert target.read_text() == "old sidecar"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json"]


def test_several_targets_change_only_after_all_were_written(tmp_path):
    video, sidecar = tmp_path / "a.mp4", tmp_path / "a.json"
    video.write_text("old video")
    sidecar.write_text("old sidecar")
    with pytest.raises(OutputWriteError, match="'a.json': permission was denied; the existing file"):
        with replacing(video, sidecar) as (video_temp, sidecar_temp):
            video_temp.write_text("new video")
            raise PermissionError(errno.EACCES, "Permission denied", str(sidecar_temp))
    assert (video.read_text(), sidecar.read_text()) == ("old video", "old sidecar")
    with replacing(video, sidecar) as (video_temp, sidecar_temp):
        video_temp.write_text("new video")
        sidecar_temp.write_text("new sidecar")
    assert (video.read_text(), sidecar.read_text()) == ("new video", "new sidecar")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.mp4"]


def test_a_folder_that_cannot_be_made_is_reported_for_the_file(tmp_path):
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(OutputWriteError, match="Could not write 'x.json': .*; nothing was written"):
        write_json(tmp_path / "blocker" / "x.json", {})
