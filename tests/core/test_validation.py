"""One check per typed value, shared by the request, the CLI's arguments and the stitcher."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from ltx_mlx_core import paths
from ltx_mlx_core.cli import build_parser
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.validation import (
    check_crf,
    check_fps,
    check_seed,
    check_text,
    crf_argument,
    fps_argument,
    positive_int,
)

REQUEST = GenerationRequest(prompt="a boat", width=64, height=64, num_frames=9)


@pytest.mark.parametrize("seed", [-1, 2**64, 2**70, 1.5, True, "3"])
def test_seeds_outside_the_64_bit_range_are_refused(seed):
    with pytest.raises(InvalidRequest, match="seed must be a whole number from 0 to 2\\^64-1"):
        check_seed(seed)
    with pytest.raises(InvalidRequest, match="seed"):
        dataclasses.replace(REQUEST, seeds=[0, seed]).validate()


@pytest.mark.parametrize("seed", [0, 2**64 - 1])
def test_the_ends_of_the_seed_range_are_accepted(seed):
    assert check_seed(seed) == seed
    dataclasses.replace(REQUEST, seeds=[seed]).validate()


@pytest.mark.parametrize("fps", [float("nan"), float("inf"), -float("inf"), 0, -24, 1e6])
def test_frame_rates_that_are_not_finite_and_positive_are_refused(fps):
    with pytest.raises(InvalidRequest, match="fps must be a number above 0"):
        check_fps(fps)
    with pytest.raises(InvalidRequest, match="fps"):
        dataclasses.replace(REQUEST, fps=fps).validate()


@pytest.mark.parametrize("crf, ok", [(0, True), (51, True), (-1, False), (52, False), (99, False)])
def test_crf_must_be_in_x264s_range(crf, ok):
    if ok:
        assert check_crf(crf) == crf
    else:
        with pytest.raises(InvalidRequest, match="CRF must be a whole number from 0"):
            check_crf(crf)


def test_a_prompt_with_undecodable_bytes_is_refused_with_where_they_are():
    # What Python makes of argv bytes that are not UTF-8 (PEP 383 surrogateescape).
    prompt = b"a \xff boat".decode("utf-8", "surrogateescape")
    with pytest.raises(InvalidRequest, match="prompt is not valid UTF-8 text .*character 3"):
        check_text(prompt, "prompt")
    with pytest.raises(InvalidRequest, match="negative prompt is not valid UTF-8"):
        dataclasses.replace(REQUEST, negative_prompt=prompt).validate()
    assert check_text("a bateau à voile ⛵", "prompt") == "a bateau à voile ⛵"


@pytest.mark.parametrize(
    "parse, text, message",
    [
        (positive_int, "-7", "at least 1; got -7"),
        (positive_int, "0", "at least 1; got 0"),
        (positive_int, "x", "expected a whole number, got 'x'"),
        (fps_argument, "nan", "fps must be a number above 0"),
        (fps_argument, "inf", "fps must be a number above 0"),
        (crf_argument, "99", "CRF must be a whole number from 0"),
    ],
)
def test_argument_parsers_refuse_with_the_checks_sentence(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse(text)


def test_argument_errors_are_one_line_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(
            ["extend", "--model", "tiny", "--prompt", "p", "--input", "in.mp4", "--output", "o.mp4", "--overlap", "-7"]
        )
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "usage" not in err
    assert err.startswith("ltx-mlx extend: argument --overlap: the value must be a whole number of at least 1")


def test_a_data_folder_that_cannot_be_made_is_one_sentence(tmp_path, monkeypatch):
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    monkeypatch.setenv("LTX_MLX_HOME", str(home))
    with pytest.raises(InvalidRequest, match="cannot create the folder .*home-is-a-file/data.*LTX_MLX_HOME"):
        paths.local_models_dir()


def test_a_read_only_data_folder_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("LTX_MLX_HOME", str(tmp_path))

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(paths.Path, "mkdir", refuse)
    with pytest.raises(InvalidRequest, match="cannot create the folder .*: Permission denied"):
        paths.data_dir()
