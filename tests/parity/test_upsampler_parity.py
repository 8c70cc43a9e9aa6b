"""Latent upsampler and the multi-scale latent filters against the reference."""

from __future__ import annotations

import json

import mlx.core as mx
import pytest
import torch
from safetensors.torch import save_file

from ltx_mlx_core.models.ltxv.latent_filters import adain_filter_latent, tone_map_latents
from ltx_mlx_core.models.ltxv.upsampler import (
    LTXV_098_UPSAMPLER_CONFIG,
    LatentUpsampler,
    UpsamplerConfig,
    upsample_normalized_latents,
)
from ltx_mlx_core.models.ltxv.upsampler_keys import sanitize_upsampler, to_official_upsampler
from tests.parity.conftest import relative_max_error, torch_to_mlx
from tests.parity.vae_helpers import (
    TINY_UPSAMPLER_CONFIG,
    mlx_vae_from_reference,
    reference_upsampler,
    reference_vae,
    tiny_vae_config,
    to_channels_first,
    to_channels_last,
)

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def upsampler_pair(tmp_path_factory):
    """The reference upsampler written as an official upscaler file and read back with MLX."""
    reference = reference_upsampler(TINY_UPSAMPLER_CONFIG, seed=2)
    path = tmp_path_factory.mktemp("upsampler") / "ltxv-spatial-upscaler-tiny.safetensors"
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    save_file(state, str(path), metadata={"config": json.dumps(TINY_UPSAMPLER_CONFIG)})
    weights, metadata = mx.load(str(path), return_metadata=True)
    ours = LatentUpsampler(UpsamplerConfig.from_dict(json.loads(metadata["config"])))
    ours.load_weights(list(sanitize_upsampler(weights).items()), strict=True)
    return reference, ours


def test_upsampler_matches_reference(upsampler_pair):
    reference, ours = upsampler_pair
    latents = torch.randn(2, 16, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(latents)
    upsampled = ours(to_channels_last(latents))
    error = relative_max_error(to_channels_first(upsampled), expected)
    print(f"upsampler relative max error {error:.2e}")
    assert upsampled.shape == (2, 3, 8, 10, 16)
    assert error <= TOLERANCE


def test_per_frame_2d_upsampler_matches_reference():
    config = {**TINY_UPSAMPLER_CONFIG, "dims": 2}
    reference = reference_upsampler(config, seed=6)
    ours = LatentUpsampler(UpsamplerConfig.from_dict(config))
    state = {k: torch_to_mlx(v) for k, v in reference.state_dict().items()}
    ours.load_weights(list(sanitize_upsampler(state).items()), strict=True)
    latents = torch.randn(1, 16, 2, 3, 3, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = reference(latents)
    assert relative_max_error(to_channels_first(ours(to_channels_last(latents))), expected) <= TOLERANCE


def test_098_upsampler_preset_has_the_reference_parameter_shapes():
    from ltx_video.models.autoencoders.latent_upsampler import LatentUpsampler as TorchUpsampler
    from mlx.utils import tree_flatten

    with torch.device("meta"):
        reference = TorchUpsampler.from_config(dict(LTXV_098_UPSAMPLER_CONFIG))
    ours = LatentUpsampler(UpsamplerConfig.from_dict(LTXV_098_UPSAMPLER_CONFIG))
    official = to_official_upsampler(dict(tree_flatten(ours.parameters())))
    assert {k: tuple(v.shape) for k, v in official.items()} == {
        k: tuple(v.shape) for k, v in reference.state_dict().items()
    }


def test_upsampler_weights_round_trip_to_official_layout(upsampler_pair):
    reference, ours = upsampler_pair
    from mlx.utils import tree_flatten

    official = to_official_upsampler(dict(tree_flatten(ours.parameters())))
    for key, tensor in reference.state_dict().items():
        assert tuple(official[key].shape) == tuple(tensor.shape), key


def test_multiscale_upsample_step_matches_reference(upsampler_pair):
    """Un-normalise with the VAE statistics, upsample, re-normalise, then AdaIN to the first pass."""
    from ltx_video.pipelines.pipeline_ltx_video import LTXMultiScalePipeline
    from ltx_video.pipelines.pipeline_ltx_video import adain_filter_latent as reference_adain

    reference, ours = upsampler_pair
    config = tiny_vae_config()
    reference_vae_model = reference_vae(config, seed=4)
    vae = mlx_vae_from_reference(reference_vae_model, config)
    latents = torch.randn(1, 16, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    multiscale = LTXMultiScalePipeline.__new__(LTXMultiScalePipeline)
    multiscale.vae = reference_vae_model
    with torch.no_grad():
        expected = reference_adain(multiscale._upsample_latents(reference, latents), latents)
    mx_latents = to_channels_last(latents)
    ours_upsampled = adain_filter_latent(upsample_normalized_latents(ours, vae, mx_latents), mx_latents)
    assert relative_max_error(to_channels_first(ours_upsampled), expected) <= TOLERANCE


@pytest.mark.parametrize("factor", [1.0, 0.5, -2.0])
def test_adain_filter_matches_reference(factor):
    from ltx_video.pipelines.pipeline_ltx_video import adain_filter_latent as reference_adain

    generator = torch.Generator().manual_seed(3)
    latents = torch.randn(2, 8, 3, 4, 4, generator=generator) * 2 + 1
    reference_latents = torch.randn(2, 8, 3, 2, 2, generator=generator) * 0.5 - 1
    expected = reference_adain(latents, reference_latents, factor)
    ours = adain_filter_latent(to_channels_last(latents), to_channels_last(reference_latents), factor)
    error = relative_max_error(to_channels_first(ours), expected)
    print(f"adain (factor {factor}) relative max error {error:.2e}")
    assert error <= 1e-5


@pytest.mark.parametrize("compression", [0.0, 0.6, 1.0])
def test_tone_map_matches_reference(compression):
    from ltx_video.pipelines.pipeline_ltx_video import LTXVideoPipeline

    latents = torch.randn(1, 8, 2, 3, 3, generator=torch.Generator().manual_seed(4)) * 3
    expected = LTXVideoPipeline.tone_map_latents(latents, compression)
    ours = tone_map_latents(to_channels_last(latents), compression)
    error = relative_max_error(to_channels_first(ours), expected)
    print(f"tone map ({compression}) relative max error {error:.2e}")
    assert error <= 1e-6


def test_tone_map_rejects_compression_outside_unit_range():
    with pytest.raises(ValueError, match="between 0 and 1"):
        tone_map_latents(mx.zeros((1, 1, 1, 1, 4)), 1.5)
