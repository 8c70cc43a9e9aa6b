"""The timeline: clips as thumbnails sized by duration, their waveforms, a playhead, drag to reorder,
trim handles.

The view never edits the project: drags end in signals (move_requested,
trim_requested, …) that the panel turns into undo commands, then `refresh()`
redraws from the document.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView

from desktop.project import Project
from desktop.timeline.playback import FrameCache, Placement, film_layout
from desktop.timeline.waveforms import WAVE_HEIGHT, ClipSound, WaveformItem, WaveformStore, waveform_cache
from ltx_mlx_core.video.mix import gain_from_db

RULER = 22
TRACK_TOP = 30
TRACK_HEIGHT = 92
HANDLE = 7
LABEL_STRIP = 18  # the clip's bottom strip: number, length, takes, fade
CLIP_BACKGROUND = "#2b2f36"
RETAKE_EDGE = "#ffaa00"
PLAYHEAD = "#ff4d4d"
MIN_PIXELS_PER_FRAME, MAX_PIXELS_PER_FRAME = 0.25, 40.0
RULER_STEPS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


def to_pixmap(frame) -> QPixmap:
    height, width = frame.shape[:2]
    image = QImage(frame.tobytes(), width, height, 3 * width, QImage.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class ClipItem(QGraphicsItem):
    """One clip: thumbnails tiled over its width, its waveform under them, a label, trim handles when selected."""

    def __init__(self, place: Placement, index: int, view: TimelineView):
        super().__init__()
        self.place, self.index, self.view = place, index, view
        self.clip_id = place.clip.id
        self.width = max(8.0, place.duration * view.pixels_per_frame)
        self.trim_preview: tuple[int, int] | None = None  # frames moved at (left, right) while dragging
        self.wave: WaveformItem | None = None
        self.setPos(place.start * view.pixels_per_frame, TRACK_TOP)
        self.setZValue(index)
        self.attach_sound()

    def attach_sound(self) -> None:
        """Show the clip's waveform once its peaks are known (the store computes them in the background)."""
        sound = self.view.waveforms.sound(self.view.project.media_path(self.place.clip))
        if self.wave is not None or not isinstance(sound, ClipSound):
            return
        clip = self.place.clip
        self.wave = WaveformItem(
            sound,
            self.place.first_source_frame,
            self.place.duration,
            self.width - 2,
            gain_from_db(clip.gain_db),
            clip.muted,
            self,
        )
        self.wave.setPos(1, TRACK_HEIGHT - LABEL_STRIP - WAVE_HEIGHT - 1)
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.width, TRACK_HEIGHT)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = self.boundingRect().adjusted(1, 1, -1, -1)
        if self.trim_preview:
            ppf = self.view.pixels_per_frame
            rect = rect.adjusted(self.trim_preview[0] * ppf, 0, self.trim_preview[1] * ppf, 0)
        selected = self.clip_id in self.view.selected
        painter.fillRect(rect, QColor(CLIP_BACKGROUND))
        filmstrip = rect.adjusted(0, 0, 0, -LABEL_STRIP - (WAVE_HEIGHT if self.wave else 0))
        painter.save()
        painter.setClipRect(filmstrip)
        x = rect.left()
        while x < rect.right():  # a filmstrip: each tile shows the frame at its position
            frame = self.place.first_source_frame + int((x - rect.left()) / self.view.pixels_per_frame)
            thumb = self.view.thumbnail(self.place, min(frame, self.place.clip.end - 1), int(filmstrip.height()))
            if thumb is None:
                break
            painter.drawPixmap(QPointF(x, rect.top()), thumb)
            x += thumb.width() + 2
        range_ = self.view.retake_range
        if range_ and range_[0] == self.clip_id:  # over the filmstrip only: the label below stays legible
            ppf = self.view.pixels_per_frame
            band = QRectF(
                rect.left() + (range_[1] - self.place.first_source_frame) * ppf,
                filmstrip.top(),
                (range_[2] - range_[1]) * ppf,
                filmstrip.height(),
            )
            painter.fillRect(band, QColor(255, 170, 0, 90))
            painter.fillRect(QRectF(band.left(), band.top(), 2, band.height()), QColor(RETAKE_EDGE))
            painter.fillRect(QRectF(band.right() - 2, band.top(), 2, band.height()), QColor(RETAKE_EDGE))
        painter.restore()
        if self.place.fade_in:
            fade = self.place.fade_in * self.view.pixels_per_frame
            painter.setBrush(QColor(255, 255, 255, 70))
            painter.setPen(Qt.NoPen)
            painter.drawPolygon([rect.topLeft(), QPointF(rect.left() + fade, rect.top()), filmstrip.bottomLeft()])
        clip = self.place.clip
        painter.setPen(QColor("#e8e8e8"))
        painter.setFont(QFont(painter.font().family(), 8))
        takes = f" · take {clip.active + 1}/{len(clip.takes)}" if len(clip.takes) > 1 else ""
        fade = f" · fade {self.place.fade_in}" if self.place.fade_in else ""
        extension = " · ext" if clip.overlap_in else ""  # continues the previous clip (overlap dropped)
        sound = " · muted" if clip.muted else f" · {clip.gain_db:+g} dB" if clip.gain_db else ""
        label_rect = rect.adjusted(
            HANDLE + 3 if selected else 4, rect.height() - LABEL_STRIP + 1, -4 - self.view.fade_of_next(self.index), 0
        )
        text = f"{self.index + 1}  {self.place.duration} f{extension}{takes}{fade}{sound}"
        label = painter.fontMetrics().elidedText(text, Qt.ElideRight, int(max(0, label_rect.width())))
        painter.drawText(label_rect, Qt.AlignLeft | Qt.AlignVCenter, label)
        painter.setBrush(Qt.NoBrush)
        painter.setPen(QPen(QColor("#4da3ff") if selected else QColor("#55595f"), 2 if selected else 1))
        painter.drawRect(rect)
        if selected:
            painter.fillRect(QRectF(rect.left(), rect.top(), HANDLE, rect.height()), QColor("#4da3ff"))
            painter.fillRect(QRectF(rect.right() - HANDLE, rect.top(), HANDLE, rect.height()), QColor("#4da3ff"))


class TimelineView(QGraphicsView):
    selection_changed = Signal(list)  # clip ids, in click order
    playhead_moved = Signal(int)  # film frame
    move_requested = Signal(str, int)  # clip id, new index
    trim_requested = Signal(str, int, object)  # clip id, trim_in, trim_out (None = end)
    range_selected = Signal(str, int, int)  # clip id, first source frame, end (exclusive)
    files_dropped = Signal(list, int)  # paths, insert index

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.Antialiasing, False)
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.setBackgroundBrush(QBrush(QColor("#1d2025")))
        self.setViewportUpdateMode(QGraphicsView.FullViewportUpdate)
        self.setAcceptDrops(True)
        self.setMinimumHeight(TRACK_TOP + TRACK_HEIGHT + 30)
        self.project = Project()
        self.pixels_per_frame = 3.0
        self.playhead = 0
        self.selected: list[str] = []
        self.retake_range: tuple[str, int, int] | None = None
        self.cache = FrameCache(height=96, clips=12)
        self.waveforms = WaveformStore(lambda: waveform_cache(self.project), self)
        self.waveforms.ready.connect(self._on_sound_known)
        self._thumbs: dict[tuple[str, int, int], QPixmap] = {}
        self._items: list[ClipItem] = []
        self._drag: dict | None = None

    # Drawing --------------------------------------------------------------------------------

    def set_project(self, project: Project) -> None:
        self.project = project
        self.selected = [s for s in self.selected if any(c.id == s for c in project.clips)]
        self.refresh()

    def refresh(self) -> None:
        self._drag = None  # the items a drag held are about to be replaced (e.g. a job landed mid-drag)
        scene = self.scene()
        scene.clear()
        self._items = []
        ids = {c.id for c in self.project.clips}
        self.selected = [s for s in self.selected if s in ids]
        if self.retake_range and self.retake_range[0] not in ids:
            self.retake_range = None
        for index, place in enumerate(film_layout(self.project)):
            item = ClipItem(place, index, self)
            scene.addItem(item)
            self._items.append(item)
        width = max(self.project.total_frames * self.pixels_per_frame + 200, self.viewport().width())
        scene.setSceneRect(0, 0, width, TRACK_TOP + TRACK_HEIGHT + 10)
        self.playhead = min(self.playhead, max(0, self.project.total_frames - 1))
        self.viewport().update()

    def _on_sound_known(self, path: str) -> None:
        """A clip's waveform arrived: add it to the clips showing that file (without a redraw that
        would drop a drag in progress)."""
        for item in self._items:
            if str(self.project.media_path(item.place.clip)) == path:
                item.attach_sound()
        self.viewport().update()

    def waveform_items(self) -> list[WaveformItem]:
        return [item.wave for item in self._items if item.wave is not None]

    def fade_of_next(self, index: int) -> float:
        """Pixels of this clip covered by the next clip's crossfade."""
        if index + 1 < len(self._items):
            return self._items[index + 1].place.fade_in * self.pixels_per_frame
        return 0.0

    def thumbnail(self, place: Placement, frame: int, height: int) -> QPixmap | None:
        path = self.project.media_path(place.clip)
        key = (str(path), frame, height)
        if key not in self._thumbs:
            image = self.cache.frame(path, frame)
            if image is None:
                return None
            pixmap = to_pixmap(image)
            self._thumbs[key] = pixmap.scaledToHeight(max(8, height), Qt.SmoothTransformation)
        return self._thumbs[key]

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        ppf = self.pixels_per_frame
        fps = max(1.0, self.project.fps)
        painter.fillRect(QRectF(rect.left(), 0, rect.width(), RULER), QColor("#262a31"))
        painter.setPen(QColor("#9aa0a6"))
        painter.setFont(QFont(painter.font().family(), 7))
        # A label every 60 px or more, on round seconds.
        seconds = next((s for s in RULER_STEPS if s * fps * ppf >= 60), RULER_STEPS[-1])
        tick = int(max(0, rect.left()) / (seconds * fps * ppf))
        while tick * seconds * fps * ppf < rect.right():
            x = tick * seconds * fps * ppf
            painter.drawLine(QPointF(x, RULER - 6), QPointF(x, RULER))
            painter.drawText(QPointF(x + 3, RULER - 8), f"{tick * seconds:g}s")
            tick += 1
        x = self.playhead * ppf
        painter.setPen(QPen(QColor(PLAYHEAD), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, TRACK_TOP + TRACK_HEIGHT + 6))

    # Zoom -----------------------------------------------------------------------------------

    def set_zoom(self, pixels_per_frame: float) -> None:
        self.pixels_per_frame = max(MIN_PIXELS_PER_FRAME, min(MAX_PIXELS_PER_FRAME, pixels_per_frame))
        self._thumbs.clear()
        self.refresh()

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.pixels_per_frame * factor)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.ControlModifier:
            self.zoom_by(1.25 if event.angleDelta().y() > 0 else 0.8)
            event.accept()
        else:
            super().wheelEvent(event)

    # Geometry helpers (also used by tests to aim real mouse events) -------------------------

    def clip_rect(self, clip_id: str) -> QRectF:
        """The clip's rectangle in viewport coordinates."""
        for item in self._items:
            if item.clip_id == clip_id:
                scene_rect = item.mapRectToScene(item.boundingRect())
                return self.mapFromScene(scene_rect).boundingRect().toRectF()
        raise KeyError(clip_id)

    def set_playhead(self, frame: int) -> None:
        self.playhead = max(0, min(int(frame), max(0, self.project.total_frames - 1)))
        self.viewport().update()
        self.playhead_moved.emit(self.playhead)

    def _item_at(self, scene_x: float, scene_y: float) -> ClipItem | None:
        if not TRACK_TOP <= scene_y <= TRACK_TOP + TRACK_HEIGHT:
            return None
        hits = [i for i in self._items if i.x() <= scene_x <= i.x() + i.width]
        return max(hits, key=lambda i: i.zValue()) if hits else None

    # Mouse ----------------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.LeftButton:
            return super().mousePressEvent(event)
        pos = self.mapToScene(event.position().toPoint())
        item = self._item_at(pos.x(), pos.y())
        if item is None:
            if pos.y() > RULER and self.selected:  # empty track: deselect (the ruler only scrubs)
                self.selected = []
                self.selection_changed.emit([])
            self._drag = {"mode": "scrub"}
            self.set_playhead(round(pos.x() / self.pixels_per_frame))
            return
        if event.modifiers() & Qt.ControlModifier:
            if item.clip_id in self.selected:
                self.selected.remove(item.clip_id)
            else:
                self.selected.append(item.clip_id)
        elif item.clip_id not in self.selected or len(self.selected) > 1:
            self.selected = [item.clip_id]
        self.selection_changed.emit(list(self.selected))
        local = pos.x() - item.x()
        if event.modifiers() & Qt.ShiftModifier:
            mode = "range"
        elif local <= HANDLE + 1:
            mode = "trim_in"
        elif local >= item.width - HANDLE - 1:
            mode = "trim_out"
        else:
            mode = "move"
        self._drag = {"mode": mode, "item": item, "x": pos.x(), "item_x": item.x()}
        item.setZValue(1000)
        self.viewport().update()

    def mouseMoveEvent(self, event) -> None:
        drag = self._drag
        if drag is None:
            return super().mouseMoveEvent(event)
        pos = self.mapToScene(event.position().toPoint())
        if drag["mode"] == "scrub":
            self.set_playhead(round(pos.x() / self.pixels_per_frame))
            return
        item: ClipItem = drag["item"]
        frames = round((pos.x() - drag["x"]) / self.pixels_per_frame)
        if drag["mode"] == "move":
            item.setX(drag["item_x"] + pos.x() - drag["x"])
        elif drag["mode"] == "trim_in":
            item.trim_preview = (frames, 0)
        elif drag["mode"] == "trim_out":
            item.trim_preview = (0, frames)
        elif drag["mode"] == "range":
            start = item.place.first_source_frame + round((drag["x"] - item.x()) / self.pixels_per_frame)
            self.retake_range = (item.clip_id, *sorted((start, start + frames)))
        item.update()
        self.viewport().update()

    def mouseReleaseEvent(self, event) -> None:
        drag, self._drag = self._drag, None
        if drag is None or drag["mode"] == "scrub":
            return super().mouseReleaseEvent(event)
        item: ClipItem = drag["item"]
        pos = self.mapToScene(event.position().toPoint())
        frames = round((pos.x() - drag["x"]) / self.pixels_per_frame)
        clip = item.place.clip
        if drag["mode"] == "move" and abs(pos.x() - drag["x"]) >= 4:
            centre = item.x() + item.width / 2
            others = [i for i in self._items if i is not item]
            index = sum(1 for i in others if i.x() + i.width / 2 < centre)
            if index != item.index:
                self.move_requested.emit(item.clip_id, index)
        elif drag["mode"] == "trim_in" and frames:
            self.trim_requested.emit(item.clip_id, max(0, clip.trim_in + frames), clip.trim_out)
        elif drag["mode"] == "trim_out" and frames:
            end = min(clip.source_frames, clip.end + frames)
            self.trim_requested.emit(item.clip_id, clip.trim_in, None if end >= clip.source_frames else end)
        elif drag["mode"] == "range" and self.retake_range and self.retake_range[2] > self.retake_range[1]:
            self.range_selected.emit(*self.retake_range)
        self.refresh()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Escape and self.retake_range:
            self.retake_range = None
            self.range_selected.emit("", 0, 0)
            self.viewport().update()
            return
        super().keyPressEvent(event)

    # Drops ----------------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            return
        self.files_dropped.emit(paths, self.index_at(self.mapToScene(event.position().toPoint()).x()))
        event.acceptProposedAction()

    def index_at(self, scene_x: float) -> int:
        """Insert position for a drop at `scene_x`: before the first clip whose centre is right of it."""
        return sum(1 for i in self._items if i.x() + i.width / 2 < scene_x)
