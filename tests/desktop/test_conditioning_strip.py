"""Drag and drop onto the conditioning strip with real Qt drop events, and clipboard paste."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from ltx_mlx_core.video.io import write_video


def drop_files(widget, paths: list[Path]) -> bool:
    """Send the drag-enter and drop events a file manager's drag produces; True if the drop was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = widget.rect().center()
    enter = QDragEnterEvent(
        centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(
        QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def write_png(path: Path, width: int = 128, height: int = 96) -> Path:
    gradient = np.linspace(0, 255, width, dtype=np.uint8)
    pixels = np.stack([np.tile(gradient, (height, 1))] * 3, axis=-1)
    Image.fromarray(pixels).save(path)
    return path


def test_dropped_png_becomes_a_movable_conditioning_item_used_by_the_generation(qtbot, window, tmp_path):
    png = write_png(tmp_path / "first frame.png")
    assert drop_files(window.conditioning, [png])
    items = window.conditioning.items()
    assert len(items) == 1 and Path(items[0].path) == png and items[0].kind == "image"
    assert items[0].frame == 0
    row = window.conditioning.rows[0]
    assert row.frame_spin.maximum() == 8  # 9 frames: positions 0..8
    row.frame_spin.setValue(8)
    row.strength_spin.setValue(0.8)
    assert (items[0].frame, items[0].strength) == (8, 0.8)

    window.prompt_panel.set_prompt("the gradient comes alive")
    with qtbot.waitSignal(window.generation_finished, timeout=120_000) as finished:
        window.generate_action.trigger()
    sidecar = json.loads(Path(finished.args[0]).with_suffix(".json").read_text())
    assert [(c["path"], c["frame"], c["strength"]) for c in sidecar["request"]["conditioning"]] == [(str(png), 8, 0.8)]


def test_dropped_non_media_file_is_refused_with_a_clear_message(qtbot, window, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with qtbot.waitSignal(window.conditioning.rejected) as rejected:
        drop_files(window.conditioning, [notes])
    assert window.conditioning.items() == []
    message = rejected.args[0]
    assert "notes.txt" in message and "only images, videos and sounds" in message and ".png" in message
    assert window.error_dialog is not None and window.error_dialog.isVisible()
    assert "notes.txt" in window.error_dialog.text()
    window.error_dialog.accept()


def test_mixed_drop_keeps_the_media_and_names_the_refused_file(qtbot, window, tmp_path):
    png = write_png(tmp_path / "a.png")
    clip = tmp_path / "b.mp4"

    write_video(clip, np.zeros((9, 64, 64, 3), np.uint8), 8.0)
    other = tmp_path / "c.pdf"
    other.write_bytes(b"%PDF-1.4")
    with qtbot.waitSignal(window.conditioning.rejected) as rejected:
        drop_files(window.conditioning, [png, clip, other])
    assert [item.kind for item in window.conditioning.items()] == ["image", "video"]
    # The second item defaults to the last frame (a keyframe at the end).
    assert [item.frame for item in window.conditioning.items()] == [0, 8]
    assert "c.pdf" in rejected.args[0] and "a.png" not in rejected.args[0]
    window.error_dialog.accept()
    window.conditioning.remove_row(window.conditioning.rows[0])
    assert [item.kind for item in window.conditioning.items()] == ["video"]


def test_pasted_clipboard_image_becomes_an_in_memory_conditioning_item(qtbot, window):
    image = QImage(40, 30, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.red)
    QGuiApplication.clipboard().setImage(image)
    window.window_actions.paste_image.trigger()
    items = window.conditioning.items()
    assert len(items) == 1 and items[0].path is None
    assert items[0].frames.shape == (1, 30, 40, 3)
    assert tuple(items[0].frames[0, 0, 0]) == (255, 0, 0)
