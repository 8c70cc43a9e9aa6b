"""`ltx-mlx generate --progress-json --request-json`: what a program driving the CLI (the app's runs across
hosts) relies on: the request travels whole in the command line, and stderr carries one JSON object per
stage and step, then the output path, or the refusal as an error event."""

from __future__ import annotations

import json

from ltx_mlx_core.pipeline.progress_output import parse_progress_line
from ltx_mlx_core.pipeline.request import GenerationRequest
from tests.e2e.cli import run_cli


def events(stderr: str) -> list[dict]:
    return [event for line in stderr.splitlines() if (event := parse_progress_line(line)) is not None]


def test_progress_json_reports_stages_steps_and_the_written_video(home, tmp_path):
    request = GenerationRequest(
        prompt="a red ball", model="tiny", width=64, height=64, num_frames=9, fps=8.0, seeds=[5],
        config_overrides={"first_pass": {"guidance_scale": 1.0}},  # no option spells this: the JSON carries it
    )  # fmt: skip
    done = run_cli(
        "generate", "--model", "tiny", "--prompt", "a red ball", "--request-json", json.dumps(request.to_dict()),
        "--output", str(tmp_path / "clip.mp4"), "--progress-json", env_home=home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = events(done.stderr)
    stages = [e["name"] for e in seen if e["event"] == "stage"]
    assert stages == ["load", "text_encode", "first_pass", "upsample", "second_pass", "decode"]
    steps = [e for e in seen if e["event"] == "step"]
    assert steps and all(e["step"] <= e["total"] for e in steps)
    assert seen[-1] == {"event": "finished", "outputs": [str(tmp_path / "clip.mp4")], "parallel": {}}
    assert "|" not in done.stderr  # no progress bar beside the JSON
    sidecar = json.loads((tmp_path / "clip.json").read_text())["request"]
    assert sidecar["seeds"] == [5] and sidecar["config_overrides"] == request.config_overrides


def test_a_refusal_is_an_error_event_and_a_mismatched_request_is_refused(home, tmp_path):
    request = GenerationRequest(prompt="a red ball", model="tiny", width=64, height=64, num_frames=9, fps=8.0)
    args = ("--request-json", json.dumps(request.to_dict()), "--output", str(tmp_path / "clip.mp4"), "--progress-json")
    other = run_cli("generate", "--model", "tiny", "--prompt", "a blue ball", *args, env_home=home)
    assert other.returncode == 2
    assert events(other.stderr) == [
        {"event": "error", "kind": "InvalidRequest", "message": "--request-json holds another model or prompt than --model and --prompt name."}
    ]  # fmt: skip
    huge = run_cli(
        "generate", "--model", "tiny", "--prompt", "a red ball", *args, env_home=home, LTX_MLX_MEMORY_LIMIT_BYTES="1000"
    )
    assert huge.returncode == 1
    assert [e["kind"] for e in events(huge.stderr)] == ["OutOfMemoryRisk"]
