"""Options of `ltx-mlx generate` for a program that drives it (the app's multi-machine runs).

--request-json: the whole request as JSON text (what `GenerationRequest.to_dict` gives), so a
request the command's options cannot spell (guidance overrides, clip ranges, retakes) reaches
every machine of an `mlx.launch` run in the command line itself, where no shared file is needed.
--progress-json: the run's events as JSON lines (progress_output.py) instead of the progress bar.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.progress_output import JsonProgress, open_destination, progress_destination
from ltx_mlx_core.pipeline.request import GenerationRequest


def request_from_json(text: str) -> GenerationRequest:
    """argparse type of --request-json."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return GenerationRequest.from_dict(data.get("request", data))
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(f"not a request as JSON ({error})") from error


def add_driven_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--request-json",
        type=request_from_json,
        default=None,
        metavar="JSON",
        help="the whole request as JSON (as in a video's .json sidecar); --model and --prompt must name "
        "its model and prompt, the options describing the clip are then not used",
    )
    parser.add_argument(
        "--progress-json",
        type=progress_destination,
        nargs="?",
        const="stderr",
        default=None,
        metavar="FD",
        help="write the run's stages, steps and outcome as JSON lines on stderr (or file descriptor FD) "
        "instead of the progress bar",
    )


def driven_request(args: argparse.Namespace) -> GenerationRequest | None:
    """The --request-json request with this run's --job-dir, checked; None without the option."""
    request = getattr(args, "request_json", None)
    if request is None:
        return None
    if (request.model, request.prompt) != (args.model, args.prompt):
        raise InvalidRequest("--request-json holds another model or prompt than --model and --prompt name.")
    request = dataclasses.replace(request, job_dir=args.job_dir or request.job_dir)
    request.validate()
    request.check_media()
    return request


def json_progress(args: argparse.Namespace) -> JsonProgress | None:
    destination = getattr(args, "progress_json", None)
    return None if destination is None else JsonProgress(open_destination(destination))
