"""Video files in and out: H.264 (libx264, yuv420p) or ProRes 422, with sound, through the ffmpeg
that imageio-ffmpeg ships.

Frames are numpy uint8 [F, H, W, 3]; sound is float32 PCM [samples, channels] (see video/audio.py),
written first to a hidden raw file beside the target that ffmpeg muxes in (AAC beside H.264, ALAC
beside ProRes). A write goes through the one atomic writer (video/atomic.py): ffmpeg encodes into
a hidden temporary file beside the target; only when ffmpeg exited 0 and the one media probe
(video/probe.py) reads the file back with every frame (and its sound track, when it was given one)
does it replace the target. A failed, cancelled or interrupted write leaves the target as it was
and no temporary file behind.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from ltx_mlx_core.errors import InvalidRequest, OutputWriteError
from ltx_mlx_core.video.atomic import replacing, temp_path_for, write_failure_message
from ltx_mlx_core.video.audio import MIX_RATE
from ltx_mlx_core.video.encoder import AudioInput, EncoderFailed, VideoEncoder
from ltx_mlx_core.video.outputs import check_codec, container_for
from ltx_mlx_core.video.probe import MediaUnreadable, VideoError, probe_media

logger = logging.getLogger(__name__)

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)

__all__ = [
    "VideoError",
    "VideoInfo",
    "VideoWriteCancelled",
    "VideoWriteError",
    "X264_PRESETS",
    "check_encodable",
    "check_encoder_settings",
    "iter_frames",
    "probe_video",
    "read_frames",
    "read_video",
    "write_video",
]


class VideoWriteError(VideoError, OutputWriteError):
    """The encoder failed or wrote a file that does not play back; the target was left as it was."""


class VideoWriteCancelled(VideoError):
    """The caller cancelled a write; the target file was left as it was."""


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
    """Frame count (exact), fps, size, codec and pixel format of a video file (see video/probe.py)."""
    info = probe_media(path)
    return VideoInfo(
        frames=info.frames, fps=info.fps, width=info.width, height=info.height, codec=info.codec, pix_fmt=info.pix_fmt
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


def check_encoder_settings(crf: int, preset: str, fps: float | None = None) -> None:
    """The encoder's settings, checked before any work (the CLI) and again by `write_video`."""
    if not 0 <= crf <= 51:
        raise InvalidRequest(f"CRF must be between 0 (lossless) and 51; got {crf}.")
    if preset not in X264_PRESETS:
        raise InvalidRequest(f"x264 preset must be one of {', '.join(X264_PRESETS)}; got '{preset}'.")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InvalidRequest(f"fps must be a positive number; got {fps}.")


def _check_written(temp: Path, target: Path, written: int, existed: bool, with_sound: bool = False) -> None:
    """The file ffmpeg wrote must read back with every frame (and its sound) before it may replace anything."""
    try:
        info = probe_media(temp)
    except MediaUnreadable as error:
        reason = f"the encoded file does not play back ({error.reason})"
        raise VideoWriteError(write_failure_message(target, reason, existed)) from None
    if info.frames != written:
        reason = f"the encoded file holds {info.frames} of its {written} frames"
        raise VideoWriteError(write_failure_message(target, reason, existed))
    if with_sound and info.audio_codec is None:
        raise VideoWriteError(write_failure_message(target, "the encoded file lost its sound track", existed))


def _write_pcm(path: Path, audio: np.ndarray | Iterable[np.ndarray]) -> int:
    """Float32 PCM chunks [n, channels] (or mono [n]) into a raw file; returns the channel count."""
    channels = 0
    samples = 0
    with open(path, "wb") as out:
        for chunk in [audio] if isinstance(audio, np.ndarray) else audio:
            chunk = np.asarray(chunk, dtype=np.float32)
            chunk = chunk[:, None] if chunk.ndim == 1 else chunk
            if chunk.ndim != 2 or chunk.shape[1] not in (1, 2) or (channels and chunk.shape[1] != channels):
                raise InvalidRequest(f"Sound must be [samples, 1 or 2 channels] throughout; got {chunk.shape}.")
            channels = chunk.shape[1]
            samples += len(chunk)
            # Past full scale a decoder wraps or clips harshly; limit here, once.
            out.write(np.ascontiguousarray(np.clip(np.nan_to_num(chunk), -1.0, 1.0)).tobytes())
    if not samples:
        raise InvalidRequest("The sound track to write is empty.")
    return channels


def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    crf: int = 18,
    preset: str = "medium",
    on_frame: Callable[[int], bool] | None = None,
    audio: np.ndarray | Iterable[np.ndarray] | None = None,
    audio_rate: int = MIX_RATE,
    codec: str = "h264",
) -> Path:
    """Encode uint8 frames to H.264 (or ProRes 422 in a .mov) in the container the suffix names
    (.mp4, .m4v, .mov, .mkv), atomically, with `audio` as its sound track when given.

    `frames` is an array [F, H, W, 3] or an iterable of [H, W, 3] frames (so long
    videos stream). `audio` is float32 PCM at `audio_rate`, an array [samples, channels]
    or an iterable of such chunks; it is written out before the first frame is encoded.
    `on_frame(i)` is called after each frame; returning False cancels
    (`VideoWriteCancelled`). A failed encode raises `VideoWriteError`, a failed file
    operation `OutputWriteError`; in every case the target is unchanged.
    """
    path = Path(path)
    container = container_for(path)
    check_codec(path, codec)
    check_encoder_settings(crf, preset, fps)
    existed = path.exists()
    pcm = temp_path_for(path.with_name(f"{path.name}.pcm")) if audio is not None else None
    with replacing(path) as (temp,):
        encoder: VideoEncoder | None = None
        written = 0
        try:
            sound = AudioInput(pcm, audio_rate, _write_pcm(pcm, audio)) if pcm is not None else None
            for frame in frames:
                frame = np.ascontiguousarray(frame, dtype=np.uint8)
                if frame.ndim != 3 or frame.shape[2] != 3:
                    raise InvalidRequest(f"Frames must be [H, W, 3] RGB; got {frame.shape}.")
                if encoder is None:
                    height, width = frame.shape[:2]
                    check_encodable(width, height)
                    encoder = VideoEncoder(temp, width, height, fps, container, crf, preset, codec, sound)
                encoder.write(frame)
                written += 1
                if on_frame is not None and on_frame(written) is False:
                    raise VideoWriteCancelled(f"Writing '{path.name}' was cancelled; nothing was saved.")
            if encoder is None:
                raise InvalidRequest("There are no frames to write.")
            encoder.finish()
        except EncoderFailed as failure:
            raise VideoWriteError(write_failure_message(path, failure.reason, existed)) from None
        finally:
            if encoder is not None:
                encoder.abort()
            if pcm is not None:
                pcm.unlink(missing_ok=True)
        _check_written(temp, path, written, existed, with_sound=audio is not None)
    logger.info(
        "wrote %s (%d frames at %.3f fps, %s%s)",
        path,
        written,
        fps,
        codec if codec != "h264" else f"crf {crf}",
        ", with sound" if audio is not None else "",
    )
    return path
