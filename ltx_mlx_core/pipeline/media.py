"""Conditioning media → pixels the VAE encodes, prepared as the reference CLI and pipeline prepare them.

The reference CLI (`inference.py`) centre-crops each image (or video frame) to the
target aspect *without resizing it*, blurs it with a 3x3 Gaussian (sigma 1) and
passes it through a libx264 encode at CRF 29 (so conditioning frames carry the
compression artefacts the model saw in training); the codec works on even sizes,
so an odd last row or column is dropped. The pipeline then resizes these frames
bilinearly to the size of each pass it runs (both passes of the multi-scale flow
start from the same prepared frames; `resize_frames` also resizes the first pass's
result). `prepare_frames` does the first part once
per item; `PreparedMedia.at_size` the second, once per pass size. Videos are
trimmed to a valid 8k+1 length that fits in the clip from their start frame.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass

import imageio_ffmpeg
import mlx.core as mx
import numpy as np
from PIL import Image

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.request import ConditioningItem
from ltx_mlx_core.video.images import decode_image
from ltx_mlx_core.video.io import read_frames

logger = logging.getLogger(__name__)

# The reference's CRF; 0 skips the codec (and, as in the reference, the uint8 step before it).
CONDITIONING_CRF = 29
# Images are decoded no smaller than this many times the clip's size (by whole factors, while
# decoding). The reference blurs at the source's resolution and resizes without antialiasing;
# at twice the clip's size its 3x3 blur stays below the clip's pixel scale, and an image up to
# that size is prepared exactly as the reference prepares it. A huge photo is never held in float.
IMAGE_DECODE_MARGIN = 2
_BLUR = np.exp(-(np.array([-1.0, 0.0, 1.0]) ** 2) / 2.0)
_BLUR = (_BLUR / _BLUR.sum()).astype(np.float32)


def crop_to_aspect(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre-crop uint8 [h, w, 3] to the aspect width:height, keeping the source resolution."""
    image = Image.fromarray(frame)
    in_w, in_h = image.size
    aspect = width / height  # the reference's arithmetic, so the integer crop sizes agree
    if in_w / in_h > aspect:
        new_w, new_h = int(in_h * aspect), in_h
    else:
        new_w, new_h = in_w, int(in_w / aspect)
    left, top = (in_w - new_w) // 2, (in_h - new_h) // 2
    return np.asarray(image.crop((left, top, left + new_w, top + new_h)).convert("RGB"))


def gaussian_blur(frames: np.ndarray) -> np.ndarray:
    """3x3 Gaussian, sigma 1, reflect padding; frames float [F, H, W, 3] in [0, 1]."""
    padded = np.pad(frames, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    rows = sum(_BLUR[i] * padded[:, i : i + frames.shape[1], :, :] for i in range(3))
    return sum(_BLUR[i] * rows[:, :, i : i + frames.shape[2], :] for i in range(3)).astype(np.float32)


def crf_compress(frames: np.ndarray, crf: int = CONDITIONING_CRF) -> np.ndarray:
    """Each frame through an intra-only libx264 encode and back (uint8 [F, H, W, 3]).

    The codec needs even sizes: as the reference, an odd last row or column is
    dropped. `crf=0` returns the frames untouched.
    """
    if crf == 0:
        return frames
    count, height, width = frames.shape[:3]
    even = np.ascontiguousarray(frames[:, : height // 2 * 2, : width // 2 * 2])
    handle, path = tempfile.mkstemp(suffix=".mp4")
    os.close(handle)
    try:
        writer = imageio_ffmpeg.write_frames(
            path,
            (even.shape[2], even.shape[1]),
            fps=1,
            codec="libx264",
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            output_params=["-crf", str(crf), "-preset", "veryfast", "-g", "1"],
        )
        writer.send(None)
        for frame in even:
            writer.send(np.ascontiguousarray(frame))
        writer.close()
        reader = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24")
        meta = next(reader)
        w, h = meta["size"]
        decoded = [np.frombuffer(raw, np.uint8).reshape(h, w, 3) for raw in reader]
    finally:
        os.remove(path)
    return np.stack(decoded[:count])


def _linear_weights(out_size: int, in_size: int) -> tuple[mx.array, mx.array, mx.array]:
    """Source indices and weights of bilinear sampling with align_corners=False (no antialiasing)."""
    scale = in_size / out_size
    source = (mx.arange(out_size, dtype=mx.float32) + 0.5) * scale - 0.5
    source = mx.maximum(source, 0.0)
    low = mx.minimum(mx.floor(source).astype(mx.int32), in_size - 1)
    high = mx.minimum(low + 1, in_size - 1)
    weight = (source - low.astype(mx.float32))[:, None]
    return low, high, weight


def resize_frames(pixels: mx.array, height: int, width: int) -> mx.array:
    """Bilinear resize of frames [F, H, W, C] to [F, height, width, C], as torch's F.interpolate does it."""
    frames, in_h, in_w, channels = pixels.shape
    if (in_h, in_w) == (height, width):
        return pixels
    x = pixels.astype(mx.float32)
    low, high, weight = _linear_weights(height, in_h)
    row_weight = weight[None, :, :, None]  # [1, height, 1, 1]
    x = x[:, low] * (1 - row_weight) + x[:, high] * row_weight
    low, high, weight = _linear_weights(width, in_w)
    x = x[:, :, low] * (1 - weight[None, None]) + x[:, :, high] * weight[None, None]
    return x.astype(pixels.dtype)


@dataclass
class PreparedMedia:
    """One item's frames as the reference CLI hands them to its pipeline, at the source's resolution.

    `frames` [F, h, w, 3] are uint8 after the codec, or float32 in [0, 1] when
    CRF is off (the reference then keeps the blurred values unrounded).
    """

    frames: np.ndarray

    @property
    def count(self) -> int:
        return self.frames.shape[0]

    def at_size(self, height: int, width: int) -> mx.array:
        """float32 [1, F, height, width, 3] in [-1, 1]: bilinear resize (torch's, no antialiasing).

        Frame by frame, so a long high-resolution clip never exists in float at its own size.
        """
        resized = []
        for frame in self.frames:
            unit = frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame
            pixels = mx.array(unit * 255.0 / 127.5 - 1.0)
            resized.append(np.array(resize_frames(pixels[None], height, width)[0]))
        return mx.array(np.stack(resized)[None])


def prepare_frames(frames: np.ndarray, height: int, width: int, crf: int | None = None) -> PreparedMedia:
    """uint8 [F, h, w, 3] → cropped to width:height, blurred and compressed, as the reference CLI does.

    `crf` defaults to CONDITIONING_CRF (read at call time).
    """
    crf = CONDITIONING_CRF if crf is None else crf
    prepared = []
    for frame in frames:
        unit = crop_to_aspect(frame, height, width).astype(np.float32) / 255.0
        blurred = gaussian_blur(unit[None])[0]
        # The reference truncates (`.byte()`) before the codec, and skips both at CRF 0.
        prepared.append(blurred if crf == 0 else (blurred * 255.0).astype(np.uint8))
    stacked = np.stack(prepared)
    return PreparedMedia(stacked if crf == 0 else crf_compress(stacked, crf))


def trim_sequence_length(start_frame: int, frames: int, target_frames: int) -> int:
    """Longest 8k+1 length of a conditioning sequence that fits from `start_frame`."""
    available = min(frames, target_frames - start_frame)
    return (available - 1) // 8 * 8 + 1


def load_item_frames(item: ConditioningItem, target_frames: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """The item's source frames (uint8), video ones trimmed to a valid length.

    `size` (height, width) of the clip lets an image file be reduced while it is decoded.
    """
    if item.frames is not None:
        frames = np.asarray(item.frames, dtype=np.uint8)
    elif item.kind == "image":
        cover = None if size is None else (size[1] * IMAGE_DECODE_MARGIN, size[0] * IMAGE_DECODE_MARGIN)
        frames = decode_image(item.path, cover)[None]
    else:
        frames = read_frames(item.path, item.source_start, item.source_count)
    if frames.shape[0] > 1:
        length = trim_sequence_length(item.frame, frames.shape[0], target_frames)
        if length < 1:
            raise InvalidRequest(
                f"The video '{item.path}' placed at frame {item.frame} has no room in a {target_frames}-frame clip."
            )
        if length != frames.shape[0]:
            logger.info("conditioning video trimmed from %d to %d frames", frames.shape[0], length)
        frames = frames[:length]
    return frames


def prepare_item(item: ConditioningItem, height: int, width: int, target_frames: int) -> PreparedMedia:
    """An item's frames loaded, trimmed and prepared for a `width`x`height` clip of `target_frames`."""
    return prepare_frames(load_item_frames(item, target_frames, (height, width)), height, width)
