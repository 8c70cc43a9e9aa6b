"""Bundle metadata shared by the spec and the checks: names, bundle id, Info.plist keys."""
from __future__ import annotations

import tomllib
from pathlib import Path

APP_NAME = "LTX-MLX"
BUNDLE_ID = "io.github.ltx-mlx.desktop"
PROJECT_EXTENSION = "ltxproj"
# MLX's Metal backend needs macOS 14 (Sonoma) or later on Apple Silicon.
MINIMUM_MACOS = "14.0"

ROOT = Path(__file__).resolve().parent.parent


def package_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def info_plist() -> dict:
    version = package_version()
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSMinimumSystemVersion": MINIMUM_MACOS,
        "LSArchitecturePriority": ["arm64"],
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,  # follow light/dark mode
        "LSApplicationCategoryType": "public.app-category.video",
        "NSHumanReadableCopyright": "ltx-mlx contributors; LTX-Video weights under their own licence",
        "UTExportedTypeDeclarations": [
            {
                "UTTypeIdentifier": f"{BUNDLE_ID}.project",
                "UTTypeDescription": "LTX-MLX project",
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
            {
                "CFBundleTypeName": "Image",
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": ["public.image"],
            },
            {
                "CFBundleTypeName": "Movie",
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": ["public.movie"],
            },
        ],
    }
