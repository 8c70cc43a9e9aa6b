"""`ltx-mlx generate` / `extend` as scripts use them, on the tiny random-weight model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, env_home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, LTX_MLX_HOME=str(env_home), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "ltx_mlx_core.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One LTX_MLX_HOME with the tiny model made by the CLI, shared by this module's tests."""
    home = tmp_path_factory.mktemp("cli_home")
    made = _cli("models", "make-tiny", env_home=home)
    assert made.returncode == 0, made.stderr
    return home


def test_generate_writes_a_playable_mp4_with_the_requested_frames_and_a_sidecar(home, tmp_path):
    out = tmp_path / "out.mp4"
    run = _cli("generate", "--model", "tiny", "--prompt", "a red ball", "--width", "64", "--height", "64",
               "--frames", "17", "--fps", "12", "--seed", "3", "--output", str(out), env_home=home)
    assert run.returncode == 0, run.stderr
    frames = iio.imread(out)
    assert frames.shape == (17, 64, 64, 3)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["seed"] == 3 and sidecar["request"]["prompt"] == "a red ball"
    assert sidecar["request"]["num_frames"] == 17
    # Progress went to stderr with stage names and step counts.
    assert "first_pass" in run.stderr and "3/3" in run.stderr


def test_generate_with_several_seeds_writes_one_file_per_seed(home, tmp_path):
    out = tmp_path / "clip.mp4"
    run = _cli("generate", "--model", "tiny", "--prompt", "waves", "--width", "64", "--height", "64",
               "--frames", "9", "--seeds", "1", "2", "--quiet", "--output", str(out), env_home=home)
    assert run.returncode == 0, run.stderr
    for seed in (1, 2):
        path = tmp_path / f"clip_seed{seed}.mp4"
        assert iio.imread(path).shape[0] == 9
        assert path.with_suffix(".json").is_file()
    assert not np.array_equal(iio.imread(tmp_path / "clip_seed1.mp4"), iio.imread(tmp_path / "clip_seed2.mp4"))


def test_generate_with_an_image_condition(home, tmp_path):
    image = tmp_path / "first.png"
    iio.imwrite(image, np.full((64, 64, 3), 200, np.uint8))
    out = tmp_path / "cond.mp4"
    run = _cli("generate", "--model", "tiny", "--prompt", "p", "--width", "64", "--height", "64", "--frames", "9",
               "--image", f"{image}@0:1.0", "--quiet", "--output", str(out), env_home=home)
    assert run.returncode == 0, run.stderr
    assert iio.imread(out).shape == (9, 64, 64, 3)


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--frames", "10"], "8k+1"),
        (["--width", "65"], "multiple of 32"),
        (["--image", "missing.png"], "does not exist"),
    ],
)
def test_invalid_input_exits_2_with_a_message(home, tmp_path, extra, fragment):
    run = _cli("generate", "--model", "tiny", "--prompt", "p", "--output", str(tmp_path / "x.mp4"), *extra,
               env_home=home)
    assert run.returncode == 2
    assert fragment in run.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_unknown_model_fails_with_a_message(home, tmp_path):
    run = _cli("generate", "--model", "no-such-model", "--prompt", "p", "--output", str(tmp_path / "x.mp4"),
               env_home=home)
    assert run.returncode in (1, 2)
    assert "no-such-model" in run.stderr


def test_extend_writes_input_plus_continuation(home, tmp_path):
    source = tmp_path / "in.mp4"
    first = _cli("generate", "--model", "tiny", "--prompt", "p", "--width", "64", "--height", "64",
                 "--frames", "17", "--quiet", "--output", str(source), env_home=home)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "extended.mp4"
    run = _cli("extend", "--model", "tiny", "--input", str(source), "--prompt", "p", "--frames", "17",
               "--overlap", "9", "--quiet", "--output", str(out), env_home=home)
    assert run.returncode == 0, run.stderr
    assert iio.imread(out).shape == (17 + 17 - 9, 64, 64, 3)
    only = tmp_path / "continuation.mp4"
    run = _cli("extend", "--model", "tiny", "--input", str(source), "--prompt", "p", "--frames", "17",
               "--overlap", "9", "--continuation-only", "--quiet", "--output", str(only), env_home=home)
    assert run.returncode == 0, run.stderr
    assert iio.imread(only).shape[0] == 17 - 9


def test_steps_config_selects_a_single_pass_pipeline(home, tmp_path):
    config = tmp_path / "one-pass.yaml"
    config.write_text("pipeline_type: base\ntimesteps: [1.0, 0.5]\nprecision: float32\ntext_encoder_max_tokens: 16\n")
    out = tmp_path / "one.mp4"
    run = _cli("generate", "--model", "tiny", "--prompt", "p", "--width", "96", "--height", "64", "--frames", "9",
               "--steps-config", str(config), "--output", str(out), env_home=home)
    assert run.returncode == 0, run.stderr
    assert "denoise" in run.stderr and "first_pass" not in run.stderr
    assert iio.imread(out).shape == (9, 64, 96, 3)
