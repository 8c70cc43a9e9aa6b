"""The strip's thumbnails come from the pipeline's decoder; unreadable images are refused on drop."""

from __future__ import annotations

import numpy as np
from PIL import Image

from desktop.widgets.conditioning_strip import THUMB, ConditioningStrip
from tests.core.test_media_probe import exif_jpeg


def thumbnail_pixels(row) -> np.ndarray:
    image = row.thumb.pixmap().toImage()
    return np.array(
        [[image.pixelColor(x, y).getRgb()[:3] for x in range(image.width())] for y in range(image.height())], np.uint8
    )


def test_a_phone_photo_thumbnail_stands_upright(qtbot, tmp_path):
    strip = ConditioningStrip()
    qtbot.addWidget(strip)
    (row,) = strip.add_paths([str(exif_jpeg(tmp_path / "phone.jpg", 300, 200, orientation=6))])
    pixels = thumbnail_pixels(row)
    assert pixels.shape[0] == THUMB and pixels.shape[1] < THUMB  # portrait, as the phone showed it
    assert pixels[3, pixels.shape[1] // 2, 0] > 200 and pixels[-3, pixels.shape[1] // 2, 2] > 200


def test_a_16_bit_grey_thumbnail_keeps_its_gradient(qtbot, tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (128, 1))).save(path)
    strip = ConditioningStrip()
    qtbot.addWidget(strip)
    (row,) = strip.add_paths([str(path)])
    pixels = thumbnail_pixels(row)
    assert pixels[:, :5].mean() < 30 and pixels[:, -5:].mean() > 225


def test_an_unreadable_image_is_refused_with_the_probes_sentence(qtbot, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(dot)
    strip = ConditioningStrip()
    qtbot.addWidget(strip)
    with qtbot.waitSignal(strip.rejected) as rejected:
        assert strip.add_paths([str(fake), str(dot)]) == []
    assert strip.items() == []
    message = rejected.args[0]
    assert "'fake.png' is not an image file that can be read" in message
    assert "'dot.png' is 1x1 pixels" in message
