"""packaging/bundle_check.py on fake bundle folders: complete, polluted with torch/ltx_video, and the
macOS metallib placement it repairs (MLX looks next to the libmlx it was loaded through)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, load_packaging_module


@pytest.fixture(scope="module")
def bundle_check():
    return load_packaging_module("bundle_check")


def make_bundle(lib_root: Path, platform: str) -> Path:
    """The entries a working one-folder bundle has (empty files stand in for the real ones)."""
    suffix = "dylib" if platform == "darwin" else "so"
    files = [
        f"mlx/core.cpython-311-x86_64-linux-gnu.{suffix}",
        f"mlx/lib/libmlx.{suffix}",
        "imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-v9.0.2",
        "tokenizers/tokenizers.abi3.so",
        "PySide6/Qt/plugins/platforms/" + ("libqcocoa.dylib" if platform == "darwin" else "libqoffscreen.so"),
        "PySide6/QtMultimedia.abi3.so",
        f"PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.{suffix}",
        "PySide6/Qt/lib/"
        + ("QtMultimedia.framework/QtMultimedia" if platform == "darwin" else "libQt6Multimedia.so.6"),
    ]
    files += [f"configs/{p.name}" for p in (ROOT / "configs").glob("*.yaml")]
    files += [f"resources/{p.name}" for p in (ROOT / "resources").iterdir() if p.is_file()]
    if platform == "darwin":
        files.append("mlx/lib/mlx.metallib")
    for name in files:
        (lib_root / name).parent.mkdir(parents=True, exist_ok=True)
        (lib_root / name).write_bytes(b"x")
    # PyInstaller's top-level link, through which the bootloader's library path loads libmlx.
    (lib_root / f"libmlx.{suffix}").symlink_to(f"mlx/lib/libmlx.{suffix}")
    return lib_root


def test_a_complete_linux_bundle_passes(bundle_check, tmp_path):
    root = make_bundle(tmp_path / "_internal", "linux")
    assert bundle_check.problems(root, "linux") == []
    assert bundle_check.main([str(root), "--platform", "linux"]) == 0


@pytest.mark.parametrize(
    "entry",
    [
        "torch",
        "torch-2.13.0+cpu.dist-info",
        "ltx_video",
        "diffusers",
        "tests",
        "torch.libs",
        "ltx_video-0.1.2.dist-info",
    ],
)
def test_test_only_code_in_the_bundle_fails_the_check(bundle_check, tmp_path, entry):
    root = make_bundle(tmp_path / "_internal", "linux")
    (root / entry).mkdir()
    found = bundle_check.problems(root, "linux")
    assert len(found) == 1 and "test-only" in found[0] and entry in found[0]
    assert bundle_check.main([str(root), "--platform", "linux"]) == 1


def test_lookalike_names_are_not_mistaken_for_the_test_stack(bundle_check, tmp_path):
    root = make_bundle(tmp_path / "_internal", "linux")
    for name in ("torchlike", "libtorchaudio_helper.so", "testsuite", "mlx_cpu.libs", "ltx_mlx-0.1.0.dist-info"):
        (root / name).mkdir()
    assert bundle_check.problems(root, "linux") == []


@pytest.mark.parametrize(
    "missing",
    [
        "configs/tiny.yaml",
        "resources/icon.png",
        "mlx/lib/libmlx.so",
        "imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-v9.0.2",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so",
        "PySide6/QtMultimedia.abi3.so",
        "PySide6/Qt/lib/libQt6Multimedia.so.6",
        "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so",
    ],
)
def test_a_missing_data_file_or_library_fails_the_check(bundle_check, tmp_path, missing):
    root = make_bundle(tmp_path / "_internal", "linux")
    (root / missing).unlink()
    found = bundle_check.problems(root, "linux")
    assert found, f"{missing} was not missed"
    assert bundle_check.main([str(root), "--platform", "linux"]) == 1


def test_macos_metallib_must_sit_next_to_every_libmlx_and_is_linked_there(bundle_check, tmp_path):
    root = make_bundle(tmp_path / "Frameworks", "darwin")
    found = bundle_check.problems(root, "darwin")
    assert found == ["mlx.metallib is not next to libmlx in ."]
    (link,) = bundle_check.colocate_metallib(root)
    assert link == root / "mlx.metallib" and link.is_symlink()
    assert os.readlink(link) == "mlx/lib/mlx.metallib" and link.resolve() == (root / "mlx/lib/mlx.metallib").resolve()
    assert bundle_check.colocate_metallib(root) == []  # idempotent
    assert bundle_check.problems(root, "darwin") == []


def test_macos_bundle_without_a_metallib_fails(bundle_check, tmp_path):
    root = make_bundle(tmp_path / "Frameworks", "darwin")
    (root / "mlx/lib/mlx.metallib").unlink()
    assert bundle_check.colocate_metallib(root) == []
    found = bundle_check.problems(root, "darwin")
    assert len(found) == 2 and all("mlx.metallib" in problem for problem in found)
