"""`mlx.launch --backend ring -n 2 -- ltx-mlx generate` equals a one-process run of the tiny 0.9.x model.

The real CLI and `Pipeline.generate` (two passes, upsampling, decode), once in one process and
once per parallel mode over two ranks; every stage's checkpointed latents are compared, and the
videos. Rank 0 alone writes the video; the sidecar says which mode ran and how many transformer
bytes rank 0 held.
"""

from __future__ import annotations

import json
import subprocess

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.video.io import read_video
from ltx_mlx_core.weights.safetensors_io import read_header
from tests.distributed.launching import REPO, TIMEOUT_S, cli, environment, launch

BOUND = 1e-4  # relative to the latents' largest magnitude (the tiny config runs in float32)
STAGES = ("first_pass", "upsample", "second_pass")
ARGS = ("generate", "--model", "tiny", "--prompt", "a red ball", "--width", "64", "--height", "96", "--frames", "9")


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def stage_latents(job_dir) -> dict[str, np.ndarray]:
    return {stage: np.array(mx.load(str(job_dir / f"seed0_{stage}.safetensors"))["latents"]) for stage in STAGES}


@pytest.fixture(scope="module")
def single(home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("single")
    args = cli(*ARGS, "--job-dir", str(folder / "job"), "--output", str(folder / "clip.mp4"), "--quiet")
    done = subprocess.run(args, cwd=REPO, env=environment(home), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.parametrize("mode", ["tensor", "sequence"])
def test_two_processes_generate_what_one_does(home, single, tmp_path, mode):
    args = (*ARGS, "--parallel", mode, "--job-dir", str(tmp_path / "job"), "--output", str(tmp_path / "clip.mp4"))
    finished = launch(cli(*args), home=home)
    assert (tmp_path / "clip.mp4").is_file(), finished.stdout + finished.stderr

    reference = stage_latents(single / "job")
    for stage, latents in stage_latents(tmp_path / "job").items():
        assert relative_error(latents, reference[stage]) <= BOUND, stage
    # The other rank ran the same steps (its checkpoints sit in its own folder) and wrote no video.
    for stage, latents in stage_latents(tmp_path / "job" / "rank1").items():
        assert np.array_equal(latents, stage_latents(tmp_path / "job")[stage]), stage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mp4", "job"]
    ours, theirs = read_video(tmp_path / "clip.mp4")[0], read_video(single / "clip.mp4")[0]
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1

    parallel = json.loads((tmp_path / "clip.json").read_text())["parallel"]
    assert (parallel["mode"], parallel["processes"]) == (mode, 2)
    whole = sum(
        info.nbytes
        for name, info in read_header(home / "data" / "models" / "tiny" / "tiny.safetensors").tensors.items()
        if name.startswith("model.diffusion_model.")
    )
    held = parallel["transformer_bytes_rank0"]
    if mode == "tensor":
        assert held < 0.8 * whole, (held, whole)  # the tiny model's embedders are a third of it
    else:
        assert held == whole
