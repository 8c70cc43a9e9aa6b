"""Generation pipeline: `generate(request)` streams events, `run(request)` drains them.

`write_result` (results.py) turns a finished `VideoResult` into video files, each
with a JSON sidecar holding the full request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from ltx_mlx_core.errors import GenerationError
from ltx_mlx_core.pipeline.events import Event, Finished, VideoResult
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.results import check_outputs, output_paths, sidecar_path, write_result

log = logging.getLogger(__name__)

__all__ = ["generate", "run", "write_result", "check_outputs", "output_paths", "sidecar_path"]


def generate(request: GenerationRequest) -> Iterator[Event]:
    """Validate, probe the input media, resolve the model and stream the events (ends with Finished)."""
    # Imported on first use: the app imports this package at launch (for the request types), and
    # the engine behind Pipeline (MLX, the models, weights) would delay the window by ~0.45 s
    # (measured on Linux CPU: `import desktop.main_window` 1.0-1.2 s, then the engine 0.42-0.49 s);
    # the worker thread imports it with the first generation instead.
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
        raise GenerationError("The generation ended without a video.")
    return result
