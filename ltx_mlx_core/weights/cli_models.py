"""`ltx-mlx models list|info|download|verify|remove|make-tiny`."""
from __future__ import annotations

import argparse
import shutil
import sys
import threading

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.weights.catalog import (
    CATALOG,
    GB,
    T5_APPROX_BYTES,
    T5_LICENCE,
    CatalogEntry,
    cached_path,
    is_installed,
)
from ltx_mlx_core.weights.download import DownloadProgress, download_model, remove_model, verify_model
from ltx_mlx_core.weights.registry import (
    MANIFEST,
    TINY_APPROX_BYTES,
    TINY_ID,
    TINY_LABEL,
    TINY_LICENCE,
    list_models,
    tiny_model_dir,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list, download, verify, remove models; make the tiny test model")
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    listing = actions.add_parser("list", help="supported models, sizes, licences and what is installed")
    # dest is not "verbose": that would reset the top-level -v/--verbose (logging) to False.
    listing.add_argument("--verbose", dest="show_files", action="store_true",
                         help="also list each model's hub repo ids and files")
    info = actions.add_parser("info", help="one model's hub repo ids, files, sizes, licence and where it is on disk")
    info.add_argument("model_id", choices=sorted([TINY_ID, *CATALOG]))
    download = actions.add_parser("download", help="download a catalog model into the Hugging Face cache")
    download.add_argument("model_id", choices=sorted(CATALOG))
    verify = actions.add_parser("verify", help="re-check a downloaded model's files against their sha256")
    verify.add_argument("model_id", choices=sorted(CATALOG))
    remove = actions.add_parser("remove", help="delete a model's checkpoint from the cache")
    remove.add_argument("model_id")
    tiny = actions.add_parser("make-tiny", help="write the tiny random-weight test model (its output is noise)")
    tiny.add_argument("--force", action="store_true", help="rewrite it even if it exists")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    action = args.models_action or "list"
    if action == "list":
        return _list(show_files=getattr(args, "show_files", False))
    if action == "info":
        return _info(args.model_id)
    if action == "make-tiny":
        # Imported on use: the tiny model is built with MLX and the models, which would add ~0.5 s
        # to every `ltx-mlx` command (each subcommand module is imported to build the parser).
        from ltx_mlx_core.weights.tiny import make_tiny_model, tiny_model_problems

        problems = tiny_model_problems(tiny_model_dir())
        folder = make_tiny_model(overwrite=args.force)
        if problems == [] and not args.force:
            state = f"already made at {folder} (every file checked; --force writes it again)"
        elif problems:
            state = f"was not intact ({'; '.join(problems)}); written again to {folder}"
        else:
            state = f"written to {folder}"
        print(f"{TINY_LABEL}\n  {state}\n  use it with: ltx-mlx generate --model tiny ...")
        return 0
    if action == "download":
        return _download(args.model_id)
    if action == "verify":
        problems = verify_model(args.model_id)
        for problem in problems:
            print(problem)
        if not problems:
            print(f"{args.model_id}: every file matches its checksum")
        return 1 if problems else 0
    if action == "remove":
        if args.model_id == "tiny":
            shutil.rmtree(tiny_model_dir(), ignore_errors=True)
            print("removed the tiny test model")
            return 0
        if args.model_id not in CATALOG:
            raise InvalidRequest(f"Unknown model '{args.model_id}'.")
        print(f"freed {remove_model(args.model_id) / 1e9:.1f} GB")
        return 0
    raise InvalidRequest(f"Unknown models action '{action}'.")


def _list(show_files: bool = False) -> int:
    rows = list_models()
    print(f"{'model':<32}{'size':>10}  status")
    for row in rows:
        if row.is_test_model:
            status = "installed" if row.installed else "not made"
            print(f"{row.model_id:<32}{row.approx_bytes / 1e6:>7.0f} MB  {status} (random weights, output is noise)")
            if show_files:
                print("    made on this machine by `ltx-mlx models make-tiny` (no hub files)")
        else:
            status = "installed" if row.installed else "available"
            print(f"{row.model_id:<32}{row.approx_bytes / 1e9:>7.1f} GB  {status}")
            if show_files:
                _print_files(CATALOG[row.model_id], indent="    ")
    print("\nSizes are approximate totals including the T5 text encoder (19 GB) and the upsampler,\n"
          "which all models share and download once.")
    print("\nLicences:")
    for licence in sorted({row.licence for row in rows if not row.is_test_model}):
        print(f"  - {licence}")
    return 0


def _size(approx_bytes: int) -> str:
    if not approx_bytes:
        return ""
    return f"{approx_bytes / GB:.1f} GB" if approx_bytes >= GB // 10 else f"{approx_bytes / 1e6:.0f} MB"


def _print_files(entry: CatalogEntry, indent: str) -> None:
    """One line per hub file: repo id, file name, approximate size, downloaded or not."""
    for hub_file in entry.files:
        state = "downloaded" if cached_path(hub_file) is not None else "not downloaded"
        print(f"{indent}{hub_file.repo_id}  {hub_file.filename}  {_size(hub_file.approx_bytes)}".rstrip()
              + f"  [{state}]")


def _info(model_id: str) -> int:
    if model_id == TINY_ID:
        folder = tiny_model_dir()
        made = (folder / MANIFEST).is_file()
        print(f"{TINY_ID}: {TINY_LABEL}\n  size: about {_size(TINY_APPROX_BYTES)}\n  licence: {TINY_LICENCE}")
        print(f"  files: made on this machine by `ltx-mlx models make-tiny`, not from the hub\n"
              f"  folder: {folder} ({'made' if made else 'not made yet'})")
        return 0
    entry = CATALOG[model_id]
    print(f"{model_id}: {entry.label}")
    print(f"  status: {'installed' if is_installed(entry) else 'not downloaded'}")
    print(f"  size: about {_size(entry.approx_bytes)} in all")
    print(f"  pipeline config: {entry.pipeline_config}")
    print(f"  licence: {entry.licence}")
    if any(f.repo_id != entry.checkpoint.repo_id for f in entry.text_encoder):
        print(f"  text encoder licence: {T5_LICENCE}")
    print("  hub files (repo id, file, approximate size):")
    _print_files(entry, indent="    ")
    print(f"  The T5 text encoder files (about {_size(T5_APPROX_BYTES)}) and the upsampler are shared by all "
          "models and downloaded once.")
    checkpoint = cached_path(entry.checkpoint)
    if checkpoint is not None:
        print(f"  checkpoint on disk: {checkpoint}")
    return 0


def _download(model_id: str) -> int:
    cancel = threading.Event()

    def show(p: DownloadProgress) -> None:
        percent = 100 * p.done_bytes / p.total_bytes if p.total_bytes else 0
        sys.stderr.write(f"\r[{p.file_index}/{p.file_count}] {p.filename[:48]:<48} {percent:5.1f}%")
        sys.stderr.flush()

    try:
        download_model(model_id, show, cancel)
    except KeyboardInterrupt:
        cancel.set()
        raise
    sys.stderr.write("\n")
    print(f"{model_id} is ready")
    return 0
