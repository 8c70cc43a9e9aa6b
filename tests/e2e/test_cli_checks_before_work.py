"""Every argument, output path and input medium is checked before any model loads: exit 2, one sentence,
nothing written (issue 22, "Checked after the work instead of before")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bad_media import write_bad_media

REPO = Path(__file__).resolve().parents[2]
SMALL = ("--model", "tiny", "--prompt", "p", "--width", "64", "--height", "64", "--frames", "9")


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LTX_MLX_MEMORY_LIMIT_BYTES"}
    env.update(LTX_MLX_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "ltx_mlx_core.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def refused(run: subprocess.CompletedProcess) -> str:
    """The exit-2 sentence, after checking nothing ran: no stage started, no traceback, no ffmpeg banner."""
    assert run.returncode == 2, run.stderr
    assert "[1/" not in run.stderr and "warm-up" not in run.stderr, "work started before the refusal"
    lines = run.stderr.strip().splitlines()
    # "ltx-mlx: SENTENCE", or "ltx-mlx SUBCOMMAND: argument --X: SENTENCE (see ...)" from the parser.
    prefix = re.match(r"ltx-mlx(?: [a-z-]+)?: (?:argument [^:]+: )?", lines[0]) if len(lines) == 1 else None
    assert prefix is not None, run.stderr
    return re.sub(r" \(see `ltx-mlx [a-z-]+ --help`\)$", "", lines[0][prefix.end() :])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("cli_home")
    assert _cli("models", "make-tiny", home=home).returncode == 0
    return home


@pytest.fixture
def read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(folder)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_an_output_whose_parent_is_a_file_is_refused_before_the_model_loads(home, tmp_path):
    (tmp_path / "notes").write_text("a file")
    message = refused(_cli("generate", *SMALL, "--output", str(tmp_path / "notes" / "x.mp4"), home=home))
    assert message == f"The output's folder cannot be made: '{tmp_path / 'notes'}' is a file."
    assert snapshot(tmp_path) == {"notes": b"a file"}


def test_an_output_that_is_a_folder_is_refused(home, tmp_path):
    (tmp_path / "clip.mp4").mkdir()
    message = refused(_cli("generate", *SMALL, "--output", str(tmp_path / "clip.mp4"), home=home))
    assert message == f"The output '{tmp_path / 'clip.mp4'}' is a folder; give a file name inside it."


def test_an_output_on_a_read_only_disk_is_refused(home, read_only_folder):
    message = refused(_cli("generate", *SMALL, "--output", str(read_only_folder / "x.mp4"), home=home))
    assert message == f"The folder '{read_only_folder}' is not writable; choose another output."


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--fps", "nan"], "fps must be a number above 0 and at most 1000; got nan"),
        (["--fps", "inf"], "fps must be a number above 0 and at most 1000; got inf"),
        (["--fps", "-3"], "fps must be a number above 0 and at most 1000; got -3.0"),
        (["--crf", "99"], "CRF must be a whole number from 0 (lossless) to 51; got 99"),
    ],
)
def test_bad_encoder_settings_are_refused_before_the_model_loads(home, tmp_path, extra, expected):
    assert refused(_cli("generate", *SMALL, *extra, "--output", str(tmp_path / "x.mp4"), home=home)) == expected
    assert snapshot(tmp_path) == {}


def test_stitch_refuses_bad_settings_and_outputs_before_reading_the_project(home, tmp_path):
    assert (
        refused(
            _cli(
                "stitch", str(tmp_path / "none.ltxproj"), "--output", str(tmp_path / "x.mp4"), "--crf", "77", home=home
            )
        )
        == "CRF must be a whole number from 0 (lossless) to 51; got 77"
    )
    assert (
        refused(_cli("stitch", str(tmp_path / "none.ltxproj"), "--output", str(tmp_path / "x.gif"), home=home))
        == "'x.gif' has '.gif'; a video is written as .mp4, .m4v, .mov or .mkv."
    )


def test_bench_json_to_a_read_only_place_is_refused_before_the_runs(home, read_only_folder):
    run = _cli(
        "bench",
        *SMALL[:2],
        "--width",
        "64",
        "--height",
        "64",
        "--frames",
        "9",
        "--repeats",
        "1",
        "--warmup",
        "0",
        "--json",
        str(read_only_folder / "report.json"),
        home=home,
    )
    assert refused(run) == f"The folder '{read_only_folder}' is not writable; choose another output."


@pytest.fixture(scope="module")
def bad_media(tmp_path_factory) -> dict[str, Path]:
    return write_bad_media(tmp_path_factory.mktemp("media"))


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("corrupt.mp4", "'corrupt.mp4' is not a video ffmpeg can read ("),
        ("empty.mp4", "'empty.mp4' is empty (0 bytes)."),
        ("truncated.mp4", "'truncated.mp4' is not a video ffmpeg can read ("),
        ("audio-only.mp4", "'audio-only.mp4' has no video stream."),
        ("text.png", "'text.png' is not an image file that can be read"),
        ("tiny.png", "'tiny.png' is 1x1 pixels; conditioning media needs at least 2x2."),
    ],
)
def test_an_unreadable_input_is_exit_2_with_one_sentence_before_the_model_loads(
    home, tmp_path, bad_media, name, fragment
):
    option = "--image" if name.endswith(".png") else "--video"
    out = tmp_path / "x.mp4"
    message = refused(_cli("generate", *SMALL, option, str(bad_media[name]), "--output", str(out), home=home))
    assert message.startswith(fragment)
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("name", ["corrupt.mp4", "audio-only.mp4", "truncated.mp4"])
def test_extend_refuses_an_unreadable_input_before_the_model_loads(home, tmp_path, bad_media, name):
    message = refused(
        _cli(
            "extend",
            "--model",
            "tiny",
            "--prompt",
            "p",
            "--input",
            str(bad_media[name]),
            "--output",
            str(tmp_path / "x.mp4"),
            home=home,
        )
    )
    assert message.startswith(f"'{name}' ")
    assert snapshot(tmp_path) == {}
