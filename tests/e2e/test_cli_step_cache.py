"""`ltx-mlx generate --step-cache` on the tiny random-weight model."""

from __future__ import annotations

import json

from tests.e2e.cli import run_cli as _cli


def test_generate_with_a_step_cache_threshold_reports_the_skipped_steps(home, tmp_path):
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
        "9",
        "--step-cache",
        "100",
        "--output",
        str(out),
        env_home=home,
    )
    assert run.returncode == 0, run.stderr
    sidecar = json.loads(out.with_suffix(".json").read_text())
    # The tiny config's passes have 3 and 2 steps: only the first pass has a step between its first and last.
    assert sidecar["request"]["step_cache"] == "100.0"
    assert sidecar["step_cache"]["steps_skipped"] == 1 and sidecar["step_cache"]["steps_computed"] == 4
    assert "1 skipped" in run.stderr


def test_an_unknown_step_cache_value_is_refused_before_anything_runs(home, tmp_path):
    run = _cli(
        "generate",
        "--model",
        "tiny",
        "--prompt",
        "p",
        "--step-cache",
        "sometimes",
        "--output",
        str(tmp_path / "o.mp4"),
        env_home=home,
    )
    assert run.returncode == 2
    assert "off, faster, fastest or a threshold" in run.stderr
    assert not (tmp_path / "o.mp4").exists()
