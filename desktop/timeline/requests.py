"""Generation requests for timeline actions: extend, bridge, retake, regenerate, image clip.

Pure functions (no Qt): each turns the project's state into a `PlannedJob`, the
request to generate plus what to do with the result. LTX conditions on video
sequences of 8k+1 frames, and a sequence placed after frame 0 must start on a
multiple of 8, so the context lengths and retake ranges are rounded here.

- Extend: the previous clip's last K frames at frame 0 of the new clip; the new
  clip's first K frames repeat them, so it enters the timeline with overlap_in=K.
- Bridge: A's last K frames at frame 0 and B's first K frames at the end; the
  result drops its first K frames (overlap) and its last K (trim_out).
- Retake: frames before the range at frame 0 and frames after it at the end;
  only the middle replaces the range (spliced into a new take). A clip made by an LTX-2
  model is retaken natively instead: the request names the clip and the range in seconds,
  and the model regenerates that stretch, picture and sound, holding the rest.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from desktop.model_choices import side_multiple
from desktop.project import Clip, Project, ProjectError
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.pipeline.request import ConditioningItem, GenerationRequest, makes_sound, nearest_valid_frames
from ltx_mlx_core.video.probe import probe_media

DEFAULT_CONTEXT_FRAMES = 9
DEFAULT_NEW_FRAMES = 97


def generated_request(video: Path) -> dict | None:
    """The request in a generated video's JSON sidecar (so it can be regenerated and extended alike)."""
    sidecar = video.with_suffix(".json")
    try:
        request = json.loads(sidecar.read_text()).get("request")
    except (OSError, ValueError, AttributeError):
        return None
    return request if isinstance(request, dict) and "prompt" in request else None


@dataclass
class PlannedJob:
    """A request and how its result joins the timeline."""

    kind: str  # "extend" | "bridge" | "retake" | "regenerate" | "image"
    request: GenerationRequest
    clip_id: str | None = None  # the clip the action starts from (or gets the new take)
    insert_index: int = 0  # where a new clip goes (extend, bridge, image)
    overlap_in: int = 0  # leading frames of the result that repeat the previous clip
    trim_out: int | None = None  # frames of the result kept (bridge drops B's repeated start)
    retake_start: int = 0  # first source frame the retake replaces
    retake_count: int = 0  # frames replaced
    context_before: int = 0  # generated frames before the replacement (retake)
    label: str = ""
    extra: dict = field(default_factory=dict)


def new_seed() -> int:
    return random.randrange(0, 2**31 - 1)


def context_length(available: int, wanted: int) -> int:
    """Largest 8k+1 not above `wanted` and `available` (0 when not even one frame is there)."""
    usable = min(available, wanted)
    return 0 if usable < 1 else (usable - 1) // 8 * 8 + 1


def base_request(project: Project, clip: Clip | None) -> GenerationRequest:
    """The clip's own request (model, size, prompt) when it was generated, else the project's defaults."""
    if clip is not None and clip.take.request:
        request = GenerationRequest.from_dict(copy.deepcopy(clip.take.request))
        request.conditioning = []
        # A native retake's or a controlled clip's request names files for that job only.
        request.retake_path, request.control_path = None, None
        return request
    request = GenerationRequest(prompt="", width=project.width, height=project.height, fps=project.fps)
    if project.model:
        request.model = project.model
    # An imported clip's size is snapped to 32; LTX-2's two-stage recipes need multiples of 64.
    multiple = side_multiple(request.model)
    request.width, request.height = (
        max(multiple, round(side / multiple) * multiple) for side in (request.width, request.height)
    )
    return request


def _finish(request: GenerationRequest, prompt: str | None, seed: int | None, frames: int) -> None:
    if prompt is not None:
        request.prompt = prompt
    request.seeds = [new_seed() if seed is None else int(seed)]
    request.num_frames = frames
    request.job_dir = None


def tail_item(project: Project, clip: Clip, frames: int, at_frame: int = 0) -> ConditioningItem:
    """The clip's last `frames` kept frames as a conditioning video."""
    return ConditioningItem(
        path=str(project.media_path(clip)), frame=at_frame, source_start=clip.end - frames, source_count=frames
    )


def head_item(project: Project, clip: Clip, frames: int, at_frame: int) -> ConditioningItem:
    """The clip's first `frames` frames after its trim and overlap, placed at `at_frame`."""
    return ConditioningItem(
        path=str(project.media_path(clip)),
        frame=at_frame,
        source_start=clip.trim_in + clip.overlap_in,
        source_count=frames,
    )


def build_extend(
    project: Project,
    clip_id: str,
    prompt: str | None = None,
    seed: int | None = None,
    num_frames: int = DEFAULT_NEW_FRAMES,
    context: int = DEFAULT_CONTEXT_FRAMES,
) -> PlannedJob:
    """Continue `clip_id`: its last frames condition frame 0 of a new clip inserted after it."""
    index = project.index_of(clip_id)
    clip = project.clips[index]
    num_frames = nearest_valid_frames(num_frames)
    overlap = context_length(clip.end - clip.trim_in, min(context, num_frames - 8))
    if overlap < 1:
        raise ProjectError("This clip has no frames left to continue from.")
    request = base_request(project, clip)
    _finish(request, prompt, seed, num_frames)
    request.conditioning = [tail_item(project, clip, overlap)]
    return PlannedJob("extend", request, clip_id, index + 1, overlap_in=overlap, label="Extend")


def build_bridge(
    project: Project,
    first_id: str,
    second_id: str,
    prompt: str | None = None,
    seed: int | None = None,
    num_frames: int = DEFAULT_NEW_FRAMES,
    context: int = DEFAULT_CONTEXT_FRAMES,
) -> PlannedJob:
    """A clip between two clips: A's end at frame 0, B's start at the last frames."""
    first, second = project.index_of(first_id), project.index_of(second_id)
    if second != first + 1:
        raise ProjectError("A bridge joins two neighbouring clips; select a clip and the one after it.")
    a, b = project.clips[first], project.clips[second]
    num_frames = nearest_valid_frames(num_frames)
    room = (num_frames - 1) // 2  # both contexts and at least one new frame between them
    before = context_length(a.end - a.trim_in, min(context, room))
    after = context_length(b.duration, min(context, room))
    if before < 1 or after < 1:
        raise ProjectError("Both clips need frames to bridge from.")
    request = base_request(project, a)
    _finish(request, prompt, seed, num_frames)
    request.conditioning = [tail_item(project, a, before), head_item(project, b, after, num_frames - after)]
    return PlannedJob(
        "bridge", request, first_id, second, overlap_in=before, trim_out=num_frames - after, label="Bridge"
    )


def retake_span(start: int, before: int, wanted: int, end: int, source_frames: int, context: int) -> tuple[int, int]:
    """(frames to regenerate, after-context frames) near `wanted` that make a valid request.

    With an after-context the replaced span must end on a multiple of 8 from the
    generated clip's start (before + span ≡ 0 mod 8), and the total before + span
    + after (after ≡ 1) is then 8k+1; without one, before + span must be 8k+1.
    The span stays inside the clip's kept frames; an after-context is preferred.
    """
    for has_after in (True, False):
        residue = (-before) % 8 if has_after else (1 - before) % 8
        up = wanted + (residue - wanted) % 8
        for span in (up, up - 8, up + 8):
            if span < 1 or start + span > end:
                continue
            after = context_length(source_frames - start - span, context) if has_after else 0
            if has_after and after < 1:
                continue
            return span, after
    raise ProjectError("The selected range cannot be retaken here; select a longer or earlier range.")


def build_retake(
    project: Project,
    clip_id: str,
    start: int,
    count: int,
    prompt: str | None = None,
    seed: int | None = None,
    context: int = DEFAULT_CONTEXT_FRAMES,
) -> PlannedJob:
    """Regenerate source frames [start, start+count) of a clip, conditioned on both sides.

    The range may change by a few frames (see `retake_span`); the plan says which frames are replaced.
    """
    clip = project.clip(clip_id)
    if makes_sound(base_request(project, clip).model):
        return build_native_retake(project, clip, start, count, prompt, seed)
    lo, hi = clip.trim_in + clip.overlap_in, clip.end
    start = max(lo, min(start, hi - 1))
    count = max(1, min(count, hi - start))
    before = context_length(start, context)
    span, after = retake_span(start, before, count, hi, clip.source_frames, context)
    request = base_request(project, clip)
    _finish(request, prompt, seed, before + span + after)
    source = str(project.media_path(clip))
    request.conditioning = []
    if before:
        request.conditioning.append(
            ConditioningItem(path=source, frame=0, source_start=start - before, source_count=before)
        )
    if after:
        request.conditioning.append(
            ConditioningItem(path=source, frame=before + span, source_start=start + span, source_count=after)
        )
    return PlannedJob(
        "retake",
        request,
        clip_id,
        retake_start=start,
        retake_count=span,
        context_before=before,
        label=f"Retake {start}–{start + span - 1}",
    )


def build_native_retake(
    project: Project, clip: Clip, start: int, count: int, prompt: str | None = None, seed: int | None = None
) -> PlannedJob:
    """An LTX-2 model's own retake of source frames [start, start+count): the whole clip goes in (its
    frames up to the last whole 8k+1, at its size rounded down to multiples of 32) and the model
    regenerates the range, picture and sound; the frames after the last 8k+1 follow unchanged when it lands.
    """
    source = project.media_path(clip)
    try:
        info = probe_media(source)
    except LtxMlxError as error:
        raise ProjectError(str(error)) from None
    usable = context_length(info.frames, info.frames)
    if usable < 9:
        raise ProjectError(f"This clip has {info.frames} frames; a retake needs at least 9.")
    lo, hi = clip.trim_in + clip.overlap_in, min(clip.end, usable)
    if start >= hi:
        raise ProjectError(
            f"The model retakes frames 0–{usable - 1} of this clip (whole 8k+1 frames); select a range before "
            f"frame {hi}."
        )
    start = max(lo, start)
    count = max(1, min(count, hi - start))
    request = base_request(project, clip)
    _finish(request, prompt, seed, usable)
    request.width, request.height = info.width // 32 * 32, info.height // 32 * 32
    if min(request.width, request.height) < 32:
        raise ProjectError(f"This clip is {info.width}x{info.height}; a retake needs at least 32x32.")
    request.fps = info.fps
    request.audio_path = None
    request.retake_path = str(source)
    request.retake_start, request.retake_end = start / info.fps, (start + count) / info.fps
    request.step_cache = "off"  # the retake recipe has no step cache
    request.config_overrides = {k: v for k, v in request.config_overrides.items() if k != "pipeline"}
    return PlannedJob(
        "retake",
        request,
        clip.id,
        retake_start=start,
        retake_count=count,
        label=f"Retake {start}–{start + count - 1}",
        extra={"native": True},
    )


def build_regenerate(project: Project, clip_id: str, prompt: str | None = None, seed: int | None = None) -> PlannedJob:
    """The active take's request again with a new seed (or the given one) and/or prompt."""
    clip = project.clip(clip_id)
    if not clip.take.request:
        raise ProjectError("This clip was imported, not generated; there is no request to run again.")
    request = GenerationRequest.from_dict(copy.deepcopy(clip.take.request))
    _finish(request, prompt, seed, request.num_frames)
    return PlannedJob("regenerate", request, clip_id, label="Regenerate")


def build_image_clip(
    project: Project,
    image: Path,
    index: int,
    prompt: str = "",
    seed: int | None = None,
    num_frames: int = DEFAULT_NEW_FRAMES,
    model: str | None = None,
) -> PlannedJob:
    """An image-to-video clip from a dropped image (the image at frame 0)."""
    request = base_request(project, project.clips[index - 1] if 0 < index <= len(project.clips) else None)
    if model:
        request.model = model
    _finish(request, prompt, seed, nearest_valid_frames(num_frames))
    request.conditioning = [ConditioningItem(path=str(image), frame=0)]
    return PlannedJob("image", request, None, index, label=Path(image).stem)
