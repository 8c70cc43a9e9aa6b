"""The main window: composes the widgets, builds requests, shows progress. No model math.

Programmatic use (the self-test, tests): `window.generate_with(request)` submits
a request and returns the job id; `generation_finished(str mp4_path)`,
`generation_failed(str message)` and `generation_cancelled()` report the end.
`window.generate_action.trigger()` does what the Generate button does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QGuiApplication, QIcon, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.actions import WindowActions, build_menus
from desktop.app_identity import ICON_PATH
from desktop.generation_service import GenerationService
from desktop.history import HistoryEntry, unique_output_path
from desktop.hosts_run import HostsSwitch
from desktop.model_choices import model_choices
from desktop.settings import AppSettings, default_window_size, restore_window_settings, save_window_settings
from desktop.timeline.panel import TimelinePanel
from desktop.timeline.project_actions import PROJECT_SUFFIX
from desktop.widgets.appearance import appearance_menu, apply_appearance
from desktop.widgets.generation_form import GenerationForm
from desktop.widgets.history_panel import HistoryPanel
from desktop.widgets.memory_label import MemoryLabel
from desktop.widgets.model_manager import ModelManager
from desktop.widgets.preview_player import PreviewPlayer
from desktop.widgets.progress_panel import ProgressPanel, residency_in_effect, residency_label, stage_label
from desktop.widgets.settings_dialog import SettingsDialog
from ltx_mlx_core import paths
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.registry import LTX2, resolve_model

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    generation_finished = Signal(str)  # mp4 path
    generation_failed = Signal(str)  # user-facing message
    generation_cancelled = Signal()

    def __init__(
        self,
        service: GenerationService | None = None,
        settings: AppSettings | None = None,
        show_model_manager_if_empty: bool = True,
    ):
        super().__init__()
        self.setWindowTitle("LTX-MLX")
        if ICON_PATH.is_file():
            self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.settings = settings or AppSettings()
        self.service = service or GenerationService(parent=self)
        self.undo_stack = QUndoStack(self)
        self.window_actions = WindowActions(self)
        self.generate_action = self.window_actions.generate
        self.cancel_action = self.window_actions.cancel
        self.current_job: str | None = None
        self.last_output: Path | None = None
        self.error_dialog: QMessageBox | None = None
        self.model_manager: ModelManager | None = None

        self._build_widgets()
        self._build_menus()
        self._connect()
        choices = self.refresh_models()
        self.restore_settings()
        self.history_panel.refresh(self.settings.output_dir())
        self.service.set_video_quality(self.settings.get("video_crf"))
        self.hosts = HostsSwitch(self.service, self.settings)  # File → Settings → Hosts
        self._embed_timeline()
        if show_model_manager_if_empty and not any(choice.installed for choice in choices):
            # First launch: nothing to generate with yet.
            QTimer.singleShot(0, self.open_model_manager)

    # ----- construction -----
    def _build_widgets(self) -> None:
        self.form = GenerationForm()
        # The form's parts, named on the window for the tests and the settings code.
        self.prompt_panel, self.conditioning = self.form.prompt_panel, self.form.conditioning
        self.gen_settings, self.advanced = self.form.gen_settings, self.form.advanced
        self.generate_button, self.cancel_button = self.form.generate_button, self.form.cancel_button

        self.preview = PreviewPlayer()
        self.progress = ProgressPanel()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.preview, 1)
        right_layout.addWidget(self.progress)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.form)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)

        self.history_panel = HistoryPanel()
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("history_dock")
        self.history_dock.setWidget(self.history_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history_dock)
        self.history_dock.hide()
        # The bottom dock area is left free for the timeline.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        # The residency mode the core chose for the running (or last) job; hidden until a job reports one.
        self.residency_label = QLabel()
        self.residency_label.setToolTip(
            "How the running or last generation keeps its models in memory "
            "(Advanced → Memory mode; 'Automatic' picks by free memory)"
        )
        self.residency_label.hide()
        self.statusBar().addPermanentWidget(self.residency_label)
        self.memory_label = MemoryLabel()
        self.statusBar().addPermanentWidget(self.memory_label)
        screen = self.screen().availableGeometry()
        self.resize(*default_window_size(screen.width(), screen.height()))

    def _build_menus(self) -> None:
        self.undo_action, self.redo_action, self.view_menu = build_menus(
            self, self.window_actions, self.undo_stack, self.history_dock
        )
        self.appearance_group = appearance_menu(self.view_menu, self.settings)
        if self.settings.get("appearance") != "system":
            apply_appearance(QApplication.instance(), self.settings.get("appearance"))
        # Window-wide shortcuts (Esc must work while a text box has focus).
        self.addAction(self.window_actions.generate)
        self.addAction(self.window_actions.cancel)

    def _connect(self) -> None:
        a = self.window_actions
        a.generate.triggered.connect(self.generate)
        a.cancel.triggered.connect(self.cancel)
        self.generate_button.clicked.connect(a.generate.trigger)
        self.cancel_button.clicked.connect(a.cancel.trigger)
        a.choose_output_folder.triggered.connect(self.choose_output_folder)
        a.open_output_folder.triggered.connect(lambda: self._open_folder(self.settings.output_dir()))
        a.open_request.triggered.connect(self.open_request_file)
        a.settings.triggered.connect(self.open_settings)
        a.quit.triggered.connect(self.close)
        a.add_to_timeline.triggered.connect(self.add_last_to_timeline)
        a.paste_image.triggered.connect(self.paste_image)
        a.clear_conditioning.triggered.connect(self.conditioning.clear)
        a.model_manager.triggered.connect(self.open_model_manager)
        a.make_tiny.triggered.connect(lambda: self.open_model_manager().make_tiny())
        a.make_tiny_ltx2.triggered.connect(lambda: self.open_model_manager().make_tiny(LTX2))
        a.about.triggered.connect(self.show_about)
        a.open_log_folder.triggered.connect(lambda: self._open_folder(paths.log_dir()))
        for source in (self.conditioning, self.form.loras, self.form.control):
            source.rejected.connect(self.show_error)
        self.preview.load_failed.connect(lambda message: self.statusBar().showMessage(message, 10000))
        self.preview.sound_unavailable.connect(
            lambda reason: self.statusBar().showMessage(f"No sound: {reason}. Clips play without sound.", 15000)
        )
        self.gen_settings.model_combo.currentIndexChanged.connect(self._model_changed)
        self.history_panel.open_requested.connect(self.open_history_entry)
        self.history_panel.rerun_requested.connect(self.rerun_history_entry)
        self.history_panel.add_to_timeline_requested.connect(self.add_history_entry_to_timeline)
        s = self.service
        s.stage_started.connect(self._on_stage)
        s.step.connect(self._on_step)
        s.preview.connect(self._on_preview)
        s.job_finished.connect(self._on_finished)
        s.job_failed.connect(self._on_failed)
        s.job_cancelled.connect(self._on_cancelled)

    def _embed_timeline(self) -> None:
        self.timeline_panel = TimelinePanel(
            self.service, self.undo_stack, self, fallback_model=self.settings.get("model")
        )
        dock = QDockWidget("Timeline", self)
        dock.setObjectName("timeline_dock")
        dock.setWidget(self.timeline_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.view_menu.addAction(dock.toggleViewAction())
        self.timeline_panel.set_default_model(self.gen_settings.model_id())
        self.gen_settings.model_combo.currentIndexChanged.connect(
            lambda: self.timeline_panel.set_default_model(self.gen_settings.model_id())
        )
        self.history_panel.enable_timeline(True)

    # ----- models -----
    def refresh_models(self) -> list:
        """Every model in the picker by family (installed ones choosable); returns the ModelChoices."""
        choices = model_choices()
        self.gen_settings.set_models(choices, self.settings.get("model"))
        has_model = self.gen_settings.model_id() is not None
        self.generate_action.setEnabled(has_model and self.current_job is None)
        self.generate_button.setEnabled(self.generate_action.isEnabled())
        self.generate_button.setToolTip(
            "Generate (Ctrl+Return / ⌘↩)" if has_model else "Install a model first (Models → Model Manager)"
        )
        self._model_changed()
        return choices

    def _model_changed(self) -> None:
        model_id = self.gen_settings.model_id()
        config = None
        if model_id:
            try:
                config = resolve_model(model_id).config
            except LtxMlxError as error:
                log.warning("Cannot read model %s: %s", model_id, error)
        self.advanced.set_default_config(config)

    def open_model_manager(self) -> ModelManager:
        if self.model_manager is None:
            self.model_manager = ModelManager(self)
            self.model_manager.models_changed.connect(self.refresh_models)
        self.model_manager.refresh()
        self.model_manager.show()
        self.model_manager.raise_()
        return self.model_manager

    # ----- generating -----
    def build_request(self) -> GenerationRequest:
        return self.form.build_request()

    def generate(self) -> str | None:
        if self.current_job is not None:
            return None
        if not self.prompt_panel.prompt():
            self.show_error("Write a prompt first: it describes the video to generate.")
            return None
        problem = self.form.problem()
        if problem:
            self.show_error(problem)
            return None
        self.save_settings()
        return self.generate_with(self.build_request())

    def generate_with(self, request: GenerationRequest, output_path: Path | None = None) -> str:
        """Submit a request (self-test and tests call this directly); returns the job id."""
        output_dir = self.settings.output_dir()
        output_path = Path(output_path) if output_path else unique_output_path(output_dir, request.prompt)
        self.current_job = self.service.submit(request, output_path)
        self._set_running(True)
        self.progress.start()
        self.preview.show_message("Starting…")
        self.statusBar().showMessage(f"Generating {output_path.name}…")
        return self.current_job

    def cancel(self) -> None:
        if self.current_job is not None:
            self.service.cancel(self.current_job)
            self.progress.set_stage("cancelling")
            self.statusBar().showMessage("Cancelling at the next step…")

    def _set_running(self, running: bool) -> None:
        has_model = self.gen_settings.model_id() is not None
        self.generate_action.setEnabled(not running and has_model)
        self.cancel_action.setEnabled(running)
        self.form.set_running(running, has_model)

    def _mine(self, job: str) -> bool:
        return job == self.current_job

    def _on_stage(self, job: str, name: str, detail: str = "") -> None:
        mode = residency_in_effect(detail) if name == "load" else None
        if mode is not None:  # timeline jobs too: the mode is the app's memory use, whoever asked
            self.residency_label.setText(f"Memory mode: {residency_label(mode)}")
            self.residency_label.show()
        if self._mine(job):
            self.progress.set_stage(name, detail)
            self.statusBar().showMessage(f"{stage_label(name)}…")

    def _on_step(self, job: str, i: int, n: int, eta: float) -> None:
        if self._mine(job):
            self.progress.set_step(i, n, eta)

    def _on_preview(self, job: str, frames) -> None:
        if self._mine(job):
            self.preview.show_preview(frames)

    def _on_finished(self, job: str, path: str) -> None:
        if not self._mine(job):
            return
        self.current_job = None
        self._set_last_output(Path(path))
        self._set_running(False)
        self.progress.finish(f"Saved {Path(path).name}")
        self.statusBar().showMessage(f"Saved {path}", 10000)
        self.preview.load_video(path)
        self.history_panel.refresh(self.settings.output_dir())
        self.generation_finished.emit(path)

    def _on_failed(self, job: str, message: str) -> None:
        if not self._mine(job):
            return
        self.current_job = None
        self._set_running(False)
        self.progress.reset("Failed")
        self.preview.show_message("The generation failed.")
        self.show_error(message)
        if self.last_output is not None and self.last_output.is_file():
            self.preview.load_video(self.last_output)  # the previous clip stays where the user left it
        self.generation_failed.emit(message)

    def _on_cancelled(self, job: str) -> None:
        if not self._mine(job):
            return
        self.current_job = None
        self._set_running(False)
        self.progress.reset("Cancelled")
        self.preview.show_message("Cancelled.")
        self.statusBar().showMessage("Cancelled; memory freed.", 5000)
        self.generation_cancelled.emit()

    def show_error(self, message: str) -> QMessageBox:
        """A window-modal message box that does not block the event loop."""
        box = QMessageBox(QMessageBox.Icon.Warning, "LTX-MLX", message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_dialog = box
        return box

    # ----- conditioning, history, files -----
    def open_files(self, paths: list[str]) -> None:
        """Files the system asked the app to open (the Dock icon, Finder's Open With; see desktop.file_open).

        A .ltxproj project opens in the timeline as its Open timeline… does (asking about unsaved
        edits first); images and clips join the conditioning strip as a drop there does, which
        refuses anything else with the same message.
        """
        self.raise_()
        self.activateWindow()
        projects = [Path(p) for p in paths if Path(p).suffix.lower() == PROJECT_SUFFIX]
        media = [p for p in paths if Path(p).suffix.lower() != PROJECT_SUFFIX]
        if projects:
            self.timeline_panel.parentWidget().show()
            self.timeline_panel.project_actions.open_project(projects[-1])  # one timeline at a time
        if media:
            self.conditioning.add_paths(media)

    def paste_image(self) -> None:
        """Edit → Paste: an image, or files copied in a file manager (images, clips, a sound)."""
        self.conditioning.paste(QGuiApplication.clipboard().mimeData())

    def load_request(self, request: GenerationRequest) -> None:
        self.form.load_request(request)

    def open_history_entry(self, entry: HistoryEntry) -> None:
        self.preview.load_video(entry.video)
        self._set_last_output(entry.video)

    def _set_last_output(self, video: Path) -> None:
        self.last_output = video
        self.timeline_panel.project_actions.note_generated(str(video))
        self.window_actions.add_to_timeline.setEnabled(True)

    def add_last_to_timeline(self) -> None:
        """Append the last finished (or reopened) video as a clip; its sidecar request comes along."""
        if self.last_output is not None:
            self.timeline_panel.project_actions.note_generated(str(self.last_output))
            self.timeline_panel.project_actions.add_last_generated()
            self.timeline_panel.parentWidget().show()

    def add_history_entry_to_timeline(self, entry: HistoryEntry) -> None:
        self._set_last_output(entry.video)
        self.add_last_to_timeline()

    def rerun_history_entry(self, entry: HistoryEntry) -> None:
        self.load_request(entry.request)
        self.generate()

    def open_request_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Open request JSON", str(self.settings.output_dir()), "Request JSON (*.json)"
        )
        if not name:
            return
        try:
            data = json.loads(Path(name).read_text())
            self.load_request(GenerationRequest.from_dict(data.get("request", data)))
        except (OSError, ValueError, TypeError) as error:
            self.show_error(f"'{Path(name).name}' is not a request JSON file: {error}")

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self, model=self.gen_settings.model_id())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(self._settings_changed)
        dialog.open()
        return dialog

    def _settings_changed(self) -> None:
        self.service.set_video_quality(self.settings.get("video_crf"))
        self.hosts.apply()
        self.history_panel.refresh(self.settings.output_dir())

    def choose_output_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", str(self.settings.output_dir()))
        if folder:
            self.set_output_dir(Path(folder))

    def set_output_dir(self, folder: Path) -> None:
        self.settings.set("output_dir", str(folder))
        self.settings.save()
        self.history_panel.refresh(folder)

    def _open_folder(self, folder: Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About LTX-MLX",
            "LTX-MLX generates video with Lightricks' LTX-Video models on Apple MLX.\n"
            "Model weights are under their own licences (Models → Model Manager).",
        )

    # ----- settings -----
    def save_settings(self) -> None:
        save_window_settings(self, self.settings)

    def restore_settings(self) -> None:
        restore_window_settings(self, self.settings)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.service.shutdown()
        super().closeEvent(event)
