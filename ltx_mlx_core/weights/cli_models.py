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
    CatalogEntry,
    cached_path,
    expanded,
    installed_checkpoint,
    is_installed,
)
from ltx_mlx_core.weights.download import DownloadProgress, download_model, remove_model, verify_model
from ltx_mlx_core.weights.registry import (
    FAMILIES,
    FAMILY_LABELS,
    LTX2,
    LTXV,
    MANIFEST,
    TINY_APPROX_BYTES,
    TINY_ID,
    TINY_LABEL,
    TINY_LICENCE,
    TINY_LTX2_APPROX_BYTES,
    TINY_LTX2_ID,
    TINY_LTX2_LABEL,
    list_models,
    tiny_model_dir,
)

TEST_MODELS = {
    TINY_ID: (LTXV, TINY_LABEL, TINY_APPROX_BYTES),
    TINY_LTX2_ID: (LTX2, TINY_LTX2_LABEL, TINY_LTX2_APPROX_BYTES),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list, download, verify, remove models; make the tiny test model")
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    listing = actions.add_parser("list", help="supported models, sizes, licences and what is installed")
    # dest is not "verbose": that would reset the top-level -v/--verbose (logging) to False.
    listing.add_argument(
        "--verbose", dest="show_files", action="store_true", help="also list each model's hub repo ids and files"
    )
    info = actions.add_parser("info", help="one model's hub repo ids, files, sizes, licence and where it is on disk")
    info.add_argument("model_id", choices=sorted([*TEST_MODELS, *CATALOG]))
    download = actions.add_parser("download", help="download a catalog model into the Hugging Face cache")
    download.add_argument("model_id", choices=sorted(CATALOG))
    download.add_argument(
        "--quantized",
        action="store_true",
        help="download the smaller FP8 checkpoint where the model has one (it is quantised "
        "to --quantize bits on first load and cached)",
    )
    verify = actions.add_parser("verify", help="re-check a downloaded model's files against their sha256")
    verify.add_argument("model_id", choices=sorted(CATALOG))
    remove = actions.add_parser("remove", help="delete a model's checkpoint from the cache")
    remove.add_argument("model_id")
    tiny = actions.add_parser("make-tiny", help="write a tiny random-weight test model (its output is noise)")
    tiny.add_argument("--force", action="store_true", help="rewrite it even if it exists")
    tiny.add_argument(
        "--family",
        choices=FAMILIES,
        default=LTXV,
        help=f"which family's test model: {LTXV} makes '{TINY_ID}', {LTX2} makes '{TINY_LTX2_ID}'",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    action = args.models_action or "list"
    if action == "list":
        return _list(show_files=getattr(args, "show_files", False))
    if action == "info":
        return _info(args.model_id)
    if action == "make-tiny":
        # Imported on use: the tiny models are built with MLX and the models, which would add ~0.5 s
        # to every `ltx-mlx` command (each subcommand module is imported to build the parser).
        from ltx_mlx_core.weights.tiny import make_tiny_model, tiny_model_problems
        from ltx_mlx_core.weights.tiny_ltx2 import make_tiny_ltx2_model

        family = getattr(args, "family", LTXV)
        if family == LTX2:
            folder = make_tiny_ltx2_model(tiny_model_dir(LTX2), args.force)
            model_id, label, state = TINY_LTX2_ID, TINY_LTX2_LABEL, f"written to {folder}"
        else:
            problems = tiny_model_problems(tiny_model_dir())
            folder, model_id, label = make_tiny_model(overwrite=args.force), TINY_ID, TINY_LABEL
            if problems == [] and not args.force:
                state = f"already made at {folder} (every file checked; --force writes it again)"
            elif problems:
                state = f"was not intact ({'; '.join(problems)}); written again to {folder}"
            else:
                state = f"written to {folder}"
        print(f"{label}\n  {state}\n  use it with: ltx-mlx generate --model {model_id} ...")
        return 0
    if action == "download":
        return _download(args.model_id, quantized=getattr(args, "quantized", False))
    if action == "verify":
        problems = verify_model(args.model_id)
        for problem in problems:
            print(problem)
        if not problems:
            print(f"{args.model_id}: every file matches its checksum")
        return 1 if problems else 0
    if action == "remove":
        if args.model_id in TEST_MODELS:
            shutil.rmtree(tiny_model_dir(TEST_MODELS[args.model_id][0]), ignore_errors=True)
            print(f"removed the test model '{args.model_id}'")
            return 0
        if args.model_id not in CATALOG:
            raise InvalidRequest(f"Unknown model '{args.model_id}'.")
        print(f"freed {remove_model(args.model_id) / 1e9:.1f} GB")
        return 0
    raise InvalidRequest(f"Unknown models action '{action}'.")


def _list(show_files: bool = False) -> int:
    rows = list_models()
    for family in FAMILIES:
        print(f"{FAMILY_LABELS[family]}\n{'  model':<34}{'size':>10}  status")
        for row in (r for r in rows if r.family == family):
            if row.is_test_model:
                status = "installed" if row.installed else "not made"
                print(
                    f"  {row.model_id:<32}{row.approx_bytes / 1e6:>7.0f} MB  {status} (random weights, output is noise)"
                )
                if show_files:
                    how = "make-tiny" + (" --family ltx2" if family == LTX2 else "")
                    print(f"      made on this machine by `ltx-mlx models {how}` (no hub files)")
            else:
                entry = CATALOG[row.model_id]
                status = "installed" if row.installed else "available"
                fp8 = f"  (FP8 download {entry.approx_bytes_for(True) / 1e9:.1f} GB)" if entry.fp8_checkpoint else ""
                print(f"  {row.model_id:<32}{row.approx_bytes / 1e9:>7.1f} GB  {status}{fp8}")
                if show_files:
                    _print_files(entry, indent="      ")
        print()
    print(
        "Sizes are approximate totals including the text encoder (T5 XXL 19 GB for LTX-Video, Gemma 24 GB for\n"
        "LTX-2) and the upsamplers, which the models of a family share and download once."
    )
    print("\nLicences:")
    licences = {row.licence for row in rows if not row.is_test_model}
    licences |= {CATALOG[row.model_id].text_encoder_licence for row in rows if not row.is_test_model}
    for licence in sorted(licences):
        print(f"  - {licence}")
    return 0


def _size(approx_bytes: int) -> str:
    if not approx_bytes:
        return ""
    return f"{approx_bytes / GB:.1f} GB" if approx_bytes >= GB // 10 else f"{approx_bytes / 1e6:.0f} MB"


def _print_files(entry: CatalogEntry, indent: str) -> None:
    """One line per hub file: repo id, file name, approximate size, downloaded or not."""
    files = expanded(entry.files) + ((entry.fp8_checkpoint,) if entry.fp8_checkpoint else ())
    for hub_file in files:
        state = "downloaded" if cached_path(hub_file) is not None else "not downloaded"
        print(
            f"{indent}{hub_file.repo_id}  {hub_file.filename}  {_size(hub_file.approx_bytes)}".rstrip() + f"  [{state}]"
        )


def _info(model_id: str) -> int:
    if model_id in TEST_MODELS:
        family, label, approx = TEST_MODELS[model_id]
        folder = tiny_model_dir(family)
        made = (folder / MANIFEST).is_file()
        how = "make-tiny" + (" --family ltx2" if family == LTX2 else "")
        print(
            f"{model_id}: {label}\n  family: {FAMILY_LABELS[family]}\n  size: about {_size(approx)}\n"
            f"  licence: {TINY_LICENCE}"
        )
        print(
            f"  files: made on this machine by `ltx-mlx models {how}`, not from the hub\n"
            f"  folder: {folder} ({'made' if made else 'not made yet'})"
        )
        return 0
    entry = CATALOG[model_id]
    print(f"{model_id}: {entry.label}")
    print(f"  family: {FAMILY_LABELS[entry.family]}, release {entry.version}, {entry.variant}")
    print(f"  status: {'installed' if is_installed(entry) else 'not downloaded'}")
    print(f"  size: about {_size(entry.approx_bytes)} in all")
    if entry.fp8_checkpoint is not None:
        print(
            f"  quantised download (--quantized): about {_size(entry.approx_bytes_for(True))} with the FP8 checkpoint"
        )
    if entry.pipeline_config:
        print(f"  pipeline config: {entry.pipeline_config}")
    print(f"  licence: {entry.licence}")
    if any(f.repo_id != entry.checkpoint.repo_id for f in entry.text_encoder):
        print(f"  text encoder licence: {entry.text_encoder_licence}")
    print("  hub files (repo id, file, approximate size):")
    _print_files(entry, indent="    ")
    encoder = "T5" if entry.family == LTXV else "Gemma"
    print(
        f"  The {encoder} text encoder files (about {_size(entry.text_encoder_bytes or sum(f.approx_bytes for f in entry.text_encoder))}) "
        "and the upsamplers are shared by the family's models and downloaded once."
    )
    installed = installed_checkpoint(entry)
    checkpoint = cached_path(installed) if installed is not None else None
    if checkpoint is not None:
        print(f"  checkpoint on disk: {checkpoint}")
    return 0


def _download(model_id: str, quantized: bool = False) -> int:
    cancel = threading.Event()

    def show(p: DownloadProgress) -> None:
        percent = 100 * p.done_bytes / p.total_bytes if p.total_bytes else 0
        sys.stderr.write(f"\r[{p.file_index}/{p.file_count}] {p.filename[:48]:<48} {percent:5.1f}%")
        sys.stderr.flush()

    try:
        download_model(model_id, show, cancel, quantized=quantized)
    except KeyboardInterrupt:
        cancel.set()
        raise
    sys.stderr.write("\n")
    print(f"{model_id} is ready")
    return 0
