"""Conditioning media → pixels the VAE encodes, prepared as the reference CLI prepares them.

Each image (or video frame) is centre-cropped to the target aspect, resized to
the target size, blurred with a 3x3 Gaussian (sigma 1), passed through a libx264
encode at CRF 29 (so conditioning frames carry the same compression artefacts the
model saw in training) and mapped to [-1, 1]. Videos are trimmed to a valid
8k+1 length that fits in the clip from their start frame.
"""
from __future__ import annotations

import logging
import os
import tempfile
from typing import Optional

import imageio_ffmpeg
import mlx.core as mx
import numpy as np
from PIL import Image

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.request import ConditioningItem

logger = logging.getLogger(__name__)

CONDITIONING_CRF = 29
_BLUR = np.exp(-(np.array([-1.0, 0.0, 1.0]) ** 2) / 2.0)
_BLUR = (_BLUR / _BLUR.sum()).astype(np.float32)


def resize_and_crop(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre-crop to width:height, then resize (PIL's default filter, as the reference)."""
    image = Image.fromarray(frame)
    in_w, in_h = image.size
    if in_w / in_h > width / height:
        new_w, new_h = int(in_h * width / height), in_h
    else:
        new_w, new_h = in_w, int(in_w / (width / height))
    left, top = (in_w - new_w) // 2, (in_h - new_h) // 2
    image = image.crop((left, top, left + new_w, top + new_h)).resize((width, height))
    return np.asarray(image.convert("RGB"))


def gaussian_blur(frames: np.ndarray) -> np.ndarray:
    """3x3 Gaussian, sigma 1, reflect padding; frames float [F, H, W, 3] in [0, 1]."""
    padded = np.pad(frames, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    rows = sum(_BLUR[i] * padded[:, i : i + frames.shape[1], :, :] for i in range(3))
    return sum(_BLUR[i] * rows[:, :, i : i + frames.shape[2], :] for i in range(3)).astype(np.float32)


def crf_compress(frames: np.ndarray, crf: int = CONDITIONING_CRF) -> np.ndarray:
    """Each frame through an intra-only libx264 encode and back (uint8 [F, H, W, 3])."""
    if crf == 0:
        return frames
    count, height, width = frames.shape[:3]
    even = frames[:, : height // 2 * 2, : width // 2 * 2]
    handle, path = tempfile.mkstemp(suffix=".mp4")
    os.close(handle)
    try:
        writer = imageio_ffmpeg.write_frames(
            path, (even.shape[2], even.shape[1]), fps=1, codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=None, macro_block_size=1,
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
    out = frames.copy()
    out[:, : even.shape[1], : even.shape[2]] = np.stack(decoded[:count])
    return out


def prepare_frames(frames: np.ndarray, height: int, width: int) -> mx.array:
    """uint8 [F, h, w, 3] → float32 [1, F, height, width, 3] in [-1, 1], as the reference prepares them."""
    resized = np.stack([resize_and_crop(f, height, width) for f in frames]).astype(np.float32) / 255.0
    blurred = gaussian_blur(resized)
    compressed = crf_compress((blurred * 255.0).astype(np.uint8))  # the reference truncates, as .byte() does
    pixels = compressed.astype(np.float32) / 127.5 - 1.0
    return mx.array(pixels[None])


def trim_sequence_length(start_frame: int, frames: int, target_frames: int) -> int:
    """Longest 8k+1 length of a conditioning sequence that fits from `start_frame`."""
    available = min(frames, target_frames - start_frame)
    return (available - 1) // 8 * 8 + 1


def load_item_frames(item: ConditioningItem, target_frames: int) -> np.ndarray:
    """The item's source frames (uint8), video ones trimmed to a valid length."""
    if item.frames is not None:
        frames = np.asarray(item.frames, dtype=np.uint8)
    elif item.kind == "image":
        frames = np.asarray(Image.open(item.path).convert("RGB"))[None]
    else:
        from ltx_mlx_core.video.io import read_frames

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


def prepare_item(item: ConditioningItem, height: int, width: int, target_frames: int,
                 frames: Optional[np.ndarray] = None) -> mx.array:
    source = frames if frames is not None else load_item_frames(item, target_frames)
    return prepare_frames(source, height, width)
