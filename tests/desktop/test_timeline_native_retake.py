"""Retake on the timeline: a clip whose model is an LTX-2 model is retaken by the model's own retake (the
request names the clip and the range in seconds; the new take is the whole clip, with its sound and the
frames past its last 8k+1 as they were, undoable); clips of LTX-Video 0.9.x models keep the conditioned
retake."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack

from desktop.generation_service import GenerationService
from desktop.project import Clip, Project, ProjectError, Take
from desktop.timeline.panel import TimelinePanel
from desktop.timeline.requests import build_retake
from ltx_mlx_core.video.audio import MIX_RATE, read_audio
from ltx_mlx_core.video.io import read_video
from ltx_mlx_core.video.probe import probe_media
from ltx_mlx_core.weights.registry import TINY_LTX2_ID
from tests.sound_clips import sound_clip

FPS = 24.0
GENERATION_TIMEOUT_MS = 300_000


def project_with(path, model: str, frames: int) -> tuple[Project, Clip]:
    project = Project(width=128, height=128, fps=FPS, model=model)
    clip = Clip(takes=[Take(str(path), None, "imported", frames, has_audio=True)])
    project.insert_clip(0, clip)
    return project, clip


def test_an_ltx2_clip_is_retaken_natively_and_a_0_9_clip_by_conditioning(tmp_path):
    clip_file = sound_clip(tmp_path / "clip.mp4", 27 / FPS, FPS, size=(136, 128))
    project, clip = project_with(clip_file, TINY_LTX2_ID, 27)
    plan = build_retake(project, clip.id, 10, 4, "thunder", 5)
    request = plan.request
    assert plan.extra == {"native": True} and (plan.retake_start, plan.retake_count) == (10, 4)
    assert request.retake_path == str(clip_file) and request.conditioning == []
    assert (request.retake_start, request.retake_end) == (10 / FPS, 14 / FPS)
    assert (request.num_frames, request.width, request.height, request.fps) == (25, 128, 128, FPS)
    request.validate()
    with pytest.raises(ProjectError, match="frames 0–24"):  # frames 25, 26: past the last 8k+1
        build_retake(project, clip.id, 25, 2)

    silent_project, silent_clip = project_with(clip_file, "tiny", 27)
    plan = build_retake(silent_project, silent_clip.id, 10, 4, "thunder", 5)
    assert plan.request.retake_path is None and "native" not in plan.extra
    assert [item.frame for item in plan.request.conditioning] == [0, 16]


@pytest.mark.slow  # a tiny LTX-2 retake: about 30 s on two cores
def test_retake_on_the_timeline_with_tiny_ltx2_makes_a_whole_take_with_sound(qtbot, tmp_path, tiny_ltx2_model):
    service = GenerationService()
    panel = TimelinePanel(service, QUndoStack())
    qtbot.addWidget(panel)
    panel.set_default_model(TINY_LTX2_ID)
    source = sound_clip(tmp_path / "clip.mp4", 27 / FPS, FPS, "green", 440.0, size=(128, 128))
    panel.add_files([str(source)], 0)
    clip = panel.project.clips[0]
    panel.view.retake_range = (clip.id, 8, 16)
    panel.controls.prompt.setText("thunder")
    panel.controls.seed.setValue(4)
    try:
        with qtbot.waitSignal(panel.jobs.landed, timeout=GENERATION_TIMEOUT_MS):
            assert panel.retake() is not None, panel.status.text()
    finally:
        service.shutdown()

    assert len(clip.takes) == 2 and clip.active == 1
    retake = clip.take.request
    assert retake["retake_path"] == str(source) and retake["model"] == TINY_LTX2_ID
    assert (retake["retake_start"], retake["retake_end"], retake["num_frames"]) == (8 / FPS, 16 / FPS, 25)
    assert retake["retake"]["native"] is True and retake["retake"]["count"] == 8
    new_file = panel.project.media_path(clip)
    info = probe_media(new_file)
    assert info.frames == 27 and (info.width, info.height) == (128, 128) and "aac" in info.audio_codec
    assert clip.source_frames == 27 and clip.take.has_audio
    assert np.abs(read_audio(new_file, rate=MIX_RATE)).max() > 0
    # Frames 25 and 26, past the last 8k+1, are the original's; the model's own frames are not.
    new, _ = read_video(new_file)
    old, _ = read_video(source)
    difference = np.abs(new.astype(int) - old.astype(int)).mean(axis=(1, 2, 3))
    assert (difference[25:] < 4).all() and (difference[:25] > 4).any()
    assert panel.status.text().startswith("Retake 8–15")
    panel.undo_stack.undo()
    assert len(clip.takes) == 1 and panel.project.media_path(clip) == source
    panel.undo_stack.redo()
    assert clip.active == 1 and panel.project.media_path(clip) == new_file
