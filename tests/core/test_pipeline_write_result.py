"""write_result: one MP4 + JSON sidecar per seed, named so several seeds never collide, both changed together
and a user's own JSON file never overwritten."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest, OutputWriteError
from ltx_mlx_core.pipeline import check_outputs, output_paths, results, write_result
from ltx_mlx_core.pipeline.events import VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.results import SIDECAR_FORMAT
from ltx_mlx_core.video.io import VideoWriteError


def _video(value: int) -> np.ndarray:
    return np.full((9, 32, 64, 3), value, np.uint8)


def test_one_seed_writes_exactly_the_given_path_and_a_sidecar(tmp_path):
    request = GenerationRequest(prompt="a lake", seeds=[7], width=64, height=32, num_frames=9, fps=10.0)
    result = VideoResult(videos=[_video(90)], seeds=[7], fps=10.0, request=request, timings={"total": 1.5})
    paths = write_result(result, tmp_path / "sub" / "lake.mp4", crf=23)
    assert paths == [tmp_path / "sub" / "lake.mp4"]
    frames = iio.imread(paths[0])
    assert frames.shape == (9, 32, 64, 3) and abs(int(frames.mean()) - 90) <= 3
    sidecar = json.loads((tmp_path / "sub" / "lake.json").read_text())
    assert sidecar["seed"] == 7 and sidecar["frames"] == 9 and sidecar["fps"] == 10.0
    assert GenerationRequest.from_dict(sidecar["request"]) == request
    assert sidecar["timings"] == {"total": 1.5}


def test_several_seeds_get_one_file_each_with_their_own_seed(tmp_path):
    request = GenerationRequest(prompt="x", seeds=[1, 22], width=64, height=32, num_frames=9)
    result = VideoResult(videos=[_video(30), _video(200)], seeds=[1, 22], fps=24.0, request=request)
    paths = write_result(result, tmp_path / "out.mp4")
    assert (
        paths
        == output_paths(tmp_path / "out.mp4", [1, 22])
        == [tmp_path / "out_seed1.mp4", tmp_path / "out_seed22.mp4"]
    )
    for path, seed, value in zip(paths, (1, 22), (30, 200)):
        assert abs(int(iio.imread(path).mean()) - value) <= 3
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["request"]["seeds"] == [seed]
    assert not (tmp_path / "out.mp4").exists()


def _result(seeds=(7,)) -> VideoResult:
    request = GenerationRequest(prompt="p", seeds=list(seeds), width=64, height=32, num_frames=9, fps=10.0)
    return VideoResult(videos=[_video(90) for _ in seeds], seeds=list(seeds), fps=10.0, request=request)


def test_a_sidecar_we_wrote_is_replaced_with_its_video(tmp_path):
    out = tmp_path / "clip.mp4"
    write_result(_result(), out)
    first = json.loads(out.with_suffix(".json").read_text())
    assert first["format"] == SIDECAR_FORMAT
    write_result(_result(), out)
    assert json.loads(out.with_suffix(".json").read_text())["format"] == SIDECAR_FORMAT


def test_a_sidecar_from_before_the_format_key_counts_as_ours(tmp_path):
    old = tmp_path / "clip.json"
    old.write_text(json.dumps({"video": "clip.mp4", "seed": 1, "request": {"prompt": "x"}}))
    write_result(_result(), tmp_path / "clip.mp4")
    assert json.loads(old.read_text())["format"] == SIDECAR_FORMAT


@pytest.mark.parametrize("content", ['{"my": "notes"}', "not json at all", "[1, 2]"])
def test_a_users_json_of_the_same_name_is_refused_not_overwritten(tmp_path, content):
    mine = tmp_path / "clip.json"
    mine.write_text(content)
    with pytest.raises(
        InvalidRequest,
        match=r"^'.*clip\.json' exists and was not written by ltx-mlx; .*"
        r"choose another output name\.$",
    ):
        check_outputs(tmp_path / "clip.mp4", [1])
    with pytest.raises(InvalidRequest):
        write_result(_result(), tmp_path / "clip.mp4")
    assert mine.read_text() == content and sorted(p.name for p in tmp_path.iterdir()) == ["clip.json"]


def test_a_failed_sidecar_write_leaves_no_temporary_file_and_the_old_pair_unchanged(tmp_path, monkeypatch):
    out = tmp_path / "clip.mp4"
    write_result(_result(), out)
    before = (out.read_bytes(), out.with_suffix(".json").read_bytes())

    def full_disk(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(
        OutputWriteError,
        match=r"^Could not write 'clip.json': the disk is full; the existing "
        r"file was left as it was\.$",
    ):
        write_result(_result(), out)
    monkeypatch.undo()
    assert (out.read_bytes(), out.with_suffix(".json").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mp4"]


def test_a_failed_video_write_leaves_the_sidecar_unchanged_too(tmp_path, monkeypatch):
    out = tmp_path / "clip.mp4"
    write_result(_result(), out)
    before = (out.read_bytes(), out.with_suffix(".json").read_bytes())

    def failing_encode(path, *args, **kwargs):
        raise VideoWriteError("Could not write 'clip.mp4': the disk is full; the existing file was left as it was.")

    monkeypatch.setattr(results, "write_video", failing_encode)
    with pytest.raises(VideoWriteError):
        write_result(_result(), out)
    assert (out.read_bytes(), out.with_suffix(".json").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mp4"]
