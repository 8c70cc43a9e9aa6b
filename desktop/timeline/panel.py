"""The timeline panel: toolbar, preview player and the timeline view over one project.

Every edit goes through the shared QUndoStack (the main window's Edit menu), a clip's
sound level and mute among them; generation goes through the shared GenerationService;
export (picture and sound) runs on its own thread. The space bar plays and pauses.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.project import Clip, Project, ProjectError, Take
from desktop.settings import DEFAULTS
from desktop.timeline.commands import (
    InsertClip,
    MoveClip,
    ProjectCommand,
    RemoveClip,
    SetClipGain,
    SetClipMute,
    SetTransition,
    SwitchTake,
    TrimClip,
    push_edit,
)
from desktop.timeline.controls import TimelineControls
from desktop.timeline.export import ExportJob
from desktop.timeline.film_preview import FilmScreen
from desktop.timeline.generation import TimelineJobs
from desktop.timeline.project_actions import ProjectActions
from desktop.timeline.requests import (
    build_bridge,
    build_extend,
    build_image_clip,
    build_regenerate,
    build_retake,
    generated_request,
)
from desktop.timeline.view import TimelineView
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.pipeline.request import media_kind, nearest_valid_size
from ltx_mlx_core.video.probe import probe_media

logger = logging.getLogger(__name__)
AUTOSAVE_MS = 30_000


class TimelinePanel(QWidget):
    project_changed = Signal()
    export_finished = Signal(str)
    export_failed = Signal(str)

    def __init__(
        self,
        service,
        undo_stack: QUndoStack | None = None,
        parent: QWidget | None = None,
        fallback_model: str | None = DEFAULTS["model"],
    ):
        """`fallback_model`: the app's saved model (its settings), for when no model is chosen yet."""
        super().__init__(parent)
        self.project = Project()
        self.default_model: str | None = None
        self.fallback_model = fallback_model
        self._owns_stack = undo_stack is None
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.service = service
        self.jobs = TimelineJobs(service, self.undo_stack, lambda: self.project, self._on_changed, self)
        self.view = TimelineView(self)
        self.controls = TimelineControls(self)
        self.project_actions = ProjectActions(self)
        self.screen = FilmScreen(lambda: self.project, lambda: self.view.playhead, self.view.set_playhead, self)
        self.preview, self.volume = self.screen.preview, self.screen.volume
        self.status = QLabel("Drop videos or images here, or generate a clip and extend it.")
        self.generation_bar = QProgressBar(visible=False, format="generating %v/%m")
        self.cancel_generation_button = QPushButton("Cancel generation", visible=False)
        self.export_bar = QProgressBar(visible=False, format="export %p%")
        self.cancel_export_button = QPushButton("Cancel export", visible=False)
        self.export_job: ExportJob | None = None
        self._autosave_timer = QTimer(self, interval=AUTOSAVE_MS)
        self._autosave_timer.start()
        self._build_layout()
        self._connect()
        self.set_project(Project())

    # Layout and wiring ----------------------------------------------------------------------

    def _build_layout(self) -> None:
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.screen)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([320, 960])
        footer = QHBoxLayout()
        footer.addWidget(self.status, 1)
        footer.addWidget(self.generation_bar)
        footer.addWidget(self.cancel_generation_button)
        footer.addWidget(self.export_bar)
        footer.addWidget(self.cancel_export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.controls)
        layout.addWidget(splitter, 1)
        layout.addLayout(footer)
        if self._owns_stack:  # a shared stack's Undo/Redo shortcuts belong to the window's Edit menu
            for name, key in (("undo", QKeySequence.Undo), ("redo", QKeySequence.Redo)):
                action = getattr(self.undo_stack, f"create{name.title()}Action")(self, name.title())
                action.setShortcut(key)
                action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
                self.addAction(action)
        self.controls.project_button.setMenu(self.project_actions.menu(self))
        self._autosave_timer.timeout.connect(self.project_actions.autosave)
        QTimer.singleShot(0, self.project_actions.recover_unsaved)  # once the window is up
        delete = QAction("Delete clip", self, shortcut=QKeySequence.Delete, triggered=self.delete_selected)
        delete.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.addAction(delete)

    def _connect(self) -> None:
        c = self.controls
        c.play.clicked.connect(self.toggle_play)
        self.preview.playing_changed.connect(lambda playing: c.play.setText("Pause" if playing else "Play"))
        c.extend.clicked.connect(lambda: self.extend(1))
        c.extend_n.clicked.connect(lambda: self.extend(c.extend_count.value()))
        c.bridge.clicked.connect(self.bridge)
        c.retake.clicked.connect(self.retake)
        c.regenerate.clicked.connect(self.regenerate)
        c.delete.clicked.connect(self.delete_selected)
        c.export.clicked.connect(lambda: self.export())
        c.zoom_in.clicked.connect(lambda: self.view.zoom_by(1.25))
        c.zoom_out.clicked.connect(lambda: self.view.zoom_by(0.8))
        c.take.activated.connect(self.switch_take)
        c.transition.activated.connect(lambda _: self.apply_transition())
        c.fade_frames.editingFinished.connect(self.apply_transition)
        c.clip_mute.toggled.connect(self.set_clip_muted)
        c.clip_gain.editingFinished.connect(lambda: self.set_clip_gain(c.clip_gain.value()))
        self.cancel_export_button.clicked.connect(self.cancel_export)
        self.view.selection_changed.connect(self._on_selection)
        self.view.playhead_moved.connect(self.show_frame)
        self.view.playhead_moved.connect(self.preview.follow_playhead)
        self.screen.sound_unavailable.connect(lambda why: self.status.setText(f"No sound: {why}; playing without."))
        self.view.move_requested.connect(
            lambda cid, index: self.push(MoveClip(self.project, cid, index, self._on_changed))
        )
        self.view.trim_requested.connect(
            lambda cid, a, b: self.push(TrimClip(self.project, cid, a, b, self._on_changed))
        )
        self.view.range_selected.connect(self._on_range)
        self.view.files_dropped.connect(self.add_files)
        self.jobs.message.connect(self.status.setText)
        self.jobs.landed.connect(lambda cid: self.select(cid))
        self.jobs.foreign_finished.connect(self.project_actions.note_generated)
        self.jobs.progress.connect(lambda i, n: (self.generation_bar.setMaximum(n), self.generation_bar.setValue(i)))
        self.jobs.pending_changed.connect(self._on_jobs_pending)
        self.cancel_generation_button.clicked.connect(self.jobs.cancel_all)

    # Document -------------------------------------------------------------------------------

    def set_default_model(self, model_id: str | None) -> None:
        """The model that extends imported clips and animates dropped images (generated clips keep theirs)."""
        self.default_model = model_id
        if model_id and not self.project.model:
            self.project.model = model_id

    def set_project(self, project: Project) -> None:
        if self.default_model and not project.model:
            project.model = self.default_model
        self.project = project
        self.undo_stack.clear()
        self.preview.reset()
        self.view.set_project(project)
        self._on_changed()

    def push(self, command: ProjectCommand) -> bool:
        """Push an edit; a refused edit (ProjectError) shows its reason and leaves the stack alone."""
        try:
            push_edit(self.undo_stack, command)
        except ProjectError as error:
            self.status.setText(str(error))
            self.view.refresh()  # a dragged clip or handle snaps back
            return False
        if command.note:
            self.status.setText(command.note)
        return True

    def _on_changed(self) -> None:
        self.view.refresh()
        self._update_controls()
        self.show_frame(self.view.playhead)
        self.preview.prepare_sound()
        self.project_changed.emit()

    def selected_clips(self) -> list[Clip]:
        return [self.project.clip(cid) for cid in self.view.selected if any(c.id == cid for c in self.project.clips)]

    def select(self, *clip_ids: str) -> None:
        self.view.selected = list(clip_ids)
        self.view.refresh()
        self._on_selection(self.view.selected)

    def _on_selection(self, ids: list) -> None:
        clips = self.selected_clips()
        if clips and clips[-1].take.request:
            self.controls.prompt.setText(clips[-1].take.request.get("prompt", ""))
        self._update_controls()

    def _on_range(self, clip_id: str, start: int, end: int) -> None:
        if not clip_id:
            self.status.setText("Range cleared.")
            self._update_controls()
            return
        self.status.setText(
            f"Range {start}–{end - 1} of clip {self.project.index_of(clip_id) + 1} selected: Retake regenerates it."
        )
        self._update_controls()

    def _update_controls(self) -> None:
        clips = self.selected_clips()
        one = len(clips) >= 1
        index = self.project.index_of(clips[-1].id) if one else -1
        self.controls.update_for(
            clips[-1] if one else None,
            index,
            len(self.project.clips),
            bool(self.view.retake_range),
            self.export_job is not None,
        )

    # Edits ----------------------------------------------------------------------------------

    def add_files(self, paths: list, index: int) -> None:
        """Videos are imported as clips; images become image-to-video generations."""
        for path in map(Path, paths):
            kind = media_kind(path)
            try:
                if kind == "video":
                    info = probe_media(path)
                    take = Take(
                        self.project.import_media(path),
                        generated_request(path),
                        path.stem,
                        info.frames,
                        has_audio=info.audio_codec is not None,
                    )
                    clip = Clip(takes=[take])
                    if not self.project.clips:  # the first video sets the film's rate and generation size
                        self.project.fps = info.fps or self.project.fps
                        self.project.width = nearest_valid_size(info.width)
                        self.project.height = nearest_valid_size(info.height)
                    self.push(InsertClip(self.project, index, clip, self._on_changed, text="Import video"))
                    index += 1
                elif kind == "image":
                    plan = build_image_clip(
                        self.project,
                        path,
                        index,
                        self.controls.prompt.text(),
                        self.controls.seed_value(),
                        self.controls.frames.value(),
                    )
                    self.jobs.submit(plan)
                else:
                    self.status.setText(f"'{path.name}' is not a video or image the timeline can use.")
            except (ProjectError, LtxMlxError) as error:
                self.status.setText(str(error))

    def delete_selected(self) -> None:
        for clip in self.selected_clips():
            self.push(RemoveClip(self.project, clip.id, self._on_changed))

    def switch_take(self, take_index: int) -> None:
        clips = self.selected_clips()
        if clips and take_index != clips[-1].active:
            self.push(SwitchTake(self.project, clips[-1].id, take_index, self._on_changed))

    def apply_transition(self) -> None:
        clips = self.selected_clips()
        if not clips:
            return
        kind = self.controls.transition.currentText().lower()
        frames = self.controls.fade_frames.value() if kind == "crossfade" else 0
        clip = clips[-1]
        if (clip.transition, clip.transition_frames) != (kind, frames):
            self.push(SetTransition(self.project, clip.id, kind, frames, self._on_changed))

    def set_clip_muted(self, muted: bool) -> None:
        clips = self.selected_clips()
        if clips and clips[-1].muted != muted:
            self.push(SetClipMute(self.project, clips[-1].id, muted, self._on_changed))

    def set_clip_gain(self, gain_db: float) -> None:
        clips = self.selected_clips()
        if clips and clips[-1].gain_db != gain_db:
            self.push(SetClipGain(self.project, clips[-1].id, gain_db, self._on_changed))

    # Generation -----------------------------------------------------------------------------

    def _submit(self, build, chain: int = 0) -> str | None:
        if not self.project.model:  # imported clips and images are animated with the app's chosen model
            self.project.model = self.default_model or self.fallback_model
        try:
            return self.jobs.submit(build(), chain)
        except (ProjectError, LtxMlxError) as error:
            self.status.setText(str(error))
            return None

    def extend(self, times: int = 1) -> str | None:
        """Continue the selected clip `times` times in a chain (each from the previous result)."""
        clips = self.selected_clips()
        if not clips:
            self.status.setText("Select the clip to continue.")
            return None
        c = self.controls
        return self._submit(
            lambda: build_extend(self.project, clips[-1].id, c.prompt.text(), c.seed_value(), c.frames.value()),
            max(0, times - 1),
        )

    def bridge(self) -> str | None:
        clips = self.selected_clips()
        if not clips:
            self.status.setText("Select the clip after which the bridge goes.")
            return None
        first = self.project.index_of(clips[0].id)
        if len(clips) == 1 and first + 1 < len(self.project.clips):
            second_id = self.project.clips[first + 1].id
        else:
            second_id = clips[-1].id
        c = self.controls
        return self._submit(
            lambda: build_bridge(
                self.project, clips[0].id, second_id, c.prompt.text(), c.seed_value(), c.frames.value()
            )
        )

    def retake(self) -> str | None:
        if not self.view.retake_range:
            self.status.setText("Shift-drag across a clip to choose the frames to retake.")
            return None
        clip_id, start, end = self.view.retake_range
        c = self.controls
        return self._submit(
            lambda: build_retake(self.project, clip_id, start, end - start, c.prompt.text(), c.seed_value())
        )

    def regenerate(self) -> str | None:
        clips = self.selected_clips()
        if not clips:
            self.status.setText("Select the clip to regenerate.")
            return None
        c = self.controls
        return self._submit(
            lambda: build_regenerate(self.project, clips[-1].id, c.prompt.text() or None, c.seed_value())
        )

    def _on_jobs_pending(self, count: int) -> None:
        self.generation_bar.setVisible(count > 0)
        self.cancel_generation_button.setVisible(count > 0)
        if count:
            self.generation_bar.setValue(0)

    # Preview --------------------------------------------------------------------------------

    def show_frame(self, frame: int) -> None:
        self.preview.show_frame(frame)

    def toggle_play(self) -> None:
        self.preview.toggle()

    def is_playing(self) -> bool:
        return self.preview.is_playing()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():  # from the view, or anything not typing
            self.toggle_play()
            event.accept()
            return
        super().keyPressEvent(event)

    # Files and export -----------------------------------------------------------------------

    def export(self, output: Path | None = None, crf: int | None = None, preset: str | None = None) -> ExportJob | None:
        """Stitch the timeline and its sound in the toolbar's format on a worker thread (progress, Cancel export)."""
        if self.export_job is not None:
            return None
        codec, suffix = self.controls.export_format()
        if output is None:
            kind = suffix[1:].upper()
            name, _ = QFileDialog.getSaveFileName(
                self, "Export video", f"{self.project.name}{suffix}", f"{kind} (*{suffix})"
            )
            if not name:
                return None
            output = Path(name)
        crf = self.controls.crf.value() if crf is None else crf
        preset = self.controls.preset.currentText() if preset is None else preset
        job = ExportJob(self.project.segments(), Path(output), self.project.fps, crf, preset, parent=self, codec=codec)
        job.progress.connect(lambda done, total: (self.export_bar.setMaximum(total), self.export_bar.setValue(done)))
        job.finished.connect(lambda path: self._export_done(f"Exported {Path(path).name}.", path, True))
        job.failed.connect(lambda message: self._export_done(message, message, False))
        job.cancelled.connect(lambda: self._export_done("Export cancelled; nothing was written.", "cancelled", False))
        self.export_job = job
        self.export_bar.setValue(0)
        self.export_bar.setVisible(True)
        self.cancel_export_button.setVisible(True)
        self.status.setText(f"Exporting {self.project.total_frames} frames…")
        self._update_controls()
        job.start()
        return job

    def cancel_export(self) -> None:
        if self.export_job is not None:
            self.export_job.cancel()

    def _export_done(self, message: str, detail: str, ok: bool) -> None:
        if self.export_job is not None:
            self.export_job.wait()
        self.export_job = None
        self.export_bar.setVisible(False)
        self.cancel_export_button.setVisible(False)
        self.status.setText(message)
        self._update_controls()
        (self.export_finished if ok else self.export_failed).emit(detail)
