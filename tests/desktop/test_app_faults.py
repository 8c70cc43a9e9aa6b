"""The app under faults: a writer that fails, foreign files in the output folder, an exception in a slot."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import types
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.app import install_excepthook, setup_logging
from desktop.history import scan_history, unique_output_path
from desktop.widgets.history_panel import HistoryPanel
from ltx_mlx_core.pipeline import write_result
from ltx_mlx_core.pipeline.events import VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.video import encoder

GENERATION_TIMEOUT_MS = 120_000


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def disk_full_ffmpeg(folder: Path) -> types.SimpleNamespace:
    """An 'ffmpeg' that writes half a file and fails as ffmpeg does on a full disk."""
    exe = folder / "ffmpeg"
    exe.write_text(
        '#!/bin/sh\nfor out; do :; done\ncat > /dev/null\nprintf half > "$out"\n'
        'echo "[out#0/mp4 @ 0x1] Error writing trailer: No space left on device" >&2\nexit 228\n'
    )
    exe.chmod(0o755)
    return types.SimpleNamespace(get_ffmpeg_exe=lambda: str(exe))


def test_a_generation_whose_writer_fails_shows_the_error_and_keeps_the_previous_clip_and_history(
    qtbot, window, tmp_path, monkeypatch
):
    output_dir = window.settings.output_dir()
    window.prompt_panel.set_prompt("a clip to keep")
    with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as finished:
        window.generate_action.trigger()
    kept = Path(finished.args[0])
    qtbot.waitUntil(lambda: window.preview.source == kept, timeout=10_000)
    outputs = files_in(output_dir)
    history = [e.video for e in window.history_panel.entries]
    assert history == [kept]

    monkeypatch.setattr(encoder, "imageio_ffmpeg", disk_full_ffmpeg(tmp_path))  # the disk fills up
    window.prompt_panel.set_prompt("a clip that cannot be written")
    with qtbot.waitSignal(window.generation_failed, timeout=GENERATION_TIMEOUT_MS) as failed:
        window.generate_action.trigger()

    assert re.fullmatch(r"Could not write '[\w-]+\.mp4': the disk is full; nothing was written\.", failed.args[0])
    assert window.error_dialog.isVisible() and window.error_dialog.text() == failed.args[0]
    assert files_in(output_dir) == outputs  # no new file, no temporary file, the kept clip unchanged
    window.history_panel.refresh(output_dir)
    assert [e.video for e in window.history_panel.entries] == history
    assert window.last_output == kept
    qtbot.waitUntil(lambda: window.preview.source == kept and window.preview.frames is not None, timeout=10_000)
    assert window.generate_button.isEnabled()


def test_foreign_json_files_in_the_output_folder_do_not_break_the_history(qtbot, tmp_path):
    request = GenerationRequest(prompt="a real one", seeds=[3], width=64, height=32, num_frames=9, fps=8.0)
    (real,) = write_result(
        VideoResult(videos=[np.zeros((9, 32, 64, 3), np.uint8)], seeds=[3], fps=8.0, request=request),
        tmp_path / "real.mp4",
    )
    foreign = {
        "notes.json": {"a": 1},
        "list.json": [1, 2],
        "escape.json": {"video": "../real.mp4", "request": {}, "seed": 1},
        "typed.json": {"video": 5, "request": {"prompt": 3}, "seed": 1},
        "prompt.json": {"format": "ltx-mlx-sidecar/1", "video": "real.mp4", "request": {"prompt": ["x"]}, "seed": 1},
        "request.json": {"video": "real.mp4", "request": "not a dict", "seed": 1},
    }
    for name, data in foreign.items():
        (tmp_path / name).write_text(json.dumps(data))
    (tmp_path / "broken.json").write_text("{ not json")
    assert [e.video for e in scan_history(tmp_path)] == [real]
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.refresh(tmp_path)
    assert [e.video for e in panel.entries] == [real] and panel.entries[0].title == "a real one"


def test_a_new_output_name_never_takes_a_users_json_as_its_sidecar(tmp_path):
    first = unique_output_path(tmp_path, "a fox")
    first.with_suffix(".json").write_text('{"my": "notes"}')
    second = unique_output_path(tmp_path, "a fox")
    assert second != first and not second.with_suffix(".json").exists()


class _Emitter(QObject):
    fire = Signal()


def test_an_unhandled_exception_in_a_slot_is_logged_with_its_traceback_and_shown(qtbot):
    log_file = setup_logging()
    handlers = list(logging.getLogger().handlers)
    previous = (sys.excepthook, threading.excepthook)
    emitter = _Emitter()

    def broken_slot():
        raise ValueError("slot boom")

    emitter.fire.connect(broken_slot)
    try:
        install_excepthook(log_file)
        emitter.fire.emit()
        worker = threading.Thread(target=broken_slot, name="background-job")
        worker.start()
        worker.join()
    finally:
        sys.excepthook, threading.excepthook = previous
        for handler in handlers:
            handler.flush()
        for handler in logging.getLogger().handlers[:]:
            if getattr(handler, "baseFilename", None) == str(log_file):
                logging.getLogger().removeHandler(handler)
                handler.close()
    text = log_file.read_text()
    assert "CRITICAL" in text and "Unhandled exception" in text and "Traceback" in text
    assert "ValueError: slot boom" in text and "in thread background-job" in text
    boxes = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.isVisible() and w.text().startswith("Something went wrong")
    ]
    assert [b.text() for b in boxes] == [
        f"Something went wrong (ValueError: slot boom). The app keeps running; the details are in {log_file}."
    ]
    for box in boxes:
        box.close()
