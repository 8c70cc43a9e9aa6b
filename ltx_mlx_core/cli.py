"""`ltx-mlx` command line: generate | extend | stitch | bench | models.

Each subcommand lives beside the code it drives and exposes
`register(subparsers)`, which adds its parser and sets `handler(args) -> int`.
Exit codes: 0 success, 2 invalid input (message on stderr), 1 failure or Ctrl-C,
143 terminated (SIGTERM). A SIGTERM is raised as an
exception in the main thread, as Ctrl-C is, so every `finally` runs: the encoder
is stopped and temporary files are removed before the process ends.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ltx_mlx_core.errors import InvalidRequest, LtxMlxError

# Imported on start-up; each module is small and imports MLX lazily where it can.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "ltx_mlx_core.pipeline.cli_generate",
    "ltx_mlx_core.pipeline.cli_retake",
    "ltx_mlx_core.weights.cli_models",
    "ltx_mlx_core.video.cli_stitch",
    "ltx_mlx_core.bench.cli_bench",
)

log = logging.getLogger("ltx_mlx_core.cli")

EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived; a BaseException so that no `except Exception` swallows it on its way out."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises `Terminated` in the main thread, so cleanup runs as it does for Ctrl-C.

    Signal handlers can only be set from the main thread; elsewhere (main() called from a
    worker thread) the process keeps its handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (exit 2), like every other refused input; --help has the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    # Subparsers are made of the same class, so every subcommand's errors are one line too.
    parser = _Parser(prog="ltx-mlx", description="LTX-Video on MLX: generate, extend and stitch videos.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    if args.command == "generate" and "MLX_RANK" in os.environ:
        args.handler = _group_handler(args.handler)
    try:
        with sigterm_raises():
            return int(args.handler(args) or 0)
    except InvalidRequest as error:
        print(f"ltx-mlx: {error}", file=sys.stderr)
        return 2
    except LtxMlxError as error:
        print(f"ltx-mlx: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ltx-mlx: cancelled", file=sys.stderr)
        return 1
    except Terminated:
        print("ltx-mlx: terminated; files being written were left as they were.", file=sys.stderr)
        return EXIT_TERMINATED


def _group_handler(handler):
    """Under `mlx.launch` (it sets MLX_RANK) with more than one process, generate as one of the group."""
    # Imported here: MLX and the pipeline load only for a launched run, not for every command.
    from ltx_mlx_core.distributed.cli import handle_generate_on_group
    from ltx_mlx_core.distributed.group import launched_group

    group = launched_group()
    return handler if group is None else functools.partial(handle_generate_on_group, group=group)


if __name__ == "__main__":
    sys.exit(main())
