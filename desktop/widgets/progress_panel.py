"""Progress of the running generation: stage name (with the core's detail), step i/N and the time left."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from desktop.widgets.advanced_settings import RESIDENCY_LABELS

STAGE_NAMES = {
    "load": "Loading models",
    "text_encode": "Reading the prompt",
    "first_pass": "First pass",
    "upsample": "Upscaling",
    "second_pass": "Second pass",
    "denoise": "Denoising",
    "decode": "Decoding video",
    "decode_sound": "Decoding sound",
}


def stage_label(name: str) -> str:
    return STAGE_NAMES.get(name, name.replace("_", " ").capitalize())


def residency_in_effect(detail: str) -> str | None:
    """The residency mode the core chose, from the 'load' stage's detail ('residency: stream_blocks')."""
    if detail.startswith("residency:"):
        return detail.split(":", 1)[1].strip() or None
    return None


def residency_label(mode: str) -> str:
    return RESIDENCY_LABELS.get(mode, mode.replace("_", " "))


def describe_detail(detail: str) -> str:
    """The core's stage detail in words: 'memory mode: one model at a time', 'seed 3', 'prompt + negative'."""
    mode = residency_in_effect(detail)
    if mode is not None:
        label = residency_label(mode)
        return f"memory mode: {label[:1].lower()}{label[1:]}"
    return detail


def format_eta(seconds: float) -> str:
    if seconds < 1:
        return "less than a second left"
    if seconds < 90:
        return f"about {seconds:.0f} s left"
    return f"about {seconds / 60:.0f} min left"


class ProgressPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.label = QLabel("Ready")
        self.label.setMinimumWidth(260)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar, 1)
        self.stage = ""

    def start(self) -> None:
        self.stage = ""
        self.bar.setRange(0, 0)  # busy indicator until the first step
        self.label.setText("Starting…")

    def set_stage(self, name: str, detail: str = "") -> None:
        self.stage = name
        self.bar.setRange(0, 0)
        text = describe_detail(detail)
        self.label.setText(f"{stage_label(name)} · {text}" if text else stage_label(name))

    def set_step(self, step: int, total: int, eta: float) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(step)
        self.bar.setFormat(f"{step}/{total}")
        self.label.setText(f"{stage_label(self.stage)} · step {step}/{total} · {format_eta(eta)}")

    def finish(self, message: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.bar.setFormat("")
        self.label.setText(message)

    def reset(self, message: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.label.setText(message)
