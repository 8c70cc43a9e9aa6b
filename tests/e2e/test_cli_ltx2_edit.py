"""`ltx-mlx` editing with the tiny LTX-2 model: `--lora`, `--control` with an IC-LoRA, `retake`, and the LoRA
files refused before anything runs (exit 2, naming the file and the first tensor that does not fit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltx_mlx_core.video.probe import probe_media
from tests.e2e.cli import run_cli
from tests.ltx2_loras import tiny_lora
from tests.sound_clips import sound_clip

SIZE = ["--width", "128", "--height", "128", "--fps", "24", "--quiet"]


@pytest.fixture(scope="module")
def ltx2_home(home: Path) -> Path:
    made = run_cli("models", "make-tiny", "--family", "ltx2", env_home=home)
    assert made.returncode == 0, made.stderr
    return home


def generate(home: Path, *args: str):
    return run_cli("generate", "--model", "tiny-ltx2", "--prompt", "rain", *SIZE, *args, env_home=home)


def test_a_lora_changes_the_clip_and_is_recorded(ltx2_home, tmp_path) -> None:
    lora = tiny_lora(tmp_path / "style.safetensors")
    plain, styled = tmp_path / "plain.mp4", tmp_path / "styled.mp4"
    assert generate(ltx2_home, "--frames", "9", "--no-audio", "--output", str(plain)).returncode == 0
    done = generate(ltx2_home, "--frames", "9", "--no-audio", "--lora", f"{lora}:0.8", "--output", str(styled))
    assert done.returncode == 0, done.stderr
    sidecar = json.loads(styled.with_suffix(".json").read_text())
    assert sidecar["request"]["loras"] == [{"path": str(lora), "strength": 0.8}]
    assert plain.read_bytes() != styled.read_bytes()


def test_bad_lora_files_are_refused_naming_file_and_tensor(ltx2_home, tmp_path) -> None:
    wrong = tiny_lora(tmp_path / "wrong.safetensors", wrong_first=True)
    done = generate(ltx2_home, "--frames", "9", "--lora", str(wrong), "--output", str(tmp_path / "a.mp4"))
    assert done.returncode == 2, done.stderr
    assert "wrong.safetensors" in done.stderr and "lora_" in done.stderr
    truncated = tmp_path / "cut.safetensors"
    whole = tiny_lora(tmp_path / "whole.safetensors").read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    done = generate(ltx2_home, "--frames", "9", "--lora", str(truncated), "--output", str(tmp_path / "b.mp4"))
    assert done.returncode == 2 and "cut.safetensors" in done.stderr
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()


def test_control_clip_with_an_ic_lora(ltx2_home, tmp_path) -> None:
    control = sound_clip(tmp_path / "depth.mp4", seconds=17 / 24, fps=24, size=(128, 128), frequency=None)
    ic_lora = tiny_lora(tmp_path / "ic.safetensors", seed=3, metadata={"reference_downscale_factor": "1"})
    out = tmp_path / "controlled.mp4"
    done = generate(
        ltx2_home, "--frames", "17", "--control", f"{control}:0.9", "--lora", str(ic_lora), "--output", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert probe_media(out).frames == 17
    alone = generate(ltx2_home, "--frames", "17", "--control", str(control), "--output", str(tmp_path / "x.mp4"))
    assert alone.returncode == 2 and "IC-LoRA" in alone.stderr


def test_retake_regenerates_a_stretch_and_keeps_the_length(ltx2_home, tmp_path) -> None:
    clip = sound_clip(tmp_path / "clip.mp4", seconds=27 / 24, fps=24, size=(128, 128), frequency=440)
    out = tmp_path / "retaken.mp4"
    done = run_cli(
        "retake", "--model", "tiny-ltx2", "--prompt", "thunder", "--input", str(clip), "--start", "0.4",
        "--end", "0.6", "--quiet", "--output", str(out), env_home=ltx2_home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = probe_media(out)
    assert info.frames == 27 and info.audio_codec == "aac"  # 25 retaken frames, the last 2 as they were
    request = json.loads(out.with_suffix(".json").read_text())["request"]
    assert (request["retake_start"], request["retake_end"], request["num_frames"]) == (0.4, 0.6, 25)
    on_silent = run_cli(
        "retake", "--model", "tiny", "--prompt", "x", "--input", str(clip), "--start", "0", "--end", "0.2",
        "--output", str(tmp_path / "no.mp4"), env_home=ltx2_home,
    )  # fmt: skip
    assert on_silent.returncode == 2 and "LTX-2 models only" in on_silent.stderr
