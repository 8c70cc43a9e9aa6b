"""Bundle metadata shared by the spec, build.sh and the tests: names, bundle id, Info.plist keys.

No PyInstaller and no Qt here, so the tests can load it on any platform.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

APP_NAME = "LTX-MLX"
EXECUTABLE = "ltx-mlx-desktop"
BUNDLE_ID = "io.github.ltx-mlx.desktop"
PROJECT_EXTENSION = "ltxproj"  # desktop/timeline/project_actions.py: PROJECT_SUFFIX, a folder (package)
# The oldest macOS that MLX ships wheels for: mlx / mlx-metal 0.30+ are built for
# macosx_14_0_arm64 (and 15_0, 26_0); there are no macOS 13 wheels any more. The
# metallib in a wheel only loads on its own macOS or later, so the bundle must be
# built from the 14.0 wheels (build.sh swaps them in) and declare the tag it ships.
MINIMUM_MACOS = "14.0"

ROOT = Path(__file__).resolve().parent.parent

# Never ship these: the test-only reference stack (torch is hundreds of MB and unused
# at run time), the tests themselves and test tools. Top-level module names.
FORBIDDEN_MODULES = (
    "torch",
    "torchvision",
    "torchaudio",
    "diffusers",
    "ltx_video",
    "timm",
    "einops",
    "pytest",
    "pytestqt",
    "_pytest",
    "hypothesis",
    "sentencepiece",
    "tests",
)


def package_version() -> str:
    """The version in pyproject.toml (the source of truth; an editable install's metadata can lag)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return metadata.version("ltx-mlx")
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def macos_tag_version(wheel_text: str) -> str | None:
    """'14.0' from a WHEEL file's `Tag: ...-macosx_14_0_arm64` line (the highest if several); None if none."""
    found = [(int(a), int(b)) for a, b in re.findall(r"^Tag:\s*\S+-macosx_(\d+)_(\d+)_\w+\s*$", wheel_text, re.M)]
    if not found:
        return None
    major, minor = max(found)
    return f"{major}.{minor}"


def bundled_mlx_minimum_macos() -> str:
    """The macOS the installed MLX wheels were built for (mlx-metal holds the metallib), else MINIMUM_MACOS."""
    versions = []
    for dist in ("mlx-metal", "mlx"):
        try:
            text = metadata.distribution(dist).read_text("WHEEL") or ""
        except metadata.PackageNotFoundError:
            continue
        tag = macos_tag_version(text)
        if tag:
            versions.append(tuple(int(part) for part in tag.split(".")))
    if not versions:
        return MINIMUM_MACOS
    major, minor = max(versions + [tuple(int(p) for p in MINIMUM_MACOS.split("."))])
    return f"{major}.{minor}"


def info_plist(minimum_macos: str = MINIMUM_MACOS, version: str | None = None) -> dict:
    """The keys the spec's BUNDLE merges into Contents/Info.plist."""
    version = version or package_version()
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleExecutable": EXECUTABLE,
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSMinimumSystemVersion": minimum_macos,
        "LSArchitecturePriority": ["arm64"],
        "LSRequiresNativeExecution": True,  # Apple Silicon only: never under Rosetta (no Metal for MLX there)
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,  # follow light/dark mode
        "LSApplicationCategoryType": "public.app-category.video",
        "NSHumanReadableCopyright": "ltx-mlx contributors; LTX-Video weights under their own licence",
        "UTExportedTypeDeclarations": [
            {
                "UTTypeIdentifier": f"{BUNDLE_ID}.project",
                "UTTypeDescription": "LTX-MLX project",
                # A project is a folder Name.ltxproj/ shown as one document in Finder.
                "UTTypeConformsTo": ["com.apple.package", "public.composite-content"],
                "UTTypeTagSpecification": {"public.filename-extension": [PROJECT_EXTENSION]},
            }
        ],
        "CFBundleDocumentTypes": [
            {
                "CFBundleTypeName": "LTX-MLX project",
                "CFBundleTypeRole": "Editor",
                "LSHandlerRank": "Owner",
                "LSItemContentTypes": [f"{BUNDLE_ID}.project"],
                "LSTypeIsPackage": True,
            },
            {  # conditioning images dropped on the Dock icon
                "CFBundleTypeName": "Image",
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": ["public.image"],
            },
            {  # conditioning / timeline clips dropped on the Dock icon
                "CFBundleTypeName": "Movie",
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": ["public.movie"],
            },
        ],
    }


if __name__ == "__main__":  # build.sh: `python packaging/packaging_info.py minimum-macos`
    import sys

    if sys.argv[1:] == ["minimum-macos"]:
        print(bundled_mlx_minimum_macos())
    elif sys.argv[1:] == ["version"]:
        print(package_version())
    else:
        sys.exit("usage: packaging_info.py minimum-macos|version")
