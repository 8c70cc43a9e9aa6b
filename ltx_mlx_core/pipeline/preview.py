"""Cheap live previews: latents -> small RGB frames by a fixed linear map.

Each latent pixel stands for a 32x32 pixel block (8 frames in time), and its
128 channels decode, to a first approximation, linearly to the block's mean
colour. We fit that 128 -> 3 map (plus bias) by least squares on one small
decode of random latents through the model's own VAE, once per VAE, and cache
it. Projecting a step's latents then costs one small matmul, no decoder run.
The map is applied to the normalised latents the transformer works on.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_mlx_core.paths import cache_dir

log = logging.getLogger(__name__)

# Ridge term keeps the fit stable when channels are nearly collinear.
_RIDGE = 1e-3
_FIT_SEED = 1234


@dataclass(frozen=True)
class LatentProjection:
    """rgb = latents @ matrix + bias, with rgb in [-1, 1] like decoded pixels."""

    matrix: np.ndarray  # [C, 3] float32
    bias: np.ndarray  # [3] float32

    def to_rgb_frames(self, latents: mx.array, max_side: int = 256) -> np.ndarray:
        """uint8 [F', H', W', 3] preview of batch item 0 of latents [B, F', H', W', C].

        Frames come at latent resolution, enlarged by whole pixels while the
        longer side stays within `max_side` (nearest neighbour: cheap and honest).
        """
        first = latents[0].astype(mx.float32)
        rgb = first @ mx.array(self.matrix) + mx.array(self.bias)
        frames = np.array(mx.clip((rgb + 1.0) * 127.5, 0, 255).astype(mx.uint8))
        longest = max(frames.shape[1], frames.shape[2])
        factor = max(1, max_side // max(1, longest))
        if factor > 1:
            frames = frames.repeat(factor, axis=1).repeat(factor, axis=2)
        return frames


def fit_latent_projection(vae, decode_timestep: float | None = None) -> LatentProjection:
    """Least-squares 128 -> 3 map from normalised latents to their decoded block colours.

    Decodes one frame of random normal latents (a square grid with more latent
    pixels than unknowns) and regresses each 32x32 block's mean colour on the
    latent vector at that place.
    """
    channels = vae.config.latent_channels
    # About twice as many samples as unknowns, so the fit does not chase noise.
    side = math.isqrt(2 * (channels + 1)) + 2
    key = mx.random.key(_FIT_SEED)
    normalized = mx.random.normal((1, 1, side, side, channels), key=key)
    timestep = decode_timestep if vae.config.timestep_conditioning else None
    pixels = vae.decode(vae.denormalize_latents(normalized), timestep=timestep)
    mx.eval(pixels)
    block = vae.spatial_compression
    first_frame = np.array(pixels[0, 0].astype(mx.float32))  # [H, W, 3]
    block_means = first_frame.reshape(side, block, side, block, 3).mean(axis=(1, 3)).reshape(-1, 3)
    features = np.array(normalized.reshape(-1, channels).astype(mx.float32))
    design = np.concatenate([features, np.ones((features.shape[0], 1), np.float32)], axis=1)
    gram = design.T @ design + _RIDGE * np.eye(design.shape[1], dtype=np.float32)
    solution = np.linalg.solve(gram, design.T @ block_means).astype(np.float32)
    return LatentProjection(matrix=solution[:-1], bias=solution[-1])


def projection_cache_key(*parts: object) -> str:
    """A file-name-safe key for the VAE a projection was fitted on (e.g. path, size, mtime)."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]


def load_or_fit_projection(vae, cache_key: str, decode_timestep: float | None = None) -> LatentProjection:
    """The cached projection for this VAE, fitted and stored on first use."""
    path: Path = cache_dir() / "previews" / f"{cache_key}.npz"
    if path.is_file():
        try:
            with np.load(path) as data:
                return LatentProjection(matrix=data["matrix"], bias=data["bias"])
        except (OSError, ValueError, KeyError):
            log.warning("Refitting unreadable preview projection %s", path)
    # One small decode: about a second on a GPU, minutes for the full-size VAE on a 2-core CPU.
    log.info("Fitting the live-preview colours of this VAE (once; cached in %s)", path.parent)
    projection = fit_latent_projection(vae, decode_timestep)
    tmp = path.with_suffix(".tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, matrix=projection.matrix, bias=projection.bias)
        tmp.replace(path)
    except OSError as error:
        # A cache that cannot be written (read-only or full disk) costs a refit next time, not the run.
        log.warning("Could not cache the preview projection in %s (%s)", path.parent, error.strerror or error)
        if tmp.exists():
            tmp.unlink()
        return projection
    log.debug("Fitted latent preview projection, cached at %s", path)
    return projection


def to_uint8_frames(pixels: mx.array) -> np.ndarray:
    """[..., 3] in about [-1, 1] -> uint8 (what users and files get)."""
    return np.array(mx.clip((pixels.astype(mx.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(mx.uint8))


def decoded_preview(frames: np.ndarray, count: int, max_side: int) -> np.ndarray:
    """The first `count` decoded frames, shrunk by whole-pixel striding to fit `max_side`."""
    first = frames[:count]
    stride = max(1, -(-max(first.shape[1], first.shape[2]) // max_side))
    return np.ascontiguousarray(first[:, ::stride, ::stride])
