"""The LTX-2 family's latent upsamplers against ltx-core 1.0.0 (and diffusers 0.42's
`LTX2LatentUpsamplerModel` for its key layout), tiny random weights, CPU float32; and the
tiled upsampling against the untiled forward."""

from __future__ import annotations

import mlx.core as mx
import pytest
import torch

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler, LatentUpsamplerConfig
from ltx_mlx_core.models.ltx2.upsampler_keys import BLUR_KERNEL_KEY, sanitize_latent_upsampler
from ltx_mlx_core.pipeline.upsample_tiled import UpsampleTiling, iter_upsample_tiled, upsample_latents
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_vae_reference import (
    channels_first,
    channels_last,
    mlx_upsampler_from_file,
    reference_upsampler,
    write_upsampler_file,
)

TOLERANCE = 1e-4
# Tiled upsampling computes the untiled forward (GroupNorm statistics over the whole tensor),
# so only summation order differs: measured 1-3e-6 relative max error on these models.
TILED_TOLERANCE = 1e-5

_TINY = {"in_channels": 16, "mid_channels": 32, "num_blocks_per_stage": 2, "dims": 3}
VARIANTS = {
    # The x2 middles the reference has: pixel shuffle (`upsampler.0`) or the rational resampler at 2/1.
    "spatial-x2": {**_TINY},
    "spatial-x2-rational": {**_TINY, "rational_resampler": True, "spatial_scale": 2.0},
    "spatial-x1.5": {**_TINY, "rational_resampler": True, "spatial_scale": 1.5},
    "temporal-x2": {**_TINY, "spatial_upsample": False, "temporal_upsample": True},
    "spatiotemporal-x2": {**_TINY, "temporal_upsample": True},
    "per-frame-x2": {**_TINY, "dims": 2},
}
EXPECTED_SHAPES = {
    "spatial-x2": (1, 3, 10, 14, 16),
    "spatial-x2-rational": (1, 3, 10, 14, 16),
    "spatial-x1.5": (1, 3, 8, 11, 16),
    "temporal-x2": (1, 5, 5, 7, 16),
    "spatiotemporal-x2": (1, 5, 10, 14, 16),
    "per-frame-x2": (1, 3, 10, 14, 16),
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def upsampler_pair(request, tmp_path_factory):
    """(variant, ltx-core upsampler, ours read back from the upsampler's own file and config metadata)."""
    config = VARIANTS[request.param]
    reference = reference_upsampler(config, seed=2)
    path = write_upsampler_file(reference, config, tmp_path_factory.mktemp("upsampler") / "up.safetensors")
    return request.param, reference, mlx_upsampler_from_file(path)


def test_upsampler_matches_reference(upsampler_pair):
    variant, reference, ours = upsampler_pair
    latents = torch.randn(1, 16, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(latents)
    upsampled = ours(channels_last(latents))
    error = relative_max_error(channels_first(upsampled), expected)
    print(f"{variant} upsampler relative max error {error:.2e}")
    assert tuple(upsampled.shape) == EXPECTED_SHAPES[variant]
    assert error <= TOLERANCE


def test_tiled_upsampling_matches_untiled(upsampler_pair):
    variant, _, ours = upsampler_pair
    latents = mx.random.normal((1, 3, 11, 13, 16), key=mx.random.key(4))
    untiled = ours(latents)
    steps = list(iter_upsample_tiled(ours, latents, UpsampleTiling(tile=4)))
    for step in steps:
        mx.eval(*step.pending)
    tiled = steps[-1].result
    error = relative_max_error(tiled, untiled)
    print(f"{variant} tiled (4-latent tiles, {steps[-1].count} steps) vs untiled relative max error {error:.2e}")
    assert steps[-1].index == steps[-1].count and tiled.shape == untiled.shape
    assert error <= TILED_TOLERANCE


@pytest.mark.parametrize("rational", [True, False])
def test_diffusers_upsampler_layout_matches_diffusers(rational):
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    from tests.parity.vae_helpers import randomize_

    torch.manual_seed(0)
    reference = LTX2LatentUpsamplerModel(
        in_channels=16,
        mid_channels=32,
        num_blocks_per_stage=1,
        use_rational_resampler=rational,
        rational_spatial_scale=2.0,
    )
    randomize_(reference, 1)
    reference.eval()
    ours = LatentUpsampler(LatentUpsamplerConfig.from_dict(dict(reference.config)))
    weights = {k: mx.array(v.numpy()) for k, v in reference.state_dict().items()}
    ours.load_weights(list(sanitize_latent_upsampler(weights).items()), strict=True)
    latents = torch.randn(1, 16, 2, 4, 5, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference(latents)
    error = relative_max_error(channels_first(ours(channels_last(latents))), expected)
    print(f"diffusers LTX2LatentUpsamplerModel (rational={rational}) relative max error {error:.2e}")
    assert error <= TOLERANCE


def test_unknown_upsampler_keys_fail_loudly():
    with pytest.raises(CheckpointError, match="unknown key"):
        sanitize_latent_upsampler({"upsampler.1.weight": mx.zeros((4, 4, 3, 3))})


def test_a_blur_kernel_other_than_the_binomial_one_is_refused():
    with pytest.raises(CheckpointError, match="binomial"):
        sanitize_latent_upsampler({BLUR_KERNEL_KEY: mx.ones((1, 1, 5, 5))})


def test_a_latent_that_fits_one_tile_is_upsampled_by_one_untiled_call():
    ours = LatentUpsampler(LatentUpsamplerConfig.from_dict(VARIANTS["spatial-x1.5"]))
    latents = mx.random.normal((1, 2, 6, 6, 16), key=mx.random.key(0))
    steps = list(iter_upsample_tiled(ours, latents, UpsampleTiling(tile=8)))
    assert len(steps) == 1
    assert mx.array_equal(upsample_latents(ours, latents, UpsampleTiling(tile=8)), ours(latents)).item()
