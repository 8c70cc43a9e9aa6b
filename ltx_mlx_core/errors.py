"""Typed errors whose message is a sentence a person can act on.

The CLI maps `InvalidRequest` to exit code 2 and every other `LtxMlxError` to 1;
the desktop app shows `str(error)` in its error dialog.
"""

from __future__ import annotations


class LtxMlxError(Exception):
    """Base class: the message is shown to the user as is."""


class InvalidRequest(LtxMlxError, ValueError):
    """The request (sizes, frames, conditioning, prompt) cannot be run as given."""


class CheckpointError(LtxMlxError):
    """A weights file is unreadable, of an unknown architecture, or has wrong keys/shapes."""


class ModelNotInstalled(LtxMlxError):
    """The model id is known but its files are not on this machine."""


class OutOfMemoryRisk(LtxMlxError):
    """The memory estimate for the request exceeds what this machine can give."""


class DownloadError(LtxMlxError):
    """A model file could not be fetched or failed verification."""


class OutputWriteError(LtxMlxError):
    """A result could not be written (disk full, permissions, encoder failure); the target is unchanged."""


class GenerationError(LtxMlxError):
    """Generation failed while running; the message says at which stage and why."""


class GenerationCancelled(GenerationError):
    """The user cancelled; nothing partial is presented as finished."""


class LoraError(InvalidRequest):
    """A LoRA file does not fit the model (another family, wrong shapes, unreadable); nothing was changed."""


def generation_error(error: BaseException, stage: str) -> GenerationError:
    """What a generation says when an unexpected error ends it during `stage` (both families' pipelines)."""
    if isinstance(error, MemoryError):
        return GenerationError(
            "The machine ran out of memory while generating; try a smaller size, fewer frames, "
            "quantisation or the 'stream_blocks' residency."
        )
    # OSError: e.g. an unwritable job folder or a weights file gone mid-run.
    return GenerationError(f"Generation failed during {stage}: {error}")
