"""Timeline generation jobs: submit planned requests, land their results as undoable edits.

Extend, bridge and image clips become new clips (InsertClip); regenerate and
retake become new takes (AddTake), so earlier versions stay one switch away.
An LTX-2 model's native retake gives the whole clip back up to its last 8k+1 frame;
the frames after that follow from the retaken file, with their sound.
Extend ×N chains: each finished extension submits the next from the new clip.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from desktop.project import MEDIA_DIR, Clip, Project, ProjectError, Take
from desktop.timeline.commands import AddTake, InsertClip, push_edit
from desktop.timeline.requests import PlannedJob, build_extend
from desktop.unsaved_autosave import unsaved_media_folder
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.io import probe_video
from ltx_mlx_core.video.probe import probe_media
from ltx_mlx_core.video.stitch import Segment, stitch

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    plan: PlannedJob
    chain_left: int  # further extensions to generate after this one


def splice_retake(original: Path, generated: Path, plan: PlannedJob, output: Path, fps: float) -> Path:
    """The original clip with frames [start, start+count) replaced by the generated middle (each part's
    sound goes with its frames; a cut fades over a few milliseconds)."""
    info = probe_video(original)
    start, count = plan.retake_start, plan.retake_count
    parts = [Segment(str(original), 0, start)] if start else []
    parts.append(Segment(str(generated), plan.context_before, plan.context_before + count))
    if start + count < info.frames:
        parts.append(Segment(str(original), start + count, None))
    return stitch(
        parts, output, fps, crf=12, preset="fast", size=(info.width - info.width % 2, info.height - info.height % 2)
    )


def add_retake_tail(original: Path, generated: Path, output: Path, fps: float) -> Path:
    """A native retake's result with the original's frames after it (those past the last 8k+1) and their
    sound, at the original's size; the result itself when it already is the whole clip."""
    info, made = probe_video(original), probe_video(generated)
    if made.frames >= info.frames and (made.width, made.height) == (info.width, info.height):
        return generated
    parts = [Segment(str(generated), 0, None)]
    if made.frames < info.frames:
        parts.append(Segment(str(original), made.frames, None))
    return stitch(
        parts, output, fps, crf=12, preset="fast", size=(info.width - info.width % 2, info.height - info.height % 2)
    )


class TimelineJobs(QObject):
    """Owns the timeline's jobs on the shared GenerationService."""

    message = Signal(str)  # a sentence for the status line
    pending_changed = Signal(int)  # timeline jobs queued or running
    landed = Signal(str)  # clip id that got a new clip or take
    progress = Signal(int, int)  # denoising step i of n of the running timeline job
    foreign_finished = Signal(str)  # mp4 of a job submitted by someone else (the main window's Generate)

    def __init__(
        self,
        service,
        undo_stack: QUndoStack,
        project: Callable[[], Project],
        changed: Callable[[], None],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.service = service
        self.undo_stack = undo_stack
        self._project = project
        self._changed = changed
        self._pending: dict[str, _Pending] = {}
        service.job_finished.connect(self._on_finished)
        service.job_failed.connect(self._on_failed)
        if hasattr(service, "job_cancelled"):
            service.job_cancelled.connect(self._on_cancelled)
        if hasattr(service, "step"):
            service.step.connect(lambda job, i, n, eta: self.progress.emit(i, n) if job in self._pending else None)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def output_folder(self) -> Path:
        project = self._project()
        # A never-saved timeline's clips go to the data folder, which system cleaners leave alone.
        folder = project.folder / MEDIA_DIR if project.folder else unsaved_media_folder()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def submit(self, plan: PlannedJob, chain_left: int = 0) -> str:
        plan.request.validate()
        output = self.output_folder() / f"{plan.kind}-{uuid.uuid4().hex[:8]}.mp4"
        job = self.service.submit(plan.request, output)
        self._pending[job] = _Pending(plan, chain_left)
        self.pending_changed.emit(len(self._pending))
        self.message.emit(f"{plan.label or plan.kind.title()}: generating {plan.request.num_frames} frames…")
        return job

    def cancel_all(self) -> None:
        for job in list(self._pending):
            self.service.cancel(job)

    def _media_reference(self, path: Path) -> str:
        project = self._project()
        if project.folder is not None:
            try:
                return os.path.relpath(path, project.folder) if Path(path).is_relative_to(project.folder) else str(path)
            except ValueError:
                return str(path)
        return str(path)

    def _on_finished(self, job: str, path: str) -> None:
        pending = self._pending.pop(job, None)
        if pending is None:
            self.foreign_finished.emit(path)
            return
        try:
            clip_id = self._land(pending, Path(path))
        except (ProjectError, LtxMlxError) as error:
            self.message.emit(str(error))
            clip_id = None
        self.pending_changed.emit(len(self._pending))
        if clip_id:
            self.landed.emit(clip_id)

    def _on_failed(self, job: str, message: str) -> None:
        if self._pending.pop(job, None) is not None:
            self.pending_changed.emit(len(self._pending))
            self.message.emit(message)

    def _on_cancelled(self, job: str) -> None:
        if self._pending.pop(job, None) is not None:
            self.pending_changed.emit(len(self._pending))
            self.message.emit("Generation cancelled.")

    def _land(self, pending: _Pending, path: Path) -> str:
        plan, project = pending.plan, self._project()
        request = plan.request.to_dict()
        if plan.kind in ("regenerate", "retake"):
            return self._land_take(plan, project, path, request)
        info = probe_media(path)
        take = Take(
            self._media_reference(path), request, plan.label, info.frames, has_audio=info.audio_codec is not None
        )
        clip = Clip(takes=[take], overlap_in=plan.overlap_in, trim_out=plan.trim_out)
        index = plan.insert_index
        if plan.kind == "extend" and plan.clip_id:
            try:
                index = project.index_of(plan.clip_id) + 1  # the source clip may have moved meanwhile
            except ProjectError:
                pass
        push_edit(self.undo_stack, InsertClip(project, index, clip, self._changed, text=plan.label or "Add clip"))
        self.message.emit(f"{plan.label} added as clip {project.index_of(clip.id) + 1}.")
        if pending.chain_left > 0:
            follow = build_extend(
                project, clip.id, plan.request.prompt, None, plan.request.num_frames, plan.overlap_in or 9
            )
            self.submit(follow, pending.chain_left - 1)
        return clip.id

    def _land_take(self, plan: PlannedJob, project: Project, path: Path, request: dict) -> str:
        clip = project.clip(plan.clip_id)
        made = path
        if plan.request.retake_path is not None:  # the model's own retake: the clip whole, up to its tail
            path = add_retake_tail(
                Path(plan.request.retake_path), made, made.with_name(f"{made.stem}-whole.mp4"), project.fps
            )
        elif plan.kind == "retake":
            path = splice_retake(
                project.media_path(clip), made, plan, made.with_name(f"{made.stem}-spliced.mp4"), project.fps
            )
        if plan.kind == "retake":
            request["retake"] = {
                "start": plan.retake_start,
                "count": plan.retake_count,
                "generated": self._media_reference(made),
                "native": plan.request.retake_path is not None,
            }
            base = clip.take.request or {}
            request = {**base, "retake": request["retake"], "retake_request": request} if base else request
        number = len(clip.takes) + 1
        info = probe_media(path)
        take = Take(
            self._media_reference(path),
            request,
            f"{plan.label} (take {number})",
            info.frames,
            has_audio=info.audio_codec is not None,
        )
        push_edit(self.undo_stack, AddTake(project, clip.id, take, self._changed, text=plan.label))
        self.message.emit(f"{plan.label}: clip {project.index_of(clip.id) + 1} now shows take {number}.")
        return clip.id
