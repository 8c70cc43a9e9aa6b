"""`mlx.launch --backend ring -n 2 -- ltx-mlx generate` equals a one-process run of the tiny LTX-2 model.

The real CLI and `Pipeline.generate` (distilled two stages, video and audio latents, decode of picture and
sound), once in one process and once per parallel mode over two ranks: each denoising stage's video and
audio latents (from the stage checkpoints) and the sound track are compared.
"""

from __future__ import annotations

import json
import subprocess

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.video.audio import read_audio
from tests.distributed.launching import REPO, TIMEOUT_S, cli, environment, launch

BOUND = 1e-4
STAGES = ("first_pass", "second_pass")
ARGS = ("generate", "--model", "tiny-ltx2", "--prompt", "rain on a roof", "--width", "128", "--height", "64",
        "--frames", "9", "--fps", "24")  # fmt: skip


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def stage_arrays(job_dir) -> dict[str, np.ndarray]:
    arrays = {}
    for stage in STAGES:
        saved = mx.load(str(job_dir / f"seed0_{stage}.safetensors"))
        arrays[f"{stage} video"] = np.array(saved["latents"])
        arrays[f"{stage} audio"] = np.array(saved["audio"])
    return arrays


@pytest.fixture(scope="module")
def ltx2_home(home):
    made = subprocess.run(
        cli("models", "make-tiny", "--family", "ltx2"), cwd=REPO, env=environment(home), capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return home


@pytest.fixture(scope="module")
def single(ltx2_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("single_ltx2")
    args = cli(*ARGS, "--job-dir", str(folder / "job"), "--output", str(folder / "clip.mp4"), "--quiet")
    done = subprocess.run(args, cwd=REPO, env=environment(ltx2_home), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.parametrize("mode", ["tensor", "sequence"])
def test_two_processes_generate_picture_and_sound_as_one_does(ltx2_home, single, tmp_path, mode):
    args = (*ARGS, "--parallel", mode, "--job-dir", str(tmp_path / "job"), "--output", str(tmp_path / "clip.mp4"))
    finished = launch(cli(*args), home=ltx2_home)
    assert (tmp_path / "clip.mp4").is_file(), finished.stdout + finished.stderr
    reference = stage_arrays(single / "job")
    for name, latents in stage_arrays(tmp_path / "job").items():
        assert relative_error(latents, reference[name]) <= BOUND, name
    ours, theirs = read_audio(tmp_path / "clip.mp4", rate=48000), read_audio(single / "clip.mp4", rate=48000)
    assert ours.shape == theirs.shape
    parallel = json.loads((tmp_path / "clip.json").read_text())["parallel"]
    assert (parallel["mode"], parallel["processes"]) == (mode, 2)
