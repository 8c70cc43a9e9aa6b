"""Tiled latent upsampling: the tile plan keeps output latents whole, memory is bounded by the tile."""

from __future__ import annotations

import mlx.core as mx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler, LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.upsampler_tiled import tiled_forward_steps
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.pipeline.events import StageStarted
from ltx_mlx_core.pipeline.ltx2.stages import LTX2Latents, MediaModels, StageFinished, iter_upsample
from ltx_mlx_core.pipeline.upsample_tiled import (
    UpsampleTiling,
    iter_upsample_tiled,
    plan_upsample_spans,
    upsample_latents,
)
from ltx_mlx_core.weights.tiny_ltx2 import LTX2ModelShapes


@given(length=st.integers(1, 80), tile=st.integers(1, 24), down=st.sampled_from([1, 2, 4]))
def test_upsample_spans_partition_the_axis_on_whole_output_latents(length, tile, down):
    spans = plan_upsample_spans(length, tile, down)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(end == next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    assert all(start % down == 0 for start, _ in spans)
    assert all(0 < end - start <= max(tile, down) for start, end in spans)


def test_the_tiled_forward_yields_as_many_steps_as_announced():
    config = LatentUpsamplerConfig(in_channels=16, mid_channels=32, num_blocks_per_stage=2, dims=2)
    upsampler = LatentUpsampler(config)
    latents = mx.random.normal((1, 2, 6, 5, 16), key=mx.random.key(0))
    steps = list(iter_upsample_tiled(upsampler, latents, UpsampleTiling(tile=3)))
    assert steps[-1].count == len(steps) == tiled_forward_steps(upsampler, 4)
    assert steps[-1].result is not None and steps[-1].result.shape == (1, 2, 12, 10, 16)


def _peak_bytes(run) -> int:
    """The peak above what was allocated before `run` (arrays earlier tests keep, e.g. in caches)."""
    mx.clear_cache()
    mx.reset_peak_memory()
    before = mx.get_active_memory()
    run()
    return mx.get_peak_memory() - before


@pytest.mark.parametrize("scale", [2.0, 1.5])
def test_tiled_upsampling_peak_memory_is_a_fraction_of_untiled(scale):
    """Measured on CPU, 2 x 16 x 24 latents in 8-latent tiles (2 x 3 tiles): 0.11x the untiled
    peak for x2 (4.2 against 39.3 MiB), 0.12x for x1.5 (2.9 against 23.5 MiB). The untiled peak
    is the convolutions' working memory over the whole tensor; tiles bound it by the tile."""
    config = LatentUpsamplerConfig(
        in_channels=16, mid_channels=32, num_blocks_per_stage=1, rational_resampler=scale != 2.0, spatial_scale=scale
    )
    upsampler = LatentUpsampler(config)
    latents = mx.random.normal((1, 2, 16, 24, 16), key=mx.random.key(1))
    mx.eval(upsampler.parameters(), latents)
    untiled = _peak_bytes(lambda: mx.eval(upsampler(latents)))
    tiled = _peak_bytes(lambda: upsample_latents(upsampler, latents, UpsampleTiling(tile=8)))
    print(
        f"x{scale} upsampling peak memory: untiled {untiled / 2**20:.1f} MiB, tiled {tiled / 2**20:.1f} MiB, "
        f"ratio {tiled / untiled:.2f}"
    )
    assert tiled < 0.25 * untiled


class _Recording(LatentUpsampler):
    def __call__(self, latents):
        self.seen = latents.dtype
        return super().__call__(latents)


def test_the_upsample_stage_feeds_the_upsampler_its_own_dtype_and_keeps_the_latents_dtype():
    # A float32 input would promote every bf16 convolution to float32 (a copy of each weight).

    upsampler = _Recording(LatentUpsamplerConfig(in_channels=128, mid_channels=32, num_blocks_per_stage=1, dims=3))
    upsampler.set_dtype(mx.bfloat16)
    vae = VideoAutoencoder(VideoVAEConfig.from_dict(dict(LTX2ModelShapes().vae, latent_channels=128)))
    latents = mx.random.normal((1, 2, 3, 4, 128), key=mx.random.key(1))
    events = list(iter_upsample(LTX2Latents(latents, None), MediaModels(lambda: vae, lambda: upsampler), 1, 1))
    assert isinstance(events[0], StageStarted) and isinstance(events[-1], StageFinished)
    assert upsampler.seen == mx.bfloat16
    assert events[-1].latents.video.dtype == mx.float32
    assert events[-1].latents.video.shape == (1, 2, 6, 8, 128)
