"""A timeline of five shape-animation clips rendered as the app draws it.

Set LTX_MLX_SCREENSHOTS=docs/screenshots to also write timeline.png there
(run under xvfb-run for the platform's real fonts and style).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtGui import QUndoStack

from desktop.project import Take
from desktop.timeline.panel import TimelinePanel
from ltx_mlx_core.video.io import write_video
from tests.desktop.test_timeline_fakes import FakeService

W, H = 192, 128


def shapes_clip(path: Path, frames: int, sky, ground, ball, phase: float) -> Path:
    """A ball bouncing across a two-tone scene."""
    rows, cols = np.mgrid[0:H, 0:W]
    video = np.empty((frames, H, W, 3), np.uint8)
    for f in range(frames):
        frame = np.where((rows < H * 0.65)[..., None], np.array(sky, np.uint8), np.array(ground, np.uint8))
        x = (phase + f / frames) % 1 * (W + 40) - 20
        y = H * 0.65 - 18 - abs(np.sin((phase + f / frames) * np.pi * 3)) * H * 0.4
        frame[(rows - y) ** 2 + (cols - x) ** 2 < 15 ** 2] = ball
        video[f] = frame
    return write_video(path, video, 24.0, crf=20, preset="ultrafast")


def test_timeline_with_five_clips_renders(qtbot, tmp_path):
    panel = TimelinePanel(FakeService(tmp_path), QUndoStack())
    qtbot.addWidget(panel)
    scenes = [((120, 170, 230), (70, 140, 60), (240, 80, 40)), ((250, 180, 120), (190, 120, 70), (60, 60, 200)),
              ((30, 30, 70), (50, 50, 90), (250, 240, 120)), ((150, 210, 220), (220, 220, 200), (200, 40, 120)),
              ((90, 90, 100), (120, 80, 60), (40, 200, 200))]
    paths = [str(shapes_clip(tmp_path / f"shot{i}.mp4", 49 + 8 * (i % 3), *s, phase=i / 5))
             for i, s in enumerate(scenes)]
    panel.add_files(paths, 0)
    clips = panel.project.clips
    clips[2].overlap_in = 9  # an extension of clip 2
    clips[2].takes.append(Take(paths[3], {"prompt": "second take"}, "Regenerate (take 2)", 57))
    panel.project.set_transition(clips[3].id, "crossfade", 12)
    panel.project.set_trim(clips[4].id, 6, 50)
    panel.view.set_zoom(3.0)
    panel.resize(1400, 300)
    panel.show()
    qtbot.waitExposed(panel)
    panel.select(clips[1].id)
    panel.view.retake_range = (clips[3].id, 20, 36)
    panel.view.range_selected.emit(clips[3].id, 20, 36)
    panel.view.set_playhead(70)
    panel.controls.prompt.setText("the ball keeps bouncing into the sunset")
    qtbot.wait(50)
    image = panel.grab().toImage()
    assert image.width() >= 1400 and len(clips) == 5
    target = os.environ.get("LTX_MLX_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        assert image.save(str(Path(target) / "timeline.png"))
