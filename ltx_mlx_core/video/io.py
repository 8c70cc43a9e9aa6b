"""Video files in and out: MP4 (libx264, yuv420p) through the ffmpeg that imageio-ffmpeg ships.

Frames are numpy uint8 [F, H, W, 3]. Writes are atomic: the encoder writes a
temporary file beside the target and it is renamed over the target only once
ffmpeg has finished, so a failed or cancelled write never leaves a half file
where a video is expected.
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import imageio_ffmpeg
import numpy as np

from ltx_mlx_core.errors import InvalidRequest, LtxMlxError

logger = logging.getLogger(__name__)

X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)


class VideoError(LtxMlxError):
    """A video file could not be read or written."""


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    width: int
    height: int
    codec: str
    pix_fmt: str

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


def _open_reader(path: Path) -> tuple[Iterator[bytes], dict]:
    if not Path(path).is_file():
        raise VideoError(f"Video file '{path}' does not exist.")
    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as error:
        raise VideoError(f"'{path}' is not a video ffmpeg can read: {error}") from None
    return reader, meta


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count (decoded, exact), fps, size, codec and pixel format of a video file."""
    reader, meta = _open_reader(Path(path))
    reader.close()
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    codec = str(meta.get("codec", "")).split()[0] if meta.get("codec") else ""
    width, height = meta["size"]
    return VideoInfo(
        frames=int(frames),
        fps=float(meta.get("fps") or 0.0),
        width=int(width),
        height=int(height),
        codec=codec,
        pix_fmt=str(meta.get("pix_fmt", "")).split("(")[0].strip(),
    )


def iter_frames(path: str | Path, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Decode frames [start, start+count) one at a time as uint8 [H, W, 3]."""
    reader, meta = _open_reader(Path(path))
    width, height = meta["size"]
    try:
        for index, raw in enumerate(reader):
            if index < start:
                continue
            if count is not None and index >= start + count:
                break
            yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
    finally:
        reader.close()


def read_frames(path: str | Path, start: int = 0, count: int | None = None) -> np.ndarray:
    """Frames [start, start+count) as uint8 [F, H, W, 3]; negative `start` counts from the end."""
    if start < 0:
        start = max(0, probe_video(path).frames + start)
    frames = list(iter_frames(path, start, count))
    if not frames:
        raise VideoError(f"'{path}' has no frames from index {start}.")
    return np.stack(frames)


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames uint8 [F, H, W, 3] and the frame rate."""
    reader, meta = _open_reader(Path(path))
    reader.close()
    return read_frames(path), float(meta.get("fps") or 0.0)


def check_encodable(width: int, height: int) -> None:
    if width % 2 or height % 2:
        raise InvalidRequest(
            f"Videos are written as yuv420p, which needs even sizes; got {width}x{height}. "
            f"Crop or resize to {width - width % 2}x{height - height % 2}."
        )


def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    crf: int = 18,
    preset: str = "medium",
    on_frame: Callable[[int], bool] | None = None,
) -> Path:
    """Encode uint8 frames to an H.264 MP4 (yuv420p, exact fps), atomically.

    `frames` is an array [F, H, W, 3] or an iterable of [H, W, 3] frames (so long
    videos stream). `on_frame(i)` is called after each frame; returning False
    cancels: the temporary file is removed and nothing is written at `path`.
    """
    path = Path(path)
    if not 0 <= crf <= 51:
        raise InvalidRequest(f"CRF must be between 0 (lossless) and 51; got {crf}.")
    if preset not in X264_PRESETS:
        raise InvalidRequest(f"x264 preset must be one of {', '.join(X264_PRESETS)}; got '{preset}'.")
    if fps <= 0:
        raise InvalidRequest(f"fps must be positive; got {fps}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix or ".mp4", dir=path.parent)
    os.close(handle)
    writer = None
    written = 0
    try:
        for frame in frames:
            frame = np.ascontiguousarray(frame, dtype=np.uint8)
            if frame.ndim != 3 or frame.shape[2] != 3:
                raise InvalidRequest(f"Frames must be [H, W, 3] RGB; got {frame.shape}.")
            if writer is None:
                height, width = frame.shape[:2]
                check_encodable(width, height)
                writer = imageio_ffmpeg.write_frames(
                    temp_name, (width, height), fps=fps, codec="libx264", pix_fmt_in="rgb24",
                    pix_fmt_out="yuv420p", quality=None, macro_block_size=1,
                    output_params=["-crf", str(crf), "-preset", preset, "-movflags", "+faststart"],
                )
                writer.send(None)
            writer.send(frame)
            written += 1
            if on_frame is not None and on_frame(written) is False:
                raise _Cancelled()
        if writer is None:
            raise InvalidRequest("There are no frames to write.")
        writer.close()
        writer = None
        os.replace(temp_name, path)
        logger.info("wrote %s (%d frames at %.3f fps, crf %d)", path, written, fps, crf)
        return path
    except _Cancelled:
        raise VideoWriteCancelled(f"Writing '{path.name}' was cancelled; nothing was saved.") from None
    finally:
        if writer is not None:
            try:
                writer.close()
            except (OSError, RuntimeError):
                logger.debug("ffmpeg writer for %s did not close cleanly", temp_name)
        if os.path.exists(temp_name):
            os.remove(temp_name)


class _Cancelled(Exception):
    pass


class VideoWriteCancelled(VideoError):
    """The caller cancelled a write; the target file was left as it was."""
