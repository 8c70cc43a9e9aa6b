"""The CLI's PATH[@FRAME[:STRENGTH]] specs and request building."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline import cli_generate
from ltx_mlx_core.pipeline.cli_generate import parse_conditioning_spec
from ltx_mlx_core.video.io import write_video


def write_image(path: Path) -> Path:
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A real (tiny) video: requests probe their media when they are validated."""
    return write_video(tmp_path_factory.mktemp("media") / "in.mp4", np.zeros((9, 32, 64, 3), np.uint8), fps=24)


@pytest.mark.parametrize(
    "spec, path, frame, strength",
    [
        ("a.png", "a.png", 0, 1.0),
        ("a.png@8", "a.png", 8, 1.0),
        ("a.png@8:0.5", "a.png", 8, 0.5),
        ("a.png:0.25", "a.png", 0, 0.25),
        ("clip.mp4@16:1", "clip.mp4", 16, 1.0),
        ("dir/with@at/b.jpg@3", "dir/with@at/b.jpg", 3, 1.0),
        (r"C:\media\b.jpg@3:.5", r"C:\media\b.jpg", 3, 0.5),
        ("user@host", "user@host", 0, 1.0),
    ],
)
def test_conditioning_spec_parses_frame_and_strength(spec, path, frame, strength):
    item = parse_conditioning_spec(spec)
    assert (item.path, item.frame, item.strength) == (path, frame, strength)


def test_an_existing_path_with_at_sign_is_taken_literally(tmp_path):
    odd = tmp_path / "shot@2.png"
    odd.write_bytes(b"")
    item = parse_conditioning_spec(str(odd))
    assert item.path == str(odd) and item.frame == 0


@pytest.mark.parametrize("spec", ["a.png@x", "a.png@x:0.5", "a.png@3:strong", "clip.mp4@1.5", "b.jpg:"])
def test_a_malformed_spec_is_reported_as_a_syntax_error(spec):
    with pytest.raises(InvalidRequest, match=r"is not a conditioning spec PATH\[@FRAME\[:STRENGTH\]\]"):
        parse_conditioning_spec(spec)


def test_empty_spec_is_invalid():
    with pytest.raises(InvalidRequest):
        parse_conditioning_spec("  ")


def _parse(argv):
    parser = argparse.ArgumentParser()
    cli_generate.register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_generate_arguments_become_a_validated_request(tmp_path):
    image = write_image(tmp_path / "first.png")
    args = _parse(
        [
            "generate",
            "--model",
            "tiny",
            "--prompt",
            "a boat",
            "--width",
            "64",
            "--height",
            "96",
            "--frames",
            "17",
            "--seeds",
            "3",
            "4",
            "--image",
            f"{image}@8:0.5",
            "--output",
            "o.mp4",
        ]
    )
    request = cli_generate.build_generate_request(args)
    assert (request.width, request.height, request.num_frames, request.seeds) == (64, 96, 17, [3, 4])
    assert request.conditioning[0].frame == 8 and request.conditioning[0].strength == 0.5


def test_image_flag_with_a_video_file_is_rejected(tmp_path):
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"")
    args = _parse(["generate", "--model", "tiny", "--prompt", "p", "--image", str(clip), "--output", "o.mp4"])
    with pytest.raises(InvalidRequest, match="not an image"):
        cli_generate.build_generate_request(args)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--frames", "20"], "8k\\+1"),
        (["--width", "100"], "multiple of 32"),
        (["--frames", "9", "--image", "{image}@12"], "outside the clip"),
    ],
)
def test_invalid_generate_input_is_an_invalid_request(tmp_path, argv, fragment):
    image = write_image(tmp_path / "i.png")
    argv = [a.format(image=image) for a in argv]
    args = _parse(["generate", "--model", "tiny", "--prompt", "p", "--output", "o.mp4", *argv])
    with pytest.raises(InvalidRequest, match=fragment):
        cli_generate.build_generate_request(args)


def test_extend_conditions_on_the_inputs_last_overlap_frames(clip):
    args = _parse(
        [
            "extend",
            "--model",
            "tiny",
            "--input",
            str(clip),
            "--prompt",
            "p",
            "--frames",
            "17",
            "--overlap",
            "9",
            "--output",
            "o.mp4",
        ]
    )
    request = cli_generate.build_extend_request(args, input_frames=25, input_fps=24.0, input_size=(64, 32))
    item = request.conditioning[0]
    assert (item.frame, item.source_start, item.source_count) == (0, 16, 9)
    assert (request.width, request.height, request.fps, request.num_frames) == (64, 32, 24.0, 17)


@pytest.mark.parametrize("overlap, frames, fragment", [(8, 17, "8k\\+1"), (17, 17, "larger"), (33, 41, "longer")])
def test_extend_rejects_bad_overlap(tmp_path, overlap, frames, fragment):
    clip = tmp_path / "in.mp4"
    clip.write_bytes(b"")
    args = _parse(
        [
            "extend",
            "--model",
            "tiny",
            "--input",
            str(clip),
            "--prompt",
            "p",
            "--frames",
            str(frames),
            "--overlap",
            str(overlap),
            "--output",
            "o.mp4",
        ]
    )
    with pytest.raises(InvalidRequest, match=fragment):
        cli_generate.build_extend_request(args, input_frames=25, input_fps=24.0, input_size=(64, 32))


def test_stitched_extension_writes_overlap_once():
    import numpy as np

    original = np.zeros((25, 4, 4, 3), np.uint8)
    continuation = np.ones((17, 4, 4, 3), np.uint8)
    stitched = cli_generate.stitch_extension(original, continuation, overlap=9)
    assert stitched.shape[0] == 25 + 17 - 9
    assert stitched[24].max() == 0 and stitched[25].min() == 1


@pytest.mark.parametrize(
    "extra, size, fragment",
    [
        (["--width", "96"], (64, 32), "one size"),
        ([], (100, 60), "not a multiple of 32"),
    ],
)
def test_extend_refuses_sizes_it_cannot_stitch_before_generating(tmp_path, extra, size, fragment):
    clip = tmp_path / "in.mp4"
    clip.write_bytes(b"")
    args = _parse(
        [
            "extend",
            "--model",
            "tiny",
            "--input",
            str(clip),
            "--prompt",
            "p",
            "--frames",
            "17",
            "--output",
            "o.mp4",
            *extra,
        ]
    )
    with pytest.raises(InvalidRequest, match=fragment):
        cli_generate.build_extend_request(args, input_frames=25, input_fps=24.0, input_size=size)


def test_extend_continuation_only_may_change_size(clip):
    args = _parse(
        [
            "extend",
            "--model",
            "tiny",
            "--input",
            str(clip),
            "--prompt",
            "p",
            "--frames",
            "17",
            "--width",
            "96",
            "--height",
            "64",
            "--continuation-only",
            "--output",
            "o.mp4",
        ]
    )
    request = cli_generate.build_extend_request(args, input_frames=25, input_fps=24.0, input_size=(100, 60))
    assert (request.width, request.height) == (96, 64)
