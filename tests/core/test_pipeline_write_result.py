"""write_result: one MP4 + JSON sidecar per seed, named so several seeds never collide."""
from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np

from ltx_mlx_core.pipeline import output_paths, write_result
from ltx_mlx_core.pipeline.events import VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest


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
    assert paths == output_paths(tmp_path / "out.mp4", [1, 22]) == [tmp_path / "out_seed1.mp4",
                                                                     tmp_path / "out_seed22.mp4"]
    for path, seed, value in zip(paths, (1, 22), (30, 200)):
        assert abs(int(iio.imread(path).mean()) - value) <= 3
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["request"]["seeds"] == [seed]
    assert not (tmp_path / "out.mp4").exists()
