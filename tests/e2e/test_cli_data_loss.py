"""The command line never loses a file: a failed write exits non-zero with one sentence, leaves what was
there as it was and no temporary file behind (issue 22, "Data loss")."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ltx_mlx_core.video.io import write_video

REPO = Path(__file__).resolve().parents[2]
SMALL = ("--model", "tiny", "--width", "64", "--height", "64", "--frames", "17", "--quiet")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LTX_MLX_MEMORY_LIMIT_BYTES"}
    env.update(LTX_MLX_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    return env


def _cli(*args: str, home: Path, umask: int = 0o022) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ltx_mlx_core.cli", *args],
        cwd=REPO,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: os.umask(umask),
    )


def _message(run: subprocess.CompletedProcess) -> str:
    """The one line the CLI prints on failure (progress lines aside)."""
    lines = [line for line in run.stderr.splitlines() if line.startswith("ltx-mlx: ")]
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("cli_home")
    made = _cli("models", "make-tiny", home=home)
    assert made.returncode == 0, made.stderr
    return home


@pytest.fixture
def small_disk(tmp_path):
    """A 100 KB tmpfs (root only); skipped where the machine does not allow mounting one."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip() or 'mount failed'}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_generate_on_a_full_disk_exits_1_and_keeps_the_existing_video(home, small_disk):
    keep = small_disk / "keep.mp4"
    first = _cli("generate", *SMALL, "--prompt", "a", "--seed", "1", "--output", str(keep), home=home)
    assert first.returncode == 0, first.stderr
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    (small_disk / "filler").write_bytes(b"\0" * (free - 8192))  # room for the sidecar, not the video
    before = _snapshot(small_disk)

    run = _cli("generate", *SMALL, "--prompt", "b", "--seed", "2", "--output", str(keep), home=home)

    assert run.returncode == 1
    assert _message(run) == (
        "ltx-mlx: Could not write 'keep.mp4': the disk is full; the existing file was left as it was."
    )
    assert _snapshot(small_disk) == before  # keep.mp4, keep.json, filler: byte for byte, nothing added


@pytest.mark.parametrize("name", ["out.json", "out.txt", "out.gif", "out.webm"])
def test_an_output_suffix_the_writer_cannot_make_exits_2_before_the_model_loads(home, tmp_path, name):
    existing = tmp_path / name
    existing.write_text("the user's file")
    run = _cli("generate", "--model", "tiny", "--prompt", "p", "--output", str(existing), home=home)
    assert run.returncode == 2
    assert _message(run) == (
        f"ltx-mlx: '{name}' has '{existing.suffix}'; a video is written as .mp4, .m4v, .mov or .mkv."
    )
    assert "load" not in run.stderr  # refused before the first stage
    assert _snapshot(tmp_path) == {name: b"the user's file"}


def test_a_users_json_beside_the_output_is_refused_up_front_and_kept(home, tmp_path):
    notes = tmp_path / "clip.json"
    notes.write_text('{"my": "notes"}')
    run = _cli("generate", *SMALL, "--prompt", "p", "--output", str(tmp_path / "clip.mp4"), home=home)
    assert run.returncode == 2
    assert _message(run) == (
        f"ltx-mlx: '{notes}' exists and was not written by ltx-mlx; the video's settings "
        "are saved under that name, so move that file or choose another output name."
    )
    assert _snapshot(tmp_path) == {"clip.json": b'{"my": "notes"}'}


def test_outputs_follow_the_umask_and_a_replaced_output_keeps_its_mode(home, tmp_path):
    out = tmp_path / "clip.mp4"
    run = _cli("generate", *SMALL, "--prompt", "p", "--output", str(out), home=home, umask=0o022)
    assert run.returncode == 0, run.stderr
    for path in (out, out.with_suffix(".json")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o640)
    run = _cli("generate", *SMALL, "--prompt", "q", "--output", str(out), home=home, umask=0o077)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.with_suffix(".json").read_text())["request"]["prompt"] == "q"  # replaced: it was ours
    for path in (out, out.with_suffix(".json")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mp4"]


def _long_project(folder: Path) -> Path:
    """A timeline whose export takes many seconds: one noisy clip, many times over, at the slowest preset."""
    clip = folder / "noise.mp4"
    write_video(
        clip, np.random.default_rng(0).integers(0, 255, (49, 256, 256, 3), dtype=np.uint8), fps=24, preset="ultrafast"
    )
    project = folder / "Long.ltxproj"
    project.mkdir()
    clips = [{"takes": [{"path": str(clip)}], "active": 0} for _ in range(40)]
    (project / "project.json").write_text(json.dumps({"version": 1, "fps": 24, "clips": clips}))
    return project


def test_sigterm_mid_encode_exits_143_and_leaves_no_temporary_file(home, tmp_path):
    project = _long_project(tmp_path)
    out_folder = tmp_path / "out"
    out_folder.mkdir()
    film = out_folder / "film.mp4"
    film.write_bytes(b"the previous export")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ltx_mlx_core.cli",
            "stitch",
            str(project),
            "--output",
            str(film),
            "--preset",
            "veryslow",
        ],
        cwd=REPO,
        env=_env(home),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".film.mp4.") for p in out_folder.iterdir()):  # encoding has begun
        assert process.poll() is None and time.monotonic() < deadline, "the export ended before it was stopped"
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("ltx-mlx: ")]
    assert lines == ["ltx-mlx: terminated; files being written were left as they were."], stderr
    assert _snapshot(out_folder) == {"film.mp4": b"the previous export"}
