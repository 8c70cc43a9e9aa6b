"""The macOS Info.plist the spec's BUNDLE writes: keys, version, minimum macOS, document types."""

from __future__ import annotations

import ast
import plistlib

from desktop.timeline.project_actions import PROJECT_SUFFIX
from tests.packaging.conftest import PACKAGING, ROOT


def test_info_plist_identifies_the_app_and_takes_its_version_from_the_package(packaging_info):
    import tomllib

    plist = packaging_info.info_plist()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert plist["CFBundleIdentifier"] == packaging_info.BUNDLE_ID
    assert plist["CFBundleIdentifier"].count(".") >= 2 and " " not in plist["CFBundleIdentifier"]
    assert plist["CFBundleShortVersionString"] == plist["CFBundleVersion"] == version
    assert plist["CFBundleName"] == "LTX-MLX" and plist["CFBundleExecutable"] == "ltx-mlx-desktop"
    assert plist["NSHighResolutionCapable"] is True
    assert plist["LSArchitecturePriority"] == ["arm64"]
    # Serialises as a real plist (only plist types inside) and reads back unchanged.
    assert plistlib.loads(plistlib.dumps(plist)) == plist


def test_minimum_macos_is_the_oldest_mlx_wheel_and_follows_the_bundled_wheel(packaging_info):
    plist = packaging_info.info_plist()
    assert plist["LSMinimumSystemVersion"] == packaging_info.MINIMUM_MACOS == "14.0"
    wheel = "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: py3-none-macosx_14_0_arm64\n"
    assert packaging_info.macos_tag_version(wheel) == "14.0"
    assert packaging_info.macos_tag_version(wheel.replace("14_0", "26_0")) == "26.0"
    assert packaging_info.macos_tag_version("Tag: cp311-cp311-manylinux_2_35_x86_64\n") is None
    assert packaging_info.info_plist(minimum_macos="15.0")["LSMinimumSystemVersion"] == "15.0"
    # Here (no macOS wheels installed) the spec declares the default.
    assert packaging_info.bundled_mlx_minimum_macos() >= "14.0"


def test_document_types_cover_projects_images_and_movies(packaging_info):
    plist = packaging_info.info_plist()
    (exported,) = plist["UTExportedTypeDeclarations"]
    assert exported["UTTypeTagSpecification"]["public.filename-extension"] == [PROJECT_SUFFIX.lstrip(".")]
    assert "com.apple.package" in exported["UTTypeConformsTo"]  # a .ltxproj is a folder
    types = {tuple(entry["LSItemContentTypes"]): entry for entry in plist["CFBundleDocumentTypes"]}
    project = types[(exported["UTTypeIdentifier"],)]
    assert project["CFBundleTypeRole"] == "Editor" and project["LSTypeIsPackage"] is True
    assert ("public.image",) in types and ("public.movie",) in types
    for entry in plist["CFBundleDocumentTypes"]:
        assert entry["CFBundleTypeRole"] in ("Editor", "Viewer") and entry["CFBundleTypeName"]


def test_spec_bundles_an_app_with_this_plist_and_excludes_the_test_stack(packaging_info):
    tree = ast.parse((PACKAGING / "ltx-mlx.spec").read_text())
    calls = {
        node.func.id: node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    bundle = {kw.arg: ast.unparse(kw.value) for kw in calls["BUNDLE"].keywords}
    assert bundle["name"] == "f'{APP_NAME}.app'"
    assert bundle["bundle_identifier"] == "BUNDLE_ID"
    assert bundle["info_plist"].startswith("info_plist(")
    analysis = {kw.arg: ast.unparse(kw.value) for kw in calls["Analysis"].keywords}
    assert analysis["excludes"] == "EXCLUDES"
    for name in ("torch", "ltx_video", "diffusers", "tests", "pytest"):
        assert name in packaging_info.FORBIDDEN_MODULES
    launcher = (PACKAGING / "launcher.py").read_text()
    launcher_forbidden = ast.literal_eval(launcher.split("FORBIDDEN_MODULES = ", 1)[1].split(")", 1)[0] + ")")
    assert launcher_forbidden == packaging_info.FORBIDDEN_MODULES
