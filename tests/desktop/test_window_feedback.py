"""What the window shows while it generates: progress text, the memory mode in effect, memory in use, previews."""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from desktop.widgets.advanced_settings import RESIDENCY_LABELS
from desktop.widgets.memory_label import MIB, resident_bytes

GENERATION_TIMEOUT_MS = 120_000
ETA = r"(less than a second left|about \d+ s left|about \d+ min left)"


def generate(qtbot, window, prompt: str) -> str:
    window.prompt_panel.set_prompt(prompt)
    with qtbot.waitSignal(window.preview.clip_loaded, timeout=GENERATION_TIMEOUT_MS) as loaded:
        window.generate_action.trigger()
    return loaded.args[0]


def test_progress_label_names_each_stage_and_counts_steps_with_an_eta(qtbot, window):
    texts: list[str] = []
    bar_formats: list[str] = []
    # Connected after the window's own slots, so each reads what the window has just shown.
    window.service.stage_started.connect(lambda job, name, detail: texts.append(window.progress.label.text()))
    window.service.step.connect(
        lambda job, i, n, eta: (
            texts.append(window.progress.label.text()),
            bar_formats.append(window.progress.bar.format()),
        )
    )
    generate(qtbot, window, "counting the steps")
    # The tiny model's pipeline: two passes (3 + 2 steps) with an upsample between, then one decoded tile.
    assert re.fullmatch(r"Loading models · memory mode: .+", texts[0]), texts[0]
    assert "Reading the prompt" in texts[1]
    steps = [t for t in texts if " · step " in t]
    expected = [
        ("First pass", 1, 3),
        ("First pass", 2, 3),
        ("First pass", 3, 3),
        ("Upscaling", 1, 1),
        ("Second pass", 1, 2),
        ("Second pass", 2, 2),
        ("Decoding video", 1, 1),
    ]
    assert len(steps) == len(expected), steps
    for text, (stage, i, n) in zip(steps, expected):
        assert re.fullmatch(rf"{stage} · step {i}/{n} · {ETA}", text), text
    assert bar_formats == [f"{i}/{n}" for _, i, n in expected]
    assert "First pass · seed 7" in texts and "Second pass · seed 7" in texts
    assert window.progress.label.text().startswith("Saved ")


def test_the_memory_mode_the_core_chose_is_shown_in_progress_and_status_bar(qtbot, window):
    assert window.residency_label.isHidden()
    loads: list[tuple[str, str]] = []
    window.service.stage_started.connect(
        lambda job, name, detail: loads.append((detail, window.progress.label.text())) if name == "load" else None
    )
    window.advanced.residency_combo.setCurrentIndex(window.advanced.residency_combo.findData("stream_blocks"))
    generate(qtbot, window, "streaming blocks")
    assert loads == [
        ("residency: stream_blocks", "Loading models · memory mode: stream transformer blocks (least memory)")
    ]
    assert window.residency_label.isVisible()
    assert window.residency_label.text() == "Memory mode: Stream transformer blocks (least memory)"

    # Automatic: the label names the mode the core picked, never "automatic".
    window.advanced.residency_combo.setCurrentIndex(window.advanced.residency_combo.findData("auto"))
    loads.clear()
    generate(qtbot, window, "automatic memory mode")
    chosen = loads[0][0].split(": ", 1)[1]
    assert chosen in ("resident", "stream_components", "stream_blocks")

    assert window.residency_label.text() == f"Memory mode: {RESIDENCY_LABELS[chosen]}"


def memory_readings(text: str) -> dict[str, int]:
    """'Memory: 1,234 MiB · MLX active 3 MiB, peak 19 MiB' -> {'rss': 1234, 'active': 3, 'peak': 19}."""
    readings = {}
    for key, pattern in (
        ("rss", r"(?:Peak memory|Memory): ([\d,]+) MiB"),
        ("active", r"MLX active ([\d,]+) MiB"),
        ("peak", r"peak ([\d,]+) MiB"),
    ):
        match = re.search(pattern, text)
        if match:
            readings[key] = int(match.group(1).replace(",", ""))
    return readings


def test_status_bar_memory_label_reads_real_numbers_that_change_during_a_generation(qtbot, window):
    label = window.memory_label
    first = memory_readings(label.text())
    assert "rss" in first, label.text()
    # The process's own resident size, to the MiB (it moves a little between the two reads).
    assert abs(first["rss"] - resident_bytes() / MIB) < 64
    label.timer.setInterval(50)  # refreshed by its own timer; faster here so a tiny-model run sees several
    seen: list[str] = []
    window.service.step.connect(lambda *args: seen.append(label.text()))
    window.service.stage_started.connect(lambda *args: seen.append(label.text()))
    generate(qtbot, window, "watching memory")
    qtbot.wait(120)
    seen.append(label.text())
    readings = [memory_readings(text) for text in seen]
    assert all("rss" in r for r in readings), seen
    assert len({text for text in seen}) >= 2, f"the label did not change during the run: {seen}"
    final = readings[-1]
    # MLX is loaded by now (the worker used it): its active and peak allocations are shown too.
    assert "active" in final and "peak" in final, seen[-1]
    assert final["peak"] > 0 and final["peak"] >= final["active"]


def image_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * height)
    return data.reshape(height, image.bytesPerLine())[:, : 3 * width].reshape(height, width, 3).copy()


def test_preview_pane_shows_each_step_preview_while_the_window_generates(qtbot, window):
    shown: list[tuple[np.ndarray, np.ndarray]] = []  # (the preview's middle frame, what the pane displays)

    def on_preview(job, frames) -> None:  # after the window's own slot has put it on screen
        assert not window.preview.screen.pixmap().isNull()
        shown.append((np.asarray(frames)[len(frames) // 2], image_array(window.preview.screen.pixmap().toImage())))

    window.service.preview.connect(on_preview)
    generate(qtbot, window, "live previews")
    assert len(shown) >= 5, "a preview per denoising step (3 + 2) and one decoded"
    for frame, displayed in shown:
        # Displayed scaled to the pane; brought back to the frame's size it is that frame.
        image = QImage(
            displayed.data, displayed.shape[1], displayed.shape[0], 3 * displayed.shape[1], QImage.Format.Format_RGB888
        )
        back = image_array(image.scaled(frame.shape[1], frame.shape[0], Qt.AspectRatioMode.IgnoreAspectRatio))
        assert np.abs(back.astype(int) - frame.astype(int)).mean() < 12
        assert displayed.shape[0] > frame.shape[0], "scaled up to fill the pane"
    # The pane changes whenever the preview does (the tiny model's last steps may repeat a preview exactly).
    changes = [not np.array_equal(a[0], b[0]) for a, b in zip(shown, shown[1:])]
    assert changes == [not np.array_equal(a[1], b[1]) for a, b in zip(shown, shown[1:])]
    assert sum(changes) >= 3, "the previews hardly changed"
