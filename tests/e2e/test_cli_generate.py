"""`ltx-mlx generate` / `extend` as scripts use them, on the tiny random-weight model."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.video.io import write_video
from tests.e2e.cli import run_cli as _cli


def test_generate_writes_a_playable_mp4_with_the_requested_frames_and_a_sidecar(home, tmp_path):
    out = tmp_path / "out.mp4"
    run = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "a red ball",
        "--width",
        "64",
        "--height",
        "64",
        "--frames",
        "17",
        "--fps",
        "12",
        "--seed",
        "3",
        "--output",
        str(out),
        env_home=home,
    )
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
    run = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "waves",
        "--width",
        "64",
        "--height",
        "64",
        "--frames",
        "9",
        "--seeds",
        "1",
        "2",
        "--quiet",
        "--output",
        str(out),
        env_home=home,
    )
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
    run = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "p",
        "--width",
        "64",
        "--height",
        "64",
        "--frames",
        "9",
        "--image",
        f"{image}@0:1.0",
        "--quiet",
        "--output",
        str(out),
        env_home=home,
    )
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
    run = _cli(
        "generate", "--model", "tiny", "--prompt", "p", "--output", str(tmp_path / "x.mp4"), *extra, env_home=home
    )
    assert run.returncode == 2
    assert fragment in run.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_unknown_model_is_invalid_input(home, tmp_path):
    run = _cli(
        "generate", "--model", "no-such-model", "--prompt", "p", "--output", str(tmp_path / "x.mp4"), env_home=home
    )
    assert run.returncode == 2
    assert "Unknown model 'no-such-model'" in run.stderr and "tiny" in run.stderr


def test_a_catalog_model_not_downloaded_fails_with_exit_1_and_says_how_to_get_it(home, tmp_path):
    run = _cli(
        "generate",
        "--model",
        "ltxv-2b-0.9.8-distilled",
        "--prompt",
        "p",
        "--output",
        str(tmp_path / "x.mp4"),
        env_home=home,
        HF_HOME=str(tmp_path / "empty-hf"),
    )
    assert run.returncode == 1
    assert "ltx-mlx models download ltxv-2b-0.9.8-distilled" in run.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_a_request_too_big_for_the_machine_fails_with_exit_1_the_estimate_and_suggestions(home, tmp_path):
    out = tmp_path / "big.mp4"
    run = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "p",
        "--width",
        "64",
        "--height",
        "64",
        "--frames",
        "9",
        "--output",
        str(out),
        env_home=home,
        LTX_MLX_MEMORY_LIMIT_BYTES=str(1 << 20),
    )
    assert run.returncode == 1, run.stderr
    message = run.stderr.split("ltx-mlx: ", 1)[1]
    assert "1 MiB is usable" in message and "transformer " in message and "activations " in message
    for suggestion in ("Lower the resolution", "--quantize 8", "2B model"):
        assert suggestion in message
    assert "Traceback" not in run.stderr and not out.exists() and not out.with_suffix(".json").exists()


def test_sidecar_records_the_residency_in_effect_and_the_request_as_given(home, tmp_path):
    for residency, expected in (
        ("auto", ("resident", "stream_components", "stream_blocks")),
        ("stream_components", ("stream_components",)),
    ):
        out = tmp_path / f"{residency}.mp4"
        run = _cli(
            "generate",
            "--model",
            "tiny",
            "--prompt",
            "p",
            "--width",
            "64",
            "--height",
            "64",
            "--frames",
            "9",
            "--residency",
            residency,
            "--quiet",
            "--output",
            str(out),
            env_home=home,
        )
        assert run.returncode == 0, run.stderr
        sidecar = json.loads(out.with_suffix(".json").read_text())
        assert sidecar["residency_in_effect"] in expected
        assert sidecar["request"]["residency"] == residency  # what was asked, so a re-run asks the same
        assert GenerationRequest.from_dict(sidecar["request"]).to_dict() == sidecar["request"]


def test_generate_with_a_video_condition(home, tmp_path):
    clip = tmp_path / "clip.mp4"
    ramp = np.linspace(0, 255, 9, dtype=np.uint8)[:, None, None, None]
    write_video(clip, np.broadcast_to(ramp, (9, 64, 64, 3)).copy(), fps=12)
    out = tmp_path / "v2v.mp4"
    run = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "p",
        "--width",
        "64",
        "--height",
        "64",
        "--frames",
        "17",
        "--video",
        f"{clip}@8:0.9",
        "--quiet",
        "--output",
        str(out),
        env_home=home,
    )
    assert run.returncode == 0, run.stderr
    assert iio.imread(out).shape == (17, 64, 64, 3)
    (item,) = json.loads(out.with_suffix(".json").read_text())["request"]["conditioning"]
    assert (item["path"], item["frame"], item["strength"]) == (str(clip), 8, 0.9)
    not_a_video = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "p",
        "--video",
        str(tmp_path / "still.png"),
        "--output",
        str(tmp_path / "x.mp4"),
        env_home=home,
    )
    assert not_a_video.returncode == 2 and "is not a video file" in not_a_video.stderr


def test_negative_prompt_reaches_the_guided_steps(home, tmp_path):
    """With CFG on (guidance 3), a different negative prompt gives a different video; both are recorded."""
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "pipeline_type: base\ntimesteps: [1.0, 0.5]\nguidance_scale: 3\nprecision: float32\n"
        "text_encoder_max_tokens: 16\n"
    )
    videos = {}
    for negative in ("blurry", "dark and noisy"):
        out = tmp_path / f"{negative.replace(' ', '_')}.mp4"
        run = _cli(
            "generate",
            "--model",
            "tiny",
            "--prompt",
            "a red ball",
            "--negative-prompt",
            negative,
            "--width",
            "64",
            "--height",
            "64",
            "--frames",
            "9",
            "--steps-config",
            str(config),
            "--quiet",
            "--output",
            str(out),
            env_home=home,
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(out.with_suffix(".json").read_text())["request"]["negative_prompt"] == negative
        videos[negative] = iio.imread(out)
    assert not np.array_equal(videos["blurry"], videos["dark and noisy"])


def test_extend_writes_input_plus_continuation(home, tmp_path):
    source = tmp_path / "in.mp4"
    first = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "p",
        "--width",
        "64",
        "--height",
        "64",
        "--frames",
        "17",
        "--quiet",
        "--output",
        str(source),
        env_home=home,
    )
    assert first.returncode == 0, first.stderr
    out = tmp_path / "extended.mp4"
    run = _cli(
        "extend",
        "--model",
        "tiny",
        "--input",
        str(source),
        "--prompt",
        "p",
        "--frames",
        "17",
        "--overlap",
        "9",
        "--quiet",
        "--output",
        str(out),
        env_home=home,
    )
    assert run.returncode == 0, run.stderr
    assert iio.imread(out).shape == (17 + 17 - 9, 64, 64, 3)
    only = tmp_path / "continuation.mp4"
    run = _cli(
        "extend",
        "--model",
        "tiny",
        "--input",
        str(source),
        "--prompt",
        "p",
        "--frames",
        "17",
        "--overlap",
        "9",
        "--continuation-only",
        "--quiet",
        "--output",
        str(only),
        env_home=home,
    )
    assert run.returncode == 0, run.stderr
    assert iio.imread(only).shape[0] == 17 - 9


def test_steps_config_selects_a_single_pass_pipeline(home, tmp_path):
    config = tmp_path / "one-pass.yaml"
    config.write_text("pipeline_type: base\ntimesteps: [1.0, 0.5]\nprecision: float32\ntext_encoder_max_tokens: 16\n")
    out = tmp_path / "one.mp4"
    run = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "p",
        "--width",
        "96",
        "--height",
        "64",
        "--frames",
        "9",
        "--steps-config",
        str(config),
        "--output",
        str(out),
        env_home=home,
    )
    assert run.returncode == 0, run.stderr
    assert "denoise" in run.stderr and "first_pass" not in run.stderr
    assert iio.imread(out).shape == (9, 64, 96, 3)
