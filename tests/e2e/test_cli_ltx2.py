"""`ltx-mlx` with the tiny LTX-2 model: sound in the MP4, `--audio`, `--no-audio`, extending a clip with its
sound, the family-grouped model list, and the combinations a 0.9.x model refuses (exit 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ltx_mlx_core.video.audio import read_audio
from ltx_mlx_core.video.probe import probe_media
from tests.e2e.cli import run_cli
from tests.sound_clips import sound_clip, tone_file

SIZE = ["--width", "128", "--height", "128", "--fps", "24"]


@pytest.fixture(scope="module")
def ltx2_home(home: Path) -> Path:
    made = run_cli("models", "make-tiny", "--family", "ltx2", env_home=home)
    assert made.returncode == 0, made.stderr
    return home


def generate(home: Path, *args: str):
    return run_cli("generate", "--model", "tiny-ltx2", "--prompt", "rain", *SIZE, "--quiet", *args, env_home=home)


def test_generate_writes_picture_and_sound(ltx2_home, tmp_path) -> None:
    out = tmp_path / "rain.mp4"
    done = generate(ltx2_home, "--frames", "17", "--output", str(out))
    assert done.returncode == 0, done.stderr
    info = probe_media(out)
    assert info.frames == 17 and info.audio_codec == "aac"
    assert abs(len(read_audio(out, rate=48000)) / 48000 - 17 / 24) <= 1 / 24


def test_audio_file_drives_the_clip_and_no_audio_drops_the_track(ltx2_home, tmp_path) -> None:
    tone = tone_file(tmp_path / "tone.flac", seconds=2.0)
    guided = tmp_path / "guided.mp4"
    done = generate(ltx2_home, "--frames", "9", "--audio", f"{tone}@0.5", "--output", str(guided))
    assert done.returncode == 0, done.stderr
    assert probe_media(guided).audio_codec == "aac"
    silent = tmp_path / "silent.mp4"
    done = generate(ltx2_home, "--frames", "9", "--no-audio", "--output", str(silent))
    assert done.returncode == 0, done.stderr
    assert probe_media(silent).audio_codec is None


def test_extend_continues_the_sound(ltx2_home, tmp_path) -> None:
    first = sound_clip(tmp_path / "first.mp4", seconds=17 / 24, fps=24, size=(128, 128), frequency=440)
    longer = tmp_path / "longer.mp4"
    done = run_cli(
        "extend", "--model", "tiny-ltx2", "--prompt", "rain", "--input", str(first), "--frames", "17",
        "--overlap", "9", "--quiet", "--output", str(longer), env_home=ltx2_home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = probe_media(longer)
    assert info.frames == 17 + 8 and info.audio_codec == "aac"
    seconds = len(read_audio(longer, rate=48000)) / 48000
    assert abs(seconds - 25 / 24) <= 1 / 24, seconds
    # The input's tone opens the extended clip (through a second AAC encode), then the continuation's sound.
    before, after = read_audio(first, rate=48000), read_audio(longer, rate=48000)
    head = slice(2048, 2048 + 24000)
    correlation = np.corrcoef(before[head].ravel(), after[head].ravel())[0, 1]
    assert correlation > 0.99, correlation


@pytest.mark.parametrize("option", [["--audio", "x.wav"], ["--no-audio"]])
def test_sound_options_for_a_silent_model_are_refused(home, tmp_path, option) -> None:
    (tmp_path / "x.wav").write_bytes(b"")
    done = run_cli(
        "generate", "--model", "tiny", "--prompt", "rain", *option, "--output", str(tmp_path / "o.mp4"),
        env_home=home,
    )  # fmt: skip
    assert done.returncode == 2
    assert "makes silent video" in done.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_models_list_groups_by_family(ltx2_home) -> None:
    listed = run_cli("models", "list", env_home=ltx2_home)
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout
    assert text.index("LTX-Video 0.9.x") < text.index("tiny ") < text.index("LTX-2 family") < text.index("tiny-ltx2")
