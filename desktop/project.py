"""The timeline document: ordered clips with takes, trims, transitions and sound levels. No Qt here.

A project is a folder `Name.ltxproj/` holding `project.json` (this document) and
`media/` (clips copied in, or generated there). Saves go through the one atomic
writer (temp file, fsync, rename) so an interrupted save leaves the previous file
intact, and the file a save replaces is kept as `project.json.bak`; autosave
writes `autosave.json` beside it, and `recover()` offers it when it is newer.
A file from a newer minor version opens: keys this version does not know are
ignored (and dropped at the next save).
Edits are methods that return what they changed, so undo commands can reverse them.
A clip's sound goes with its frames (ltx_mlx_core.video.mix), at its gain (dB) unless muted;
files saved before clips had sound open with every clip at 0 dB, not muted.

A clip's transition is the edit point into it from the previous clip. Every edit keeps
two rules, so what is stored is what plays and exports: the first clip enters with a
cut, and a crossfade is never longer than either clip it joins. An edit that breaks one
(a delete or move that makes a crossfaded clip the first, a trim or take shorter than a
neighbouring crossfade) shortens the crossfade or turns it into a cut, as Final Cut and
iMovie shorten a transition; undo puts back what it took with `restore_transitions`.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.video.atomic import write_bytes, write_json
from ltx_mlx_core.video.project_file import PROJECT_FILE, read_project, resolve_media, segments_from_project
from ltx_mlx_core.video.project_schema import FORMAT_VERSION, TRANSITIONS, validate_project
from ltx_mlx_core.video.stitch import Segment

log = logging.getLogger(__name__)
AUTOSAVE_FILE = "autosave.json"
BACKUP_SUFFIX = ".bak"
MEDIA_DIR = "media"
GAIN_RANGE_DB = (-60.0, 12.0)  # a clip's sound level (desktop.timeline.commands.SetClipGain checks it)


class ProjectError(ValueError):
    """An edit or file the project cannot accept; the message says why."""


class AutosaveUnreadable(ProjectError):
    """An autosave is damaged or from a newer version; the saved project itself may be fine."""


def _known_fields(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    """The keys of `raw` that `cls` has; a newer minor version's extra keys are left out (and logged)."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        log.info("Ignoring %s keys this version does not know: %s", cls.__name__, ", ".join(unknown))
    return {key: value for key, value in raw.items() if key in names}


@dataclass
class Take:
    """One version of a clip: a video file and the request that made it (None if imported)."""

    path: str
    request: dict[str, Any] | None = None
    label: str = ""
    frames: int = 0
    created: float = field(default_factory=time.time)
    has_audio: bool | None = None  # whether the video has a sound track (None: not known yet)


@dataclass
class Clip:
    takes: list[Take]
    active: int = 0
    trim_in: int = 0
    trim_out: int | None = None  # exclusive; None = the take's end
    overlap_in: int = 0  # frames at the start repeating the previous clip (dropped when stitching)
    transition: str = "cut"  # into this clip from the previous one
    transition_frames: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    gain_db: float = 0.0  # the clip's sound level in the film
    muted: bool = False

    @property
    def take(self) -> Take:
        return self.takes[self.active]

    @property
    def source_frames(self) -> int:
        return self.take.frames

    @property
    def end(self) -> int:
        return self.source_frames if self.trim_out is None else min(self.trim_out, self.source_frames)

    @property
    def duration(self) -> int:
        """Frames this clip adds to the film before transitions."""
        return max(0, self.end - self.trim_in - self.overlap_in)


@dataclass
class Project:
    name: str = "Untitled"
    fps: float = 30.0
    width: int = 768
    height: int = 512
    clips: list[Clip] = field(default_factory=list)
    folder: Path | None = None
    model: str | None = None  # model for clips generated from imported media (None: the app's default)

    # Queries -------------------------------------------------------------------------------

    def index_of(self, clip_id: str) -> int:
        for index, clip in enumerate(self.clips):
            if clip.id == clip_id:
                return index
        raise ProjectError(f"No clip with id {clip_id} in this project.")

    def clip(self, clip_id: str) -> Clip:
        return self.clips[self.index_of(clip_id)]

    @property
    def total_frames(self) -> int:
        crossfades = sum(c.transition_frames for c in self.clips[1:] if c.transition == "crossfade")
        return sum(c.duration for c in self.clips) - crossfades

    def segments(self) -> list[Segment]:
        return segments_from_project(self.to_dict(), self.folder or Path.cwd())

    def media_path(self, clip: Clip) -> Path:
        return resolve_media(self.folder or Path.cwd(), clip.take.path)

    # Edits ---------------------------------------------------------------------------------

    # Each check_* raises the ProjectError its edit would, and changes nothing: an edit is
    # checked before it is pushed on the undo stack (desktop.timeline.commands.push_edit).

    @staticmethod
    def check_insert(clip: Clip) -> None:
        if not clip.takes:
            raise ProjectError("A clip needs at least one video.")

    def insert_clip(self, index: int, clip: Clip) -> None:
        self.check_insert(clip)
        self.clips.insert(max(0, min(index, len(self.clips))), clip)
        self.fit_transitions()

    def remove_clip(self, clip_id: str) -> tuple[int, Clip]:
        index = self.index_of(clip_id)
        removed = self.clips.pop(index)
        self.fit_transitions()
        return index, removed

    def move_clip(self, clip_id: str, new_index: int) -> int:
        """Move; returns the old index. The clip keeps its transition into it (fitted to its new neighbours)."""
        old = self.index_of(clip_id)
        clip = self.clips.pop(old)
        self.clips.insert(max(0, min(new_index, len(self.clips))), clip)
        self.fit_transitions()
        return old

    def check_trim(self, clip_id: str, trim_in: int, trim_out: int | None) -> None:
        clip = self.clip(clip_id)
        end = clip.source_frames if trim_out is None else trim_out
        if trim_in < 0 or end > clip.source_frames or end - trim_in - clip.overlap_in < 1:
            raise ProjectError(
                f"Trim {trim_in}–{end} does not fit clip of {clip.source_frames} frames "
                f"(at least one frame must remain after the {clip.overlap_in} overlap frames)."
            )

    def set_trim(self, clip_id: str, trim_in: int, trim_out: int | None) -> tuple[int, int | None]:
        self.check_trim(clip_id, trim_in, trim_out)
        clip = self.clip(clip_id)
        previous = (clip.trim_in, clip.trim_out)
        clip.trim_in, clip.trim_out = trim_in, trim_out
        self.fit_transitions()
        return previous

    def check_transition(self, clip_id: str, kind: str, frames: int) -> None:
        if kind not in TRANSITIONS:
            raise ProjectError(f"Transition must be one of {', '.join(TRANSITIONS)}; got '{kind}'.")
        index = self.index_of(clip_id)
        if kind == "crossfade":
            if index == 0:
                raise ProjectError("The first clip has nothing to crossfade from.")
            longest = self.longest_crossfade(index)
            if not 1 <= frames <= longest:
                raise ProjectError(f"A crossfade here can be 1 to {longest} frames; got {frames}.")

    def set_transition(self, clip_id: str, kind: str, frames: int) -> tuple[str, int]:
        self.check_transition(clip_id, kind, frames)
        clip = self.clip(clip_id)
        previous = (clip.transition, clip.transition_frames)
        clip.transition, clip.transition_frames = kind, frames if kind == "crossfade" else 0
        return previous

    def add_take(self, clip_id: str, take: Take, make_active: bool = True) -> int:
        clip = self.clip(clip_id)
        clip.takes.append(take)
        previous = clip.active
        if make_active:
            clip.active = len(clip.takes) - 1
            self._clamp_trim(clip)
            self.fit_transitions()
        return previous

    def check_take(self, clip_id: str, take_index: int) -> None:
        clip = self.clip(clip_id)
        if not 0 <= take_index < len(clip.takes):
            raise ProjectError(f"Clip has {len(clip.takes)} takes; there is no take {take_index + 1}.")

    def set_active_take(self, clip_id: str, take_index: int) -> int:
        self.check_take(clip_id, take_index)
        clip = self.clip(clip_id)
        previous, clip.active = clip.active, take_index
        self._clamp_trim(clip)
        self.fit_transitions()
        return previous

    # Transitions (the rules every edit keeps) ------------------------------------------------

    def longest_crossfade(self, index: int) -> int:
        """The longest crossfade into clip `index`: 0 for the first clip, else the shorter clip it joins."""
        if index <= 0:
            return 0
        return max(0, min(self.clips[index].duration, self.clips[index - 1].duration))

    def fit_transitions(self) -> dict[str, tuple[str, int]]:
        """Shorten crossfades longer than a clip they join, cut into the first clip (or where no
        frame is left to blend); returns the (kind, frames) each changed clip had before."""
        changed = {}
        for index, clip in enumerate(self.clips):
            kind, frames = clip.transition, clip.transition_frames
            if kind == "crossfade" and (longest := self.longest_crossfade(index)) >= 1:
                fitted = ("crossfade", max(1, min(frames, longest)))
            else:
                fitted = ("cut", 0)
            if fitted != (kind, frames):
                changed[clip.id] = (kind, frames)
                clip.transition, clip.transition_frames = fitted
        return changed

    def transitions(self) -> dict[str, tuple[str, int]]:
        """Every clip's (kind, frames), for `restore_transitions`."""
        return {c.id: (c.transition, c.transition_frames) for c in self.clips}

    def restore_transitions(self, saved: dict[str, tuple[str, int]]) -> None:
        """Put back transitions saved before an edit that is being undone (they were valid then,
        and undo returns every clip to where it was then, so they are valid again)."""
        for clip in self.clips:
            if clip.id in saved:
                clip.transition, clip.transition_frames = saved[clip.id]

    @staticmethod
    def _clamp_trim(clip: Clip) -> None:
        if clip.trim_out is not None and clip.trim_out > clip.source_frames:
            clip.trim_out = None
        if clip.trim_in >= clip.end - clip.overlap_in:
            clip.trim_in = 0

    # Files ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = {
            "version": FORMAT_VERSION,
            "name": self.name,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "model": self.model,
            "clips": [asdict(c) for c in self.clips],
        }
        return copy.deepcopy(data)

    @classmethod
    def from_dict(cls, data: Any, folder: Path | None = None, checked: bool = False) -> Project:
        """A project from its file's dict; `checked`: it already went through `validate_project`."""
        if not checked:
            try:
                data = validate_project(data)
            except InvalidRequest as error:
                raise ProjectError(str(error)) from None
        clips = []
        for raw in data.get("clips", []):
            raw = _known_fields(Clip, raw)
            raw["takes"] = [Take(**_known_fields(Take, t)) for t in raw.get("takes", [])]
            clips.append(Clip(**raw))
        project = cls(
            name=data["name"],
            fps=data["fps"],
            width=data["width"],
            height=data["height"],
            clips=clips,
            folder=folder,
            model=data["model"],
        )
        project.fit_transitions()  # a file from before the rules were kept plays as it exports
        return project

    def save(self, folder: Path | None = None) -> Path:
        folder = Path(folder or self.folder or "")
        if not str(folder):
            raise ProjectError("Choose where to save the project first.")
        (folder / MEDIA_DIR).mkdir(parents=True, exist_ok=True)
        keep_backup(folder / PROJECT_FILE)
        write_json(folder / PROJECT_FILE, self.to_dict())
        self.folder = folder
        autosave = folder / AUTOSAVE_FILE
        if autosave.exists():
            autosave.unlink()
        return folder / PROJECT_FILE

    def autosave(self, folder: Path | None = None) -> Path | None:
        """Write autosave.json into the project's folder (or `folder`, for a project never saved)."""
        folder = Path(folder) if folder is not None else self.folder
        if folder is None:
            return None
        return write_json(folder / AUTOSAVE_FILE, self.to_dict())

    def import_media(self, source: Path) -> str:
        """Copy a file into media/ (unique name); returns the path relative to the project."""
        if self.folder is None:
            return str(Path(source).resolve())
        media = self.folder / MEDIA_DIR
        media.mkdir(parents=True, exist_ok=True)
        target = media / Path(source).name
        while target.exists():
            target = media / f"{Path(source).stem}-{uuid.uuid4().hex[:6]}{Path(source).suffix}"
        shutil.copy2(source, target)
        return str(target.relative_to(self.folder))

    def collect_media(self) -> int:
        """Copy media referenced from outside the project folder into media/ (a self-contained
        project); returns how many files were copied. Relative paths already live inside."""
        if self.folder is None:
            raise ProjectError("Save the project before collecting its media.")
        copied: dict[str, str] = {}
        for clip in self.clips:
            for take in clip.takes:
                source = Path(take.path)
                if not source.is_absolute() or source.is_relative_to(self.folder):
                    continue
                if take.path not in copied:
                    copied[take.path] = self.import_media(source)
                take.path = copied[take.path]
        return len(copied)


def keep_backup(path: Path) -> None:
    """Copy the file a save is about to replace to `NAME.bak` (atomically, mode kept), if there is one."""
    try:
        previous = path.read_bytes()
    except FileNotFoundError:
        return
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    write_bytes(backup, previous)
    shutil.copymode(path, backup)


def _read(file: Path, folder: Path) -> Project:
    """Parse a project or autosave file; a damaged one is a ProjectError (never a TypeError or KeyError)."""
    data = json.loads(file.read_text())
    if not isinstance(data, dict):
        raise ValueError("the file does not hold a project")
    return Project.from_dict(data, folder)


def load_project(folder: Path) -> Project:
    """The project in `folder`, read and checked as `ltx-mlx stitch` reads it; ProjectError says what is wrong."""
    try:
        data, folder = read_project(Path(folder))
    except InvalidRequest as error:
        raise ProjectError(str(error)) from None
    return Project.from_dict(data, folder, checked=True)


def recover(folder: Path) -> Project | None:
    """The autosaved project if it is newer than the saved one (after a crash), else None.

    Raises `AutosaveUnreadable` for a damaged or newer-version autosave, so the caller can
    open the saved project instead and say why the autosave was passed over.
    """
    folder = Path(folder)
    autosave, saved = folder / AUTOSAVE_FILE, folder / PROJECT_FILE
    if not autosave.exists():
        return None
    if saved.exists() and saved.stat().st_mtime >= autosave.stat().st_mtime:
        return None
    return read_autosave(autosave, folder)


def read_autosave(autosave: Path, folder: Path | None = None) -> Project:
    """An autosave file as a project; `AutosaveUnreadable` (with the reason) when it cannot be used."""
    try:
        return _read(autosave, folder)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        reason = "it was saved by a newer ltx-mlx" if isinstance(error, ProjectError) else f"it is damaged ({error})"
        log.warning("Ignoring the autosave %s: %s", autosave, reason)
        raise AutosaveUnreadable(f"The autosave of this timeline was not used: {reason}.") from None
