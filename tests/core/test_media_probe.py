"""Input media: the probe refuses unusable files in one sentence; the decoder reads images right.

Every file here is written by the test itself: damaged videos cut from a good one, an
audio-only MP4 from ffmpeg's tone generator, a PNG header that claims 20000x20000 pixels.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image, ImageOps

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline import media
from ltx_mlx_core.pipeline.request import ConditioningItem, GenerationRequest
from ltx_mlx_core.video import images, probe
from tests.bad_media import png_claiming


def test_unusable_images_are_refused_in_one_sentence(tmp_path):
    """The one probe opens images through the one decoder (video/images.py) and decodes every pixel."""
    text = tmp_path / "notes.png"
    text.write_text("these are notes, not a picture")
    with pytest.raises(InvalidRequest, match="'notes.png' is not an image file that can be read"):
        probe.probe_image(text)
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 48), "white").save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(InvalidRequest, match="'cut.png' is not an image Pillow can read"):
        probe.probe_image(cut)
    with pytest.raises(InvalidRequest, match="'huge.png' is too large to read: images above 179 megapixels"):
        probe.probe_image(png_claiming(tmp_path / "huge.png", 20000, 20000))
    assert probe.probe_image(good) == (64, 48)


def test_a_request_probes_its_media_before_work(tmp_path):
    audio_only = tmp_path / "audio_only.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-c:a",
            "aac",
            str(audio_only),
        ],
        check=True,
    )
    request = GenerationRequest(
        prompt="p", width=64, height=64, num_frames=17, conditioning=[ConditioningItem(path=str(audio_only))]
    )
    request.validate()  # cheap checks only: the GUI thread calls it
    with pytest.raises(InvalidRequest, match="has no video stream"):
        request.check_media()
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(dot)
    request.conditioning = [ConditioningItem(path=str(dot))]
    with pytest.raises(InvalidRequest, match="'dot.png' is 1x1 pixels"):
        request.check_media()


def test_a_16_bit_grey_png_keeps_its_gradient(tmp_path):
    gradient = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (32, 1))
    path = tmp_path / "grey16.png"
    Image.fromarray(gradient).save(path)
    assert Image.open(path).mode.startswith("I")  # what makes a plain convert("RGB") clip it white
    frame = images.decode_image(path)
    assert frame.shape == (32, 256, 3) and frame.dtype == np.uint8
    expected = np.rint(gradient / 257.0)
    np.testing.assert_allclose(frame[..., 0], expected, atol=1)
    assert (frame[..., 0] == frame[..., 2]).all() and frame.min() == 0 and frame.max() == 255
    # The pipeline's loader goes through the same decoder.
    loaded = media.load_item_frames(ConditioningItem(path=str(path)), 9, (32, 64))
    assert loaded.shape == (1, 32, 256, 3) and abs(float(loaded.mean()) - 127.5) < 2


def exif_jpeg(path: Path, width: int, height: int, orientation: int) -> Path:
    """Left half red, right half blue, stored `width`x`height` with an EXIF orientation tag."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2, 0] = 255
    pixels[:, width // 2 :, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, quality=95, exif=exif.tobytes())
    return path


def test_a_phone_jpeg_is_turned_upright_by_its_exif_orientation(tmp_path):
    path = exif_jpeg(tmp_path / "phone.jpg", 96, 64, orientation=6)  # stored landscape, shown portrait
    frame = images.decode_image(path)
    assert frame.shape == (96, 64, 3)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_array_equal(frame, upright)
    # Orientation 6 turns clockwise: the stored left (red) half is on top.
    assert frame[10, 32, 0] > 200 and frame[85, 32, 2] > 200


def test_orientation_holds_when_the_image_is_reduced_while_decoding(tmp_path):
    path = exif_jpeg(tmp_path / "phone.jpg", 1600, 800, orientation=6)
    frame = images.decode_image(path, cover=(50, 100))  # portrait cover, as shown
    height, width = frame.shape[:2]
    assert height > width and width >= 50 and height >= 100 and width < 200
    assert frame[5, width // 2, 0] > 200 and frame[-5, width // 2, 2] > 200


def test_a_large_jpeg_is_decoded_small_by_its_dct_in_under_a_second(tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    y, x = np.mgrid[0:6000:8, 0:8000:8]
    small = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(small).resize((8000, 6000), Image.NEAREST).save(path, quality=85)
    rasters = []
    to_rgb8 = images._to_rgb8
    monkeypatch.setattr(images, "_to_rgb8", lambda image: rasters.append(image.size) or to_rgb8(image))
    started = time.perf_counter()
    frame = images.decode_image(path, cover=(128, 128))
    elapsed = time.perf_counter() - started
    # The largest raster ever decoded is the DCT's 1/8 scale, not 48 megapixels.
    assert rasters == [(1000, 750)]
    assert frame.shape[0] >= 128 and frame.shape[1] >= 128 and frame.shape[0] * frame.shape[1] < 300 * 300
    assert elapsed < 1.0, elapsed


def test_any_large_image_is_box_reduced_before_float(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (2000, 1500), (10, 200, 30)).save(path)
    frame = images.decode_image(path, cover=(100, 100))
    assert frame.shape == (100, 134, 3) and tuple(frame[0, 0]) == (10, 200, 30)  # 1/15: still covers 100x100
    # The conditioning loader keeps twice the clip's size, so parity-sized images are untouched.
    assert media.load_item_frames(ConditioningItem(path=str(path)), 9, (64, 96)).shape == (1, 150, 200, 3)
    assert images.decode_image(path, cover=(1500, 1500)).shape == (1500, 2000, 3)


def test_a_truncated_jpeg_is_one_sentence_when_decoded(tmp_path):
    path = exif_jpeg(tmp_path / "whole.jpg", 256, 128, orientation=1)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[:700])
    with pytest.raises(InvalidRequest, match="the image 'cut.jpg' is damaged or incomplete"):
        images.decode_image(cut)
