"""A timeline of five shape-animation clips rendered as the app draws it, checked pixel by pixel:
each clip's filmstrip shows its own video, the playhead is red where it stands, the selected
clip has its handles, and the retake band marks its frames without covering the labels.

Set LTX_MLX_SCREENSHOTS=docs/screenshots to also write timeline.png there
(run under xvfb-run for the platform's real fonts and style).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QImage, QUndoStack

from desktop.project import Take
from desktop.timeline.panel import TimelinePanel
from desktop.timeline.view import CLIP_BACKGROUND, HANDLE, LABEL_STRIP, PLAYHEAD, RULER
from ltx_mlx_core.video.io import write_video
from tests.desktop.test_timeline_fakes import FakeService

W, H = 192, 128
SCENES = [
    ((120, 170, 230), (70, 140, 60), (240, 80, 40)),
    ((250, 180, 120), (190, 120, 70), (60, 60, 200)),
    ((30, 30, 70), (50, 50, 90), (250, 240, 120)),
    ((150, 210, 220), (220, 220, 200), (200, 40, 120)),
    ((90, 90, 100), (120, 80, 60), (40, 200, 200)),
]


def shapes_clip(path: Path, frames: int, sky, ground, ball, phase: float) -> Path:
    """A ball bouncing across a two-tone scene."""
    rows, cols = np.mgrid[0:H, 0:W]
    video = np.empty((frames, H, W, 3), np.uint8)
    for f in range(frames):
        frame = np.where((rows < H * 0.65)[..., None], np.array(sky, np.uint8), np.array(ground, np.uint8))
        x = (phase + f / frames) % 1 * (W + 40) - 20
        y = H * 0.65 - 18 - abs(np.sin((phase + f / frames) * np.pi * 3)) * H * 0.4
        frame[(rows - y) ** 2 + (cols - x) ** 2 < 15**2] = ball
        video[f] = frame
    return write_video(path, video, 24.0, crf=20, preset="ultrafast")


def rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), -1)
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)


def close_to(pixels: np.ndarray, colour, tolerance: int) -> np.ndarray:
    return (np.abs(pixels - np.array(colour)) <= tolerance).all(axis=-1)


def test_timeline_with_five_clips_renders(qtbot, tmp_path):
    panel = TimelinePanel(FakeService(tmp_path), QUndoStack())
    qtbot.addWidget(panel)
    paths = [
        str(shapes_clip(tmp_path / f"shot{i}.mp4", 49 + 8 * (i % 3), *s, phase=i / 5)) for i, s in enumerate(SCENES)
    ]
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
    assert image.width() >= 1400 and len(clips) == 5 and image.devicePixelRatio() == 1
    pixels = rgb(image)
    view, viewport = panel.view, panel.view.viewport()

    def box(clip_index: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of a clip in the grabbed image; the part not under the next clip."""
        rect = view.clip_rect(clips[clip_index].id).toRect()
        right = rect.right()
        if clip_index + 1 < len(clips):
            right = min(right, view.clip_rect(clips[clip_index + 1].id).toRect().left() - 1)
        top_left = viewport.mapTo(panel, rect.topLeft())
        return top_left.x(), top_left.y(), top_left.x() + right - rect.left(), top_left.y() + rect.height() - 1

    # Each filmstrip shows its clip's video: the sky of its scene fills the top of the thumbnails
    # (clip 3 plays its first take, shot 2), and no filmstrip is left blank.
    ppf = view.pixels_per_frame
    for index, (sky, _, _) in enumerate(SCENES):
        left, top, right, bottom = box(index)
        clear_of = left + HANDLE + 3 + (int(36 * ppf) + 4 if index == 3 else 0)  # the handle; fade and band
        strip = pixels[top + 4 : bottom - LABEL_STRIP - 2, left + HANDLE + 3 : right - HANDLE - 2]
        assert close_to(strip, QColor(CLIP_BACKGROUND).getRgb()[:3], 6).mean() < 0.1, index
        sky_patch = pixels[top + 4 : top + 24, clear_of : right - HANDLE - 2].reshape(-1, 3)
        assert np.abs(np.median(sky_patch, axis=0) - sky).max() <= 20, (index, np.median(sky_patch, axis=0))

    # The playhead: a red line at frame 70 through the ruler and the track, nowhere else nearby.
    x = viewport.mapTo(panel, QPoint(view.mapFromScene(70 * ppf, 0).x(), 0)).x()
    ruler_top = viewport.mapTo(panel, QPoint(0, 0)).y()
    red = close_to(pixels[ruler_top + 2 : ruler_top + RULER - 2], QColor(PLAYHEAD).getRgb()[:3], 40)
    assert red[:, x - 1 : x + 2].any(axis=1).all()
    assert not red[:, x + 4 : x + 60].any() and not red[:, x - 60 : x - 4].any()
    _, top, _, bottom = box(1)
    assert close_to(pixels[top + 10 : bottom - 10, x - 1 : x + 2], QColor(PLAYHEAD).getRgb()[:3], 40).any(axis=1).all()

    # The selected clip (2) has blue trim handles at both ends.
    left, top, right, bottom = box(1)
    middle = (top + bottom) // 2
    assert close_to(pixels[middle, left + 2 : left + HANDLE - 1], (0x4D, 0xA3, 0xFF), 12).all()
    assert close_to(pixels[middle, right - HANDLE + 2 : right - 2], (0x4D, 0xA3, 0xFF), 12).all()

    # The retake band (frames 20-35 of clip 4) tints its frames orange over the filmstrip, and
    # the label strip under it ("4  49 f · fade 12") keeps its dark background and light text.
    left, top, right, bottom = box(3)
    band = slice(left + int(20 * ppf) + 3, left + int(36 * ppf) - 3)
    outside = slice(left + int(36 * ppf) + 4, left + int(36 * ppf) + 30)
    filmstrip_rows = slice(top + 4, top + 24)
    warmth = lambda region: (region[..., 0] - region[..., 2]).mean()  # noqa: E731
    assert warmth(pixels[filmstrip_rows, band]) > warmth(pixels[filmstrip_rows, outside]) + 30
    label = pixels[bottom - LABEL_STRIP + 2 : bottom - 1, band]
    assert (label[..., 0] - label[..., 2]).max() < 30  # no orange over the label
    assert np.median(label.reshape(-1, 3), axis=0).max() < 70 and label.max() > 170  # dark strip, light text

    target = os.environ.get("LTX_MLX_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        assert image.save(str(Path(target) / "timeline.png"))
