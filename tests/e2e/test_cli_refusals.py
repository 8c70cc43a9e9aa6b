"""Bad input on the command line: exit 2 (or 1 for a damaged model) with one sentence, before any work.

Each case runs `ltx-mlx` as a script would, against the tiny model, with an output file
that already exists. One line on stderr proves at once: no traceback, no ffmpeg log, and no
progress line (which the first stage, loading, would draw), so nothing was loaded. The folder
holding the output and the inputs must be byte for byte as it was, with nothing left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ltx_mlx_core.video.io import write_video
from tests.bad_media import png_claiming, write_bad_media
from tests.core.malformed_projects import VARIANTS, snapshot, write_project

REPO = Path(__file__).resolve().parents[2]
SMALL = ("--width", "64", "--height", "64", "--frames", "9")


def _cli(*args: str, home: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LTX_MLX_MEMORY_LIMIT_BYTES"}
    env.update(LTX_MLX_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO), **extra_env)
    # Arguments go to the OS as bytes: a str holding surrogates becomes the raw bytes they stand for.
    return subprocess.run(
        [sys.executable, "-m", "ltx_mlx_core.cli", *args], cwd=REPO, env=env, capture_output=True, timeout=300
    )


def assert_refused(
    run: subprocess.CompletedProcess, code: int, fragment: str, folder: Path, before: dict[str, bytes]
) -> str:
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode == code, err
    lines = err.splitlines()  # splits on the progress line's \r too
    assert len(lines) == 1, err
    assert fragment in lines[0], lines[0]
    assert run.stdout == b""
    assert snapshot(folder) == before
    return lines[0]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One LTX_MLX_HOME with the tiny model made by the CLI, shared by this module's tests."""
    home = tmp_path_factory.mktemp("cli_home")
    made = _cli("models", "make-tiny", home=home)
    assert made.returncode == 0, made.stderr
    return home


@pytest.fixture
def work(tmp_path) -> Path:
    """The test's folder with an existing output.mp4 that must survive every refusal."""
    (tmp_path / "out.mp4").write_bytes(b"a video the user keeps")
    return tmp_path


def generate(*extra: str, home: Path, work: Path, **env: str) -> subprocess.CompletedProcess:
    return _cli("generate", "--model", "tiny", "--output", str(work / "out.mp4"), *extra, home=home, **env)


# -- A: values refused with a sentence, before the model loads --------------------------------------


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (("--seed", "-1"), "a seed must be a whole number from 0 to 2^64-1"),
        (("--seeds", "1", str(2**64)), f"a seed must be a whole number from 0 to 2^64-1 ({2**64 - 1}); got {2**64}"),
        (("--fps", "nan"), "argument --fps: fps must be a number above 0"),
        (("--fps", "inf"), "argument --fps: fps must be a number above 0"),
        (("--crf", "99"), "argument --crf: CRF must be a whole number from 0 (lossless) to 51; got 99"),
        (("--prompt", "a \udcff\udcfe boat"), "the prompt is not valid UTF-8 text"),
    ],
)
def test_bad_values_exit_2_with_one_sentence_before_loading(home, work, extra, fragment):
    before = snapshot(work)
    prompt = () if "--prompt" in extra else ("--prompt", "p")
    assert_refused(generate(*prompt, *SMALL, *extra, home=home, work=work), 2, fragment, work, before)


def test_extend_with_a_negative_overlap_is_refused_by_the_argument_parser(home, work):
    clip = write_video(work / "in.mp4", np.zeros((17, 64, 64, 3), np.uint8), fps=12)
    before = snapshot(work)
    run = _cli(
        "extend",
        "--model",
        "tiny",
        "--input",
        str(clip),
        "--prompt",
        "p",
        "--overlap",
        "-7",
        "--output",
        str(work / "out.mp4"),
        home=home,
    )
    assert_refused(run, 2, "argument --overlap: the value must be a whole number of at least 1; got -7", work, before)


def test_an_image_of_20000x20000_pixels_is_refused_as_too_large(home, work):
    image = png_claiming(work / "huge.png", 20000, 20000)
    before = snapshot(work)
    run = generate("--prompt", "p", *SMALL, "--image", str(image), home=home, work=work)
    assert_refused(run, 2, "'huge.png' is too large to read: images above 179 megapixels are refused", work, before)


def test_a_data_folder_that_is_a_file_is_one_sentence_even_for_models_list(tmp_path):
    home = tmp_path / "home"
    home.write_text("LTX_MLX_HOME points at this file")
    before = snapshot(tmp_path)
    for args in (
        ("models", "list"),
        ("models", "make-tiny"),
        ("generate", "--model", "tiny", "--prompt", "p", "--output", str(tmp_path / "x.mp4")),
    ):
        assert_refused(
            _cli(*args, home=home), 2, f"cannot create the folder '{home}/data' (from LTX_MLX_HOME)", tmp_path, before
        )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_data_folder_is_one_sentence(tmp_path):
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "data").chmod(0o555)
    try:
        before = snapshot(tmp_path)
        assert_refused(_cli("models", "make-tiny", home=home), 2, "Permission denied", tmp_path, before)
    finally:
        (home / "data").chmod(0o755)


def test_bench_json_that_cannot_be_written_is_refused_before_timing(home, work):
    blocker = work / "not-a-folder"
    blocker.write_text("x")
    before = snapshot(work)
    run = _cli(
        "bench",
        "--model",
        "tiny",
        *SMALL,
        "--repeats",
        "1",
        "--warmup",
        "0",
        "--json",
        str(blocker / "report.json"),
        home=home,
    )
    assert_refused(run, 2, "The output's folder cannot be made:", work, before)


# -- B: input media probed before the model loads -------------------------------------------------


@pytest.fixture(scope="module")
def bad_media(tmp_path_factory) -> dict[str, Path]:
    return write_bad_media(tmp_path_factory.mktemp("bad_media"))


@pytest.mark.parametrize(
    "flag, name, fragment",
    [
        ("--video", "empty.mp4", "'empty.mp4' is empty (0 bytes)."),
        ("--video", "corrupt.mp4", "'corrupt.mp4' is not a video ffmpeg can read ("),
        ("--video", "truncated.mp4", "'truncated.mp4' is not a video ffmpeg can read ("),
        ("--video", "audio-only.mp4", "'audio-only.mp4' has no video stream"),
        ("--image", "text.png", "'text.png' is not an image file that can be read"),
        ("--image", "tiny.png", "'tiny.png' is 1x1 pixels; conditioning media needs at least 2x2."),
    ],
)
def test_unreadable_conditioning_media_exit_2_with_one_sentence(home, work, bad_media, flag, name, fragment):
    before = snapshot(work)
    run = generate("--prompt", "p", *SMALL, flag, str(bad_media[name]), home=home, work=work)
    line = assert_refused(run, 2, fragment, work, before)
    assert "ffmpeg version" not in line and "Input #" not in line  # no ffmpeg banner or stream dump


@pytest.mark.parametrize(
    "name, fragment", [("truncated.mp4", "is not a video ffmpeg can read ("), ("audio-only.mp4", "has no video stream")]
)
def test_extend_probes_its_input_before_loading(home, work, bad_media, name, fragment):
    before = snapshot(work)
    run = _cli(
        "extend",
        "--model",
        "tiny",
        "--input",
        str(bad_media[name]),
        "--prompt",
        "p",
        "--output",
        str(work / "out.mp4"),
        home=home,
    )
    assert_refused(run, 2, fragment, work, before)


# -- D: the tiny model and conditioning specs -----------------------------------------------------


def test_a_malformed_conditioning_spec_is_reported_as_a_spec_error(home, work):
    image = work / "first.png"
    Image.new("RGB", (64, 64), "white").save(image)
    before = snapshot(work)
    run = generate("--prompt", "p", *SMALL, "--image", f"{image}@x:0.5", home=home, work=work)
    line = assert_refused(run, 2, "is not a conditioning spec PATH[@FRAME[:STRENGTH]]", work, before)
    assert "not an image or video file" not in line


@pytest.fixture
def damaged_home(home, tmp_path) -> Path:
    """A copy of the module's home whose tiny model has a truncated checkpoint and an empty tokenizer."""
    copy = tmp_path / "damaged_home"
    shutil.copytree(home, copy)
    tiny = copy / "data" / "models" / "tiny"
    (tiny / "tokenizer" / "tokenizer.json").write_text("{}")
    checkpoint = tiny / "tiny.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:-1000])
    return copy


def test_a_damaged_tiny_model_says_to_make_it_again_not_to_download_it(damaged_home, work):
    before = snapshot(work)
    line = assert_refused(
        generate("--prompt", "p", *SMALL, home=damaged_home, work=work),
        1,
        "make it again with `ltx-mlx models make-tiny --force`",
        work,
        before,
    )
    assert "tokenizer/tokenizer.json has changed" in line and "tiny.safetensors has changed" in line
    assert "Download" not in line and "download" not in line


def test_make_tiny_rewrites_a_damaged_tiny_model_and_says_so(damaged_home):
    run = _cli("models", "make-tiny", home=damaged_home)
    assert run.returncode == 0, run.stderr
    out = run.stdout.decode()
    assert "was not intact (tiny.safetensors has changed since it was made" in out and "written again" in out
    again = _cli("models", "make-tiny", home=damaged_home)
    assert again.returncode == 0 and "already made" in again.stdout.decode()
    assert not list((damaged_home / "data" / "models").glob(".tiny-*"))  # no staging folder left


# -- E: stitch refuses a malformed project in one sentence -----------------------------------------


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_stitch_refuses_a_malformed_project_with_exit_2(home, work, name):
    content, fragment = VARIANTS[name]
    folder = write_project(work / "Film.ltxproj", content)
    before = snapshot(work)
    run = _cli("stitch", str(folder), "-o", str(work / "out.mp4"), home=home)
    assert_refused(run, 2, fragment, work, before)
