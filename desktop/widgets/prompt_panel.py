"""Prompt and negative prompt editors."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from ltx_mlx_core.pipeline.request import DEFAULT_NEGATIVE_PROMPT


class PromptPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText(
            "Describe the video: the subject, what moves and how, the camera, the light…"
        )
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setMinimumHeight(80)  # four lines; it grows with the window
        self.negative_edit = QPlainTextEdit()
        self.negative_edit.setPlaceholderText("What to avoid")
        self.negative_edit.setTabChangesFocus(True)
        self.negative_edit.setMaximumHeight(48)  # two lines
        self.negative_edit.setPlainText(DEFAULT_NEGATIVE_PROMPT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Prompt"))
        layout.addWidget(self.prompt_edit, 1)
        layout.addWidget(QLabel("Negative prompt"))
        layout.addWidget(self.negative_edit)

    def prompt(self) -> str:
        return self.prompt_edit.toPlainText().strip()

    def negative_prompt(self) -> str:
        return self.negative_edit.toPlainText().strip()

    def set_prompt(self, text: str) -> None:
        self.prompt_edit.setPlainText(text)

    def set_negative_prompt(self, text: str | None) -> None:
        self.negative_edit.setPlainText(DEFAULT_NEGATIVE_PROMPT if text is None else text)
