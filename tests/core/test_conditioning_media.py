"""Conditioning media are cropped, blurred, compressed, resized and trimmed as the reference does it.

The reference CLI (`ltx_video.inference`) crops each image to the target aspect at its own
resolution (`just_crop=True`), blurs and CRF-compresses it; its pipeline then resizes it
bilinearly to each pass's size (`LTXVideoPipeline.resize_tensor`). The CLI's functions run here
compiled against stand-ins for torchvision and PyAV (tests/parity/reference_media.py): at CRF 0
(the reference's identity), or with the codec skipped but its even-size crop and uint8
truncation kept, and our codec step skipped the same way; the codec itself is tested on its own below.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ltx_video.pipelines.pipeline_ltx_video import LTXVideoPipeline
from PIL import Image

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline import media
from ltx_mlx_core.pipeline.media import resize_frames
from ltx_mlx_core.pipeline.request import ConditioningItem
from tests.parity.reference_media import (
    compress_at_crf_zero,
    compress_without_codec,
    reference_cli,
)
from tests.parity.reference_media import (
    gaussian_blur as reference_blur,
)


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 200.0
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def reference_pixels(image: np.ndarray, target_size: tuple[int, int], compress) -> np.ndarray:
    """What the reference pipeline encodes: the CLI's conditioning tensor resized to the pass size."""
    loaded = reference_cli(compress).load_image_to_tensor_with_resize_and_crop(
        Image.fromarray(image), *target_size, just_crop=True
    )
    return LTXVideoPipeline.resize_tensor(loaded, *target_size).permute(0, 2, 3, 4, 1).numpy()


SIZES = [((50, 70), (32, 64)), ((70, 50), (64, 32)), ((48, 48), (64, 96)), ((77, 123), (96, 160))]


@pytest.mark.parametrize("source_size, target_size", SIZES)
def test_prepared_image_matches_the_reference_without_compression(source_size, target_size) -> None:
    image = smooth_image(*source_size)
    expected = reference_pixels(image, target_size, compress_at_crf_zero)
    ours = np.asarray(media.prepare_frames(image[None], *target_size, crf=0).at_size(*target_size))
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-6)


@pytest.mark.parametrize("source_size, target_size", SIZES)
def test_prepared_image_matches_the_reference_with_the_uint8_step(source_size, target_size, monkeypatch) -> None:
    image = smooth_image(*source_size)
    expected = reference_pixels(image, target_size, compress_without_codec)
    monkeypatch.setattr(
        media, "crf_compress", lambda frames, crf: frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
    )
    ours = np.asarray(media.prepare_frames(image[None], *target_size).at_size(*target_size))
    assert ours.shape == expected.shape
    difference = np.abs(ours - expected)
    # Both truncate to uint8 after the blur; float rounding may move a pixel across one level.
    assert difference.max() <= 1.0 / 127.5 + 1e-5
    assert np.mean(difference > 1e-5) < 0.01


def test_prepared_media_keep_the_source_resolution_cropped_to_the_target_aspect() -> None:
    prepared = media.prepare_frames(smooth_image(60, 200)[None], 64, 96, crf=0)
    assert prepared.frames.shape == (1, 60, 90, 3) and prepared.frames.dtype == np.float32
    compressed = media.prepare_frames(smooth_image(61, 200)[None], 64, 96)
    assert compressed.frames.shape == (1, 60, 90, 3) and compressed.frames.dtype == np.uint8
    assert media.prepare_frames(smooth_image(61, 200)[None], 64, 96).at_size(32, 48).shape == (1, 1, 32, 48, 3)


def test_video_frames_are_prepared_independently() -> None:
    frames = np.stack([smooth_image(40, 70, seed) for seed in range(3)])
    together = media.prepare_frames(frames, 32, 64, crf=0).at_size(64, 96)
    alone = [media.prepare_frames(frame[None], 32, 64, crf=0).at_size(64, 96) for frame in frames]
    np.testing.assert_array_equal(np.asarray(together), np.asarray(mx.concatenate(alone, axis=1)))


def test_blur_is_a_normalised_3x3_gaussian_with_sigma_one() -> None:
    frames = np.random.default_rng(1).random((2, 9, 11, 3)).astype(np.float32)
    expected = torch.stack([reference_blur(torch.from_numpy(f).permute(2, 0, 1), 3, 1.0) for f in frames])
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


def test_crf_compression_of_odd_sizes_drops_the_last_row_and_column_as_the_reference() -> None:
    frames = smooth_image(33, 47)[None]
    compressed = media.crf_compress(frames)
    assert compressed.shape == (1, 32, 46, 3)
    error = np.abs(compressed.astype(np.float32) - frames[:, :32, :46].astype(np.float32))
    assert error.mean() < 12.0


@pytest.mark.parametrize(
    "start, frames, target, kept", [(0, 12, 17, 9), (0, 40, 17, 17), (8, 17, 17, 9), (16, 5, 17, 1)]
)
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
    frames = np.random.default_rng(4).standard_normal((3, *size, 3)).astype(np.float32)
    expected = (
        F.interpolate(torch.from_numpy(frames).permute(0, 3, 1, 2), size=target, mode="bilinear", align_corners=False)
        .permute(0, 2, 3, 1)
        .numpy()
    )
    ours = np.array(resize_frames(mx.array(frames), *target))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)
