"""Conditioning media are cropped, resized, blurred, compressed and trimmed as the reference CLI does it.

The reference loader (`ltx_video.inference.load_image_to_tensor_with_resize_and_crop`) imports
torchvision, which has no CPU build here, so its function body is compiled from the installed
source against a two-function stand-in for `torchvision.transforms.functional` written after
torchvision's own `to_tensor` and `gaussian_blur` (odd kernel, sigma, reflect padding). Its CRF
step needs PyAV (not installed): the stand-in keeps that step's uint8 truncation and skips the
codec, and our codec step is skipped the same way; the codec itself is tested on its own below.
"""
from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import Union

import mlx.core as mx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ltx_video
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline import media
from ltx_mlx_core.pipeline.request import ConditioningItem


def _to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def _gaussian_blur(image: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    half = (kernel_size - 1) * 0.5
    x = torch.linspace(-half, half, steps=kernel_size)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    kernel1d = pdf / pdf.sum()
    kernel = torch.mm(kernel1d[:, None], kernel1d[None, :]).expand(image.shape[0], 1, kernel_size, kernel_size)
    pad = kernel_size // 2
    padded = F.pad(image[None], [pad, pad, pad, pad], mode="reflect")
    return F.conv2d(padded, kernel, groups=image.shape[0])[0]


def _compress_without_codec(image: torch.Tensor) -> torch.Tensor:
    return (image * 255.0).byte().to(image.dtype) / 255.0


def reference_loader():
    source = (Path(ltx_video.__file__).parent / "inference.py").read_text()
    tree = ast.parse(source)
    function = next(node for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == "load_image_to_tensor_with_resize_and_crop")
    namespace = dict(
        Image=Image, torch=torch, Union=Union,
        TVF=SimpleNamespace(to_tensor=_to_tensor, gaussian_blur=_gaussian_blur),
        crf_compressor=SimpleNamespace(compress=_compress_without_codec),
    )
    exec(compile(ast.Module(body=[function], type_ignores=[]), "inference.py", "exec"), namespace)
    return namespace["load_image_to_tensor_with_resize_and_crop"]


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 200.0
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("source_size, target_size", [((50, 70), (32, 64)), ((70, 50), (64, 32)), ((48, 48), (64, 96))])
def test_prepared_image_matches_the_reference_loader(source_size, target_size, monkeypatch) -> None:
    image = smooth_image(*source_size)
    expected = reference_loader()(Image.fromarray(image), *target_size)  # [1, 3, 1, H, W]
    monkeypatch.setattr(media, "crf_compress", lambda frames: frames)
    ours = np.asarray(media.prepare_frames(image[None], *target_size))  # [1, 1, H, W, 3]
    expected = expected.permute(0, 2, 3, 4, 1).numpy()
    assert ours.shape == expected.shape
    difference = np.abs(ours - expected)
    # Both truncate to uint8 after the blur; float rounding may move a pixel across one level.
    assert difference.max() <= 1.0 / 127.5 + 1e-5
    assert np.mean(difference > 1e-5) < 0.01


def test_blur_is_a_normalised_3x3_gaussian_with_sigma_one() -> None:
    frames = np.random.default_rng(1).random((2, 9, 11, 3)).astype(np.float32)
    expected = torch.stack([_gaussian_blur(torch.from_numpy(f).permute(2, 0, 1), 3, 1.0) for f in frames])
    np.testing.assert_allclose(media.gaussian_blur(frames), expected.permute(0, 2, 3, 1).numpy(), atol=1e-6)
    constant = np.full((1, 5, 5, 3), 0.25, np.float32)
    np.testing.assert_allclose(media.gaussian_blur(constant), constant, atol=1e-7)


def test_crf_compression_keeps_size_and_adds_mild_artefacts() -> None:
    frames = np.stack([smooth_image(64, 96, seed) for seed in range(3)])
    compressed = media.crf_compress(frames)
    assert compressed.shape == frames.shape and compressed.dtype == np.uint8
    error = np.abs(compressed.astype(np.float32) - frames.astype(np.float32))
    assert 0.5 < error.mean() < 12.0, error.mean()
    # Frames are encoded independently: each one stays closest to its own source.
    for index in range(3):
        errors = [np.abs(compressed[index].astype(np.float32) - f).mean() for f in frames]
        assert int(np.argmin(errors)) == index
    np.testing.assert_array_equal(media.crf_compress(frames, crf=0), frames)


def test_crf_compression_of_odd_sizes_leaves_the_last_row_and_column_untouched() -> None:
    frames = smooth_image(33, 47)[None]
    compressed = media.crf_compress(frames)
    assert compressed.shape == frames.shape
    np.testing.assert_array_equal(compressed[:, -1], frames[:, -1])
    np.testing.assert_array_equal(compressed[:, :, -1], frames[:, :, -1])


@pytest.mark.parametrize("start, frames, target, kept", [(0, 12, 17, 9), (0, 40, 17, 17), (8, 17, 17, 9), (16, 5, 17, 1)])
def test_conditioning_video_frames_are_trimmed_to_a_length_the_vae_accepts(start, frames, target, kept) -> None:
    video = np.zeros((frames, 8, 8, 3), np.uint8)
    video[:, 0, 0, 0] = np.arange(frames)
    item = ConditioningItem(frame=start, frames=video)
    loaded = media.load_item_frames(item, target)
    assert loaded.shape[0] == kept
    np.testing.assert_array_equal(loaded[:, 0, 0, 0], np.arange(kept))


def test_video_placed_past_the_clip_end_is_refused() -> None:
    item = ConditioningItem(path="clip.mp4", frame=20, frames=np.zeros((9, 8, 8, 3), np.uint8))
    with pytest.raises(InvalidRequest, match="no room"):
        media.load_item_frames(item, 17)


def test_image_file_is_read_as_one_rgb_frame(tmp_path) -> None:
    path = tmp_path / "still.png"
    Image.fromarray(smooth_image(20, 30)).convert("RGBA").save(path)
    frames = media.load_item_frames(ConditioningItem(path=str(path)), 17)
    assert frames.shape == (1, 20, 30, 3) and frames.dtype == np.uint8


@pytest.mark.parametrize("size, target", [((32, 96), (64, 160)), ((64, 64), (40, 24)), ((37, 53), (64, 96))])
def test_frames_resize_bilinearly_as_torch_interpolate(size, target) -> None:
    """The multi-scale flow's last step (and conditioning media per pass) resizes like the reference."""
    from ltx_mlx_core.pipeline.multiscale import resize_frames

    frames = np.random.default_rng(4).standard_normal((3, *size, 3)).astype(np.float32)
    expected = F.interpolate(torch.from_numpy(frames).permute(0, 3, 1, 2), size=target, mode="bilinear",
                             align_corners=False).permute(0, 2, 3, 1).numpy()
    ours = np.array(resize_frames(mx.array(frames), *target))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)
