"""Generation pipeline: `generate(request)` streams events, `run(request)` drains them.

`write_result` (results.py) turns a finished `VideoResult` into video files, each
with a JSON sidecar holding the full request.
"""
from __future__ import annotations

import logging
from typing import Iterator

from ltx_mlx_core.pipeline.events import Event, Finished, VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.results import check_outputs, output_paths, sidecar_path, write_result

log = logging.getLogger(__name__)

__all__ = ["generate", "run", "write_result", "check_outputs", "output_paths", "sidecar_path"]


def generate(request: GenerationRequest) -> Iterator[Event]:
    """Validate, probe the input media, resolve the model and stream the events (ends with Finished)."""
    from ltx_mlx_core.pipeline.pipeline import Pipeline

    request.validate()
    request.check_media()
    return Pipeline.for_request(request).generate(request)


def run(request: GenerationRequest) -> VideoResult:
    """Generate to the end and return the result (no progress reporting)."""
    result = None
    for event in generate(request):
        if isinstance(event, Finished):
            result = event.result
    if result is None:
        from ltx_mlx_core.errors import GenerationError

        raise GenerationError("The generation ended without a video.")
    return result
