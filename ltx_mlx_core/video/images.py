"""Image files in: the one decoder for conditioning frames and the app's thumbnails.

`decode_image` applies the EXIF orientation (a phone's portrait photo is stored
sideways), brings 16-bit and float images to 8 bits by scaling rather than
clipping (Pillow's `convert("RGB")` turns a 16-bit grey PNG white), and, given
the size the caller needs, reduces a large image while decoding it: a JPEG is
decoded at 1/2, 1/4 or 1/8 scale by its DCT (`draft`), then any image is
box-reduced by a whole factor, never below the size asked for. A 100-megapixel
photo is then never held at full size beyond the decoder's own buffer.
Unreadable files raise `InvalidRequest` with one sentence naming the file.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ltx_mlx_core.errors import InvalidRequest

logger = logging.getLogger(__name__)

# EXIF orientations 5-8 store the picture turned by a quarter: width and height swap on display.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112
# What each EXIF orientation needs to stand upright (the table ImageOps.exif_transpose uses); applied
# here after reducing, so a large photo is never turned at full size.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def bomb_limit_megapixels() -> float:
    """Pillow refuses images above twice its MAX_IMAGE_PIXELS (a decompression-bomb guard)."""
    return 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6


def open_image(path: str | Path) -> Image.Image:
    """The image, opened lazily (header only); one sentence for anything Pillow cannot open."""
    path = Path(path)
    name = path.name
    with warnings.catch_warnings():
        # Between one and two times MAX_IMAGE_PIXELS Pillow only warns; such photos are fine here.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except FileNotFoundError:
            raise InvalidRequest(f"the image '{path}' does not exist.") from None
        except Image.DecompressionBombError:
            raise InvalidRequest(
                f"'{name}' is too large to read: images above {bomb_limit_megapixels():.0f} megapixels are "
                "refused (a guard against decompression bombs); scale it down first."
            ) from None
        except UnidentifiedImageError:
            raise InvalidRequest(
                f"'{name}' is not an image file that can be read (its contents are not PNG, JPEG, WebP, "
                "BMP or TIFF data, whatever its name says)."
            ) from None
        except OSError as error:
            raise InvalidRequest(f"the image '{name}' cannot be read: {error.strerror or error}.") from None


def _cover_scale(size: tuple[int, int], cover: tuple[int, int]) -> float:
    """The scale at which `size` still covers `cover` in both directions (<= 1 shrinks)."""
    return max(cover[0] / size[0], cover[1] / size[1])


def _draft(image: Image.Image, cover: tuple[int, int]) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale (Pillow picks the largest that stays >= the size given)."""
    scale = _cover_scale(image.size, cover)
    if scale < 1:
        image.draft(None, (int(np.ceil(image.size[0] * scale)), int(np.ceil(image.size[1] * scale))))


def _to_rgb8(image: Image.Image) -> Image.Image:
    """8-bit RGB, scaling (not clipping) 16-bit and float pixels into 0..255."""
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit grey (Pillow opens it as I;16, or as 32-bit I in some versions): 65535 -> 255.
        values = np.asarray(image, dtype=np.float32)
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        scale = 255.0 if values.size and np.nanmax(values) <= 1.0 else 1.0
        grey = np.clip(np.rint(np.nan_to_num(values) * scale), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def decode_image(path: str | Path, cover: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 [H, W, 3] RGB as the picture is meant to be shown.

    `cover` (width, height, as shown): the smallest size the caller will use; the image is
    reduced while decoding by whole factors, never below covering it. None keeps every pixel.
    """
    name = Path(path).name
    with open_image(path) as image:
        try:
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            # Reduce in the file's own orientation, then turn the small result upright.
            stored_cover = None if cover is None else (cover[::-1] if orientation in _QUARTER_TURNS else cover)
            if stored_cover is not None and image.format == "JPEG":
                _draft(image, stored_cover)
            rgb = _to_rgb8(image)
            if stored_cover is not None:
                factor = int(1 / _cover_scale(rgb.size, stored_cover))
                if factor >= 2:
                    rgb = rgb.reduce(factor)
            if orientation in _TRANSPOSE:
                rgb = rgb.transpose(_TRANSPOSE[orientation])
            frame = np.array(rgb, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError) as error:
            # Pillow reports a truncated or corrupt stream with OSError ("image file is truncated"),
            # SyntaxError (bad chunk) or ValueError (impossible header values).
            raise InvalidRequest(f"the image '{name}' is damaged or incomplete ({error}).") from None
    logger.debug("decoded %s to %dx%d", name, frame.shape[1], frame.shape[0])
    return frame
