"""Bad input files the refusal tests share: one of each kind issue 22 lists, made by the tests."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from ltx_mlx_core.video.io import write_video


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG that declares a size and holds no pixels: enough for a decoder to judge its size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    return path


def write_bad_media(folder: Path) -> dict[str, Path]:
    """{file name: path}: corrupt, empty, truncated and audio-only MP4s, a text file named .png, a 1x1 PNG."""
    good = write_video(folder / "good.mp4", np.full((33, 64, 64, 3), 90, np.uint8), fps=24, preset="ultrafast")
    made = {name: folder / name for name in ("corrupt.mp4", "empty.mp4", "truncated.mp4", "audio-only.mp4")}
    made["corrupt.mp4"].write_bytes(np.random.default_rng(1).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    made["empty.mp4"].write_bytes(b"")
    made["truncated.mp4"].write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=1"]
    subprocess.run([*command, "-c:a", "aac", str(made["audio-only.mp4"])], check=True)
    made["text.png"] = folder / "text.png"
    made["text.png"].write_text("not a picture")
    made["tiny.png"] = folder / "tiny.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(made["tiny.png"])
    return made
