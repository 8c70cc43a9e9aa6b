"""The LTX-2 video decode stage hands MLX's buffer cache back once the CPU has read its frames."""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ltx_mlx_core.pipeline.ltx2.decode_outputs import iter_decode_video
from ltx_mlx_core.pipeline.ltx2.generation import LTX2Settings
from ltx_mlx_core.pipeline.tiling import TilingConfig
from tests.core.test_ltx2_vae_tiling import _latents, _vae


def _drain(events):
    while True:
        try:
            next(events)
        except StopIteration as done:
            return done.value


def test_the_video_decode_leaves_no_cached_buffers_for_the_next_stage():
    vae = _vae("ltx23", off_centre=0.5)
    tiles = TilingConfig(spatial_tile=4, spatial_overlap=2, temporal_tile=3, temporal_overlap=1)
    latents = _latents()  # the caller's: alive after the stage, as the pipeline's are
    frames = _drain(iter_decode_video(vae, latents, LTX2Settings(tiling=tiles), seed=0))
    assert frames.dtype == np.uint8 and frames.shape[-1] == 3
    # Decoding four tiles leaves buffers behind in MLX's cache; the stage returns them.
    assert mx.get_cache_memory() == 0
