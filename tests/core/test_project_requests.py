"""Requests built by timeline actions: which frames condition where, and how results join the film."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from desktop.project import Clip, Project, ProjectError, Take
from desktop.timeline.requests import (
    build_bridge,
    build_extend,
    build_image_clip,
    build_regenerate,
    build_retake,
    context_length,
)
from ltx_mlx_core.pipeline.media import load_item_frames
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.video.io import write_video

SIZE = 64


def numbered_video(path, first: int, count: int) -> str:
    """Frame i has brightness 3*(first+i), so a decoded frame tells which source frame it is."""
    frames = np.stack([np.full((SIZE, SIZE, 3), (first + i) * 3, np.uint8) for i in range(count)])
    write_video(path, frames, 24.0, crf=0, preset="ultrafast")
    return str(path)


def frame_ids(frames: np.ndarray, first: int) -> list[int]:
    return [int(round(f.mean() / 3)) - first for f in frames]


@pytest.fixture()
def project(tmp_path):
    project = Project(width=SIZE, height=SIZE, fps=24.0, folder=tmp_path)
    generated = GenerationRequest(prompt="a boat", model="tiny", width=SIZE, height=SIZE, num_frames=41, fps=24.0)
    project.clips = [
        Clip(takes=[Take(numbered_video(tmp_path / "a.mp4", 0, 41), generated.to_dict(), frames=41)], id="a"),
        Clip(takes=[Take(numbered_video(tmp_path / "b.mp4", 50, 33), None, frames=33)], id="b"),
    ]
    return project


def test_extend_conditions_frame_zero_on_the_clips_last_frames(project):
    project.set_trim("a", 0, 37)  # continue from the trimmed end, not the file's end
    job = build_extend(project, "a", prompt="the boat sails on", seed=7, num_frames=33)
    job.request.validate()
    (item,) = job.request.conditioning
    assert (item.frame, item.source_start, item.source_count) == (0, 28, 9)
    assert frame_ids(load_item_frames(item, 33), 0) == list(range(28, 37))
    assert (job.insert_index, job.overlap_in, job.request.seeds, job.request.prompt) == (1, 9, [7], "the boat sails on")
    assert job.request.model == "tiny" and job.request.num_frames == 33


def test_bridge_puts_one_clips_end_first_and_the_next_clips_start_last(project):
    job = build_bridge(project, "a", "b", prompt="between", seed=3, num_frames=41)
    job.request.validate()
    first, second = job.request.conditioning
    assert (first.frame, first.source_start, first.source_count) == (0, 32, 9)
    assert (second.frame, second.source_start, second.source_count) == (32, 0, 9)
    assert second.frame % 8 == 0 and second.frame + second.source_count == 41
    assert frame_ids(load_item_frames(second, 41), 50) == list(range(9))
    assert (job.insert_index, job.overlap_in, job.trim_out) == (1, 9, 32)


def test_bridge_needs_neighbouring_clips(project):
    with pytest.raises(ProjectError, match="neighbouring"):
        build_bridge(project, "b", "a")


@pytest.mark.parametrize("start,count", [(12, 5), (9, 15), (1, 3), (30, 10), (20, 1)])
def test_retake_conditions_on_both_sides_with_valid_lengths(project, start, count):
    job = build_retake(project, "a", start, count, seed=1)
    request = job.request
    request.validate()
    assert (request.num_frames - 1) % 8 == 0
    assert job.retake_start == start and job.retake_count >= 1
    assert job.retake_start + job.retake_count <= 41
    before = [c for c in request.conditioning if c.frame == 0 and job.context_before]
    after = [c for c in request.conditioning if c.frame > 0]
    if before:
        assert before[0].source_start + before[0].source_count == start
        assert (before[0].source_count - 1) % 8 == 0
    for item in after:
        assert item.frame % 8 == 0 and item.frame == job.context_before + job.retake_count
        assert item.source_start == start + job.retake_count
        assert item.frame + item.source_count == request.num_frames
    assert before or after  # a retake always has context on at least one side


def test_regenerate_keeps_the_request_but_changes_seed_and_prompt(project):
    job = build_regenerate(project, "a", prompt="a red boat", seed=99)
    assert (job.request.prompt, job.request.seeds, job.request.num_frames) == ("a red boat", [99], 41)
    other = build_regenerate(project, "a")
    assert other.request.prompt == "a boat" and other.request.seeds != [99]
    with pytest.raises(ProjectError, match="imported"):
        build_regenerate(project, "b")


def test_image_clip_puts_the_image_at_frame_zero(project, tmp_path):
    from PIL import Image

    image = tmp_path / "still.png"
    Image.new("RGB", (SIZE, SIZE), (200, 10, 10)).save(image)
    job = build_image_clip(project, image, 2, prompt="it moves", num_frames=20)
    job.request.validate()
    assert job.request.num_frames == 17 and job.insert_index == 2
    assert job.request.conditioning[0].path == str(image) and job.request.conditioning[0].frame == 0


def test_context_lengths_are_8k_plus_1():
    assert [context_length(n, 9) for n in (0, 1, 8, 9, 40)] == [0, 1, 1, 9, 9]
    assert context_length(40, 17) == 17


def check_conditioning_rules(request, source_frames: int) -> None:
    """What the pipeline's conditioning accepts (8k+1 sequences, 8-aligned starts after frame 0, inside both clips)."""
    assert request.num_frames % 8 == 1
    for item in request.conditioning:
        assert item.source_count % 8 == 1
        assert 0 <= item.source_start and item.source_start + item.source_count <= source_frames
        assert 0 <= item.frame and item.frame + item.source_count <= request.num_frames
        assert item.frame == 0 or item.frame % 8 == 0


@settings(max_examples=300, deadline=None)
@given(
    frames=st.integers(2, 200),
    trim_in=st.integers(0, 60),
    cut=st.integers(0, 60),
    start=st.integers(0, 200),
    count=st.integers(1, 80),
    context=st.sampled_from([1, 9, 17]),
)
def test_retakes_of_any_range_build_requests_the_pipeline_accepts(frames, trim_in, cut, start, count, context):
    project = Project()
    clip = Clip(takes=[Take("/media/a.mp4", None, frames=frames)], id="a")
    trim_out = frames - cut if cut else None
    assume(trim_in < (trim_out or frames) - 1)
    clip.trim_in, clip.trim_out = trim_in, trim_out
    project.clips = [clip]
    try:
        job = build_retake(project, "a", start, count, context=context)
    except ProjectError:
        return  # refused with a reason (a range too short to fit the 8k+1 rules)
    check_conditioning_rules(job.request, frames)
    assert clip.trim_in <= job.retake_start and job.retake_start + job.retake_count <= clip.end
    assert job.request.num_frames == job.context_before + job.retake_count + sum(
        c.source_count for c in job.request.conditioning if c.frame > 0
    )


@settings(max_examples=200, deadline=None)
@given(
    a=st.integers(1, 120),
    b=st.integers(1, 120),
    trim=st.integers(0, 30),
    wanted=st.integers(9, 200),
    context=st.sampled_from([1, 9, 17, 25]),
)
def test_extensions_and_bridges_of_any_clips_build_requests_the_pipeline_accepts(a, b, trim, wanted, context):
    project = Project()
    first = Clip(takes=[Take("/media/a.mp4", None, frames=a)], id="a")
    first.trim_out = a - trim if 0 < trim < a else None
    project.clips = [first, Clip(takes=[Take("/media/b.mp4", None, frames=b)], id="b")]
    extend = build_extend(project, "a", num_frames=wanted, context=context)
    check_conditioning_rules(extend.request, a)
    assert extend.request.conditioning[0].source_start + extend.overlap_in == first.end
    assert extend.overlap_in < extend.request.num_frames  # the extension adds new frames
    bridge = build_bridge(project, "a", "b", num_frames=wanted, context=context)
    check_conditioning_rules(bridge.request, max(a, b))
    end_of_a, start_of_b = bridge.request.conditioning
    assert end_of_a.source_start + end_of_a.source_count == first.end and start_of_b.source_start == 0
    assert start_of_b.source_count <= b and start_of_b.frame == bridge.trim_out
    assert bridge.overlap_in < bridge.trim_out  # at least one new frame between the two clips
