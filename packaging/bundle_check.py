"""Check a built bundle's folder: what must be in it, what must not, and MLX's metallib placement.

    python packaging/bundle_check.py LIB_ROOT [--platform linux|darwin] [--colocate-metallib]

LIB_ROOT is the folder the frozen app runs from (sys._MEIPASS): dist/ltx-mlx-desktop/_internal
on Linux, LTX-MLX.app/Contents/Frameworks on macOS (PyInstaller links Contents/Resources into it).
Exits 1 and lists the problems when the bundle is incomplete or holds test-only code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from packaging_info import FORBIDDEN_MODULES, ROOT  # noqa: E402

METALLIB = "mlx.metallib"


def _top_level_name(entry: str) -> str:
    """'torch' for torch/, torch-2.1.dist-info/, torch.libs/ or torch.py."""
    for suffix in (".dist-info", ".libs", ".py", ".pyc"):
        if entry.endswith(suffix):
            entry = entry[: -len(suffix)]
            break
    entry = entry.split("-", 1)[0]
    return entry.lower().replace("-", "_")


def forbidden_entries(lib_root: Path) -> list[str]:
    """Top-level entries that are (or describe) a forbidden package (pure-Python code in the PYZ is
    refused by the spec at analysis time, and by the frozen app's self-test)."""
    forbidden = {name.lower() for name in FORBIDDEN_MODULES}
    return sorted(entry.name for entry in lib_root.iterdir() if _top_level_name(entry.name) in forbidden)


def libmlx_dirs(lib_root: Path) -> list[Path]:
    """Every folder holding a libmlx.so / libmlx.dylib (a file or PyInstaller's top-level symlink)."""
    return sorted({path.parent for path in lib_root.rglob("libmlx.*") if path.name.split(".")[1] in ("so", "dylib")})


def colocate_metallib(lib_root: Path) -> list[Path]:
    """Put a relative symlink to mlx.metallib next to every libmlx that lacks one; returns the links made.

    MLX looks for mlx.metallib in the folder of the libmlx it was loaded from (dladdr's path,
    not resolved), and PyInstaller loads it through its top-level symlink, so the copy in
    mlx/lib/ alone is not found ("Failed to load the default metallib").
    """
    sources = [p for p in lib_root.rglob(METALLIB) if p.resolve().is_file()]
    if not sources:
        return []
    real = sorted(sources, key=lambda p: len(p.parts))[-1]  # the one in mlx/lib/, deepest
    made = []
    for folder in libmlx_dirs(lib_root):
        target = folder / METALLIB
        if target.exists():
            continue
        target.symlink_to(os.path.relpath(real, folder))
        made.append(target)
    return made


def multimedia_problems(lib_root: Path, platform: str) -> list[str]:
    """What sound playback needs: the QtMultimedia module, the Qt library and a multimedia plugin
    (the FFmpeg backend on Linux; FFmpeg or Darwin on macOS), which provides the audio devices too."""
    found = []
    qt = lib_root / "PySide6"
    if not list(qt.glob("QtMultimedia.*")):
        found.append("PySide6's QtMultimedia module is missing (no sound playback)")
    library = "Qt/lib/QtMultimedia.framework" if platform == "darwin" else "Qt/lib/libQt6Multimedia.so*"
    if not list(qt.glob(library)):
        found.append(f"the Qt multimedia library is missing from PySide6/{library.rsplit('/', 1)[0]}")
    plugin_suffix = "dylib" if platform == "darwin" else "so"
    if not list((qt / "Qt" / "plugins" / "multimedia").glob(f"*mediaplugin*.{plugin_suffix}")):
        found.append("no Qt multimedia plugin in PySide6/Qt/plugins/multimedia (no sound output)")
    return found


def problems(lib_root: Path, platform: str = sys.platform, repo_root: Path = ROOT) -> list[str]:
    """What is wrong with the bundle rooted at lib_root (empty when it is complete and clean)."""
    found: list[str] = []
    if not lib_root.is_dir():
        return [f"{lib_root} is not a folder"]
    bad = forbidden_entries(lib_root)
    if bad:
        found.append("test-only code was bundled: " + ", ".join(bad))
    wanted = sorted(p.name for p in (repo_root / "configs").glob("*.yaml"))
    have = sorted(p.name for p in (lib_root / "configs").glob("*.yaml"))
    if missing := sorted(set(wanted) - set(have)):
        found.append("pipeline configs missing from configs/: " + ", ".join(missing))
    for resource in sorted((repo_root / "resources").glob("*")):
        if resource.is_file() and not (lib_root / "resources" / resource.name).is_file():
            found.append(f"resources/{resource.name} is missing")
    if not list((lib_root / "imageio_ffmpeg" / "binaries").glob("ffmpeg-*")):
        found.append("imageio-ffmpeg's ffmpeg binary is missing (imageio_ffmpeg/binaries/)")
    if not list((lib_root / "mlx").glob("core.*")):
        found.append("MLX's extension module mlx/core.* is missing")
    lib_suffix = "dylib" if platform == "darwin" else "so"
    if not list(lib_root.rglob(f"libmlx.{lib_suffix}")):
        found.append(f"libmlx.{lib_suffix} is missing")
    if not list(lib_root.rglob("tokenizers.*")) and not (lib_root / "tokenizers").is_dir():
        found.append("the tokenizers extension is missing")
    found += multimedia_problems(lib_root, platform)
    plugins = lib_root / "PySide6" / "Qt" / "plugins" / "platforms"
    platform_plugin = "libqcocoa.dylib" if platform == "darwin" else "libqoffscreen.so"
    if not (plugins / platform_plugin).exists():
        found.append(f"Qt platform plugin {platform_plugin} is missing from {plugins.relative_to(lib_root)}")
    if platform == "darwin":
        for folder in libmlx_dirs(lib_root):
            if not (folder / METALLIB).exists():
                found.append(f"{METALLIB} is not next to libmlx in {folder.relative_to(lib_root) or '.'}")
        if not libmlx_dirs(lib_root):
            found.append("no libmlx.dylib, so no Metal backend")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lib_root", type=Path)
    parser.add_argument("--platform", default=sys.platform)
    parser.add_argument(
        "--colocate-metallib", action="store_true", help="first link mlx.metallib next to every libmlx (macOS)"
    )
    args = parser.parse_args(argv)
    if args.colocate_metallib:
        for link in colocate_metallib(args.lib_root):
            print(f"bundle: linked {link.relative_to(args.lib_root)} -> {os.readlink(link)}", file=sys.stderr)
    found = problems(args.lib_root, args.platform)
    for problem in found:
        print(f"bundle check: {problem}", file=sys.stderr)
    if not found:
        print(f"bundle check: {args.lib_root} is complete and holds no test-only code", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
