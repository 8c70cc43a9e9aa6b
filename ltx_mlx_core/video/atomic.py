"""The one atomic writer: a reader sees a target's old content or all of its new content, never a part.

Every file ltx-mlx writes for a person (videos, sidecars, projects, settings, stage
checkpoints) goes through `replacing(*targets)`. Each target gets a hidden temporary
file beside it (the same folder, so the final rename is atomic); the caller fills the
temporary files, and only when the caller's block ends normally are they flushed to
disk and renamed over their targets. On any other exit (an exception, Ctrl-C, a
SIGTERM the CLI turns into an exception) the temporary files are removed and every
target is left as it was. Several targets are committed together, after all of them
were written, so a video and its sidecar are both new or both old unless the rename
itself fails.

Modes: a new file gets 0o666 less the umask, as any file a program creates; a file
that is replaced keeps its mode. `OSError`s while writing become `OutputWriteError`
with one sentence naming the file and the reason.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ltx_mlx_core.errors import OutputWriteError

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "permission was denied",
    errno.EPERM: "permission was denied",
    errno.ENOENT: "its folder does not exist",
    errno.ENOTDIR: "a part of its folder path is a file",
    errno.EISDIR: "it is a folder",
    errno.EEXIST: "a file stands where its folder should be",
    errno.ENAMETOOLONG: "its name is too long",
    errno.EIO: "the disk reported an input/output error",
}


def describe_os_error(error: OSError) -> str:
    """A few words for why a write failed ('the disk is full'), for the end of a sentence."""
    if error.errno in _REASONS:
        return _REASONS[error.errno]
    return (error.strerror or str(error) or type(error).__name__).rstrip(".").lower()


def write_failure_message(target: Path, reason: str, existed: bool) -> str:
    kept = "the existing file was left as it was" if existed else "nothing was written"
    return f"Could not write '{Path(target).name}': {reason}; {kept}."


def temp_path_for(target: Path) -> Path:
    """A fresh hidden name beside `target` ('.clip.mp4.1a2b3c4d.tmp'): not globbed as a video or a sidecar."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _create_temp(target: Path) -> Path:
    """Create the temporary file with mode 0o666 so the kernel applies the umask (mkstemp would give 0o600)."""
    while True:
        temp = temp_path_for(target)
        try:
            handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        return temp


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every platform lets a folder be opened, so best effort."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        logger.debug("could not fsync folder %s", folder)
    finally:
        os.close(handle)


def _commit(temp: Path, target: Path) -> None:
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    if mode is not None:
        os.chmod(temp, mode)
    os.replace(temp, target)


def _target_of(error: OSError, temps: list[Path], targets: list[Path]) -> Path:
    """The target an OSError was about (it may name a temporary file, the target or neither)."""
    for name in (error.filename, error.filename2):
        for temp, target in zip(temps, targets):
            if name is not None and os.fspath(name) in (os.fspath(temp), os.fspath(target)):
                return target
    # Not named: creating the next temporary file failed, or it was about the folder.
    return targets[len(temps)] if len(temps) < len(targets) else targets[0]


@contextmanager
def replacing(*targets: str | os.PathLike) -> Iterator[list[Path]]:
    """Yield one temporary path per target; when the block ends normally they replace their targets.

    Raises `OutputWriteError` for an `OSError` while creating, filling or committing
    the files; other exceptions pass through. The temporary files are gone afterwards
    on every exit path.
    """
    paths = [Path(target) for target in targets]
    existed = [path.exists() for path in paths]
    temps: list[Path] = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            temps.append(_create_temp(path))
        yield list(temps)
        for temp in temps:
            _fsync(temp)  # the data is on disk before a name points at it
        for temp, path in zip(temps, paths):
            _commit(temp, path)
        for folder in {path.parent for path in paths}:
            _fsync_folder(folder)
    except OSError as error:
        target = _target_of(error, temps, paths)
        raise OutputWriteError(
            write_failure_message(target, describe_os_error(error), existed[paths.index(target)])
        ) from error
    finally:
        for temp in temps:
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                logger.warning("could not remove the temporary file %s", temp)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with replacing(path) as (temp,):
        temp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, data: Any, **dump_options: Any) -> Path:
    """JSON, indented by two unless told otherwise; serialised before any file is touched."""
    dump_options.setdefault("indent", 2)
    return write_bytes(path, json.dumps(data, **dump_options).encode("utf-8"))
