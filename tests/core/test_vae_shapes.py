"""Shape checks with actionable messages, the 0.9.8 preset, and checkpoint key validation."""

from __future__ import annotations

import mlx.core as mx
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.models.ltxv.upsampler import LatentUpsampler, UpsamplerConfig, pixel_shuffle_2d
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder, VAEConfig, ltxv_098_vae_config
from ltx_mlx_core.models.ltxv.vae_keys import sanitize_official_vae, to_official_vae
from tests.parity.vae_helpers import tiny_vae_config


@pytest.fixture(scope="module")
def tiny_vae():
    return CausalVideoAutoencoder(VAEConfig.from_dict(tiny_vae_config()))


def test_encoder_rejects_frame_counts_that_are_not_8k_plus_1(tiny_vae):
    with pytest.raises(InvalidRequest, match="needs 8k\\+1 frames: use 9 or 17 frames"):
        tiny_vae.encode(mx.zeros((1, 12, 32, 32, 3)))


def test_encoder_rejects_sizes_that_are_not_multiples_of_32(tiny_vae):
    with pytest.raises(InvalidRequest, match="multiples of 32: use 64x32"):
        tiny_vae.encode(mx.zeros((1, 9, 40, 70, 3)))


def test_decoder_rejects_latents_with_the_wrong_channel_count(tiny_vae):
    with pytest.raises(InvalidRequest, match="16\\]; got shape"):
        tiny_vae.decode(mx.zeros((1, 2, 1, 1, 8)), timestep=0.05)


def test_timestep_conditioned_decoder_asks_for_a_timestep(tiny_vae):
    with pytest.raises(ValueError, match="pass a decode timestep"):
        tiny_vae.decode(mx.zeros((1, 1, 1, 1, 16)))


def test_pixel_shuffle_rejects_channels_not_divisible_by_factor_squared():
    with pytest.raises(InvalidRequest, match="divisible by 4; got 6 channels"):
        pixel_shuffle_2d(mx.zeros((1, 2, 2, 6)), 2)


def test_upsampler_rejects_mid_channels_incompatible_with_group_norm():
    with pytest.raises(ValueError, match="multiple of 32"):
        UpsamplerConfig(in_channels=8, mid_channels=40)


def test_upsampler_doubles_height_and_width_only():
    upsampler = LatentUpsampler(UpsamplerConfig(in_channels=8, mid_channels=32, num_blocks_per_stage=1))
    assert upsampler(mx.zeros((1, 3, 2, 5, 8))).shape == (1, 3, 4, 10, 8)


def test_098_preset_compresses_32x_in_space_and_8x_in_time_to_128_channels():
    config = ltxv_098_vae_config()
    assert (config.spatial_compression, config.temporal_compression, config.latent_channels) == (32, 8, 128)
    assert config.timestep_conditioning and not config.causal_decoder
    vae = CausalVideoAutoencoder(config)
    # Parameters are lazy: shapes are known without allocating the full model.
    shapes = dict((k, v.shape) for k, v in tree_flatten(vae.parameters()))
    assert shapes["decoder.conv_in.conv.weight"] == (1024, 3, 3, 3, 128)
    assert shapes["decoder.conv_out.conv.weight"] == (48, 3, 3, 3, 128)
    assert shapes["encoder.conv_out.conv.weight"] == (129, 3, 3, 3, 2048)
    assert shapes["decoder.up_blocks.0.res_blocks.4.scale_shift_table"] == (4, 1024)


def test_config_from_checkpoint_json_ignores_unknown_keys():
    config = VAEConfig.from_dict({**tiny_vae_config(), "_diffusers_version": "0.25", "scaling_factor": 1.0})
    assert config.to_dict()["encoder_blocks"] == tiny_vae_config()["encoder_blocks"]


def test_sanitize_round_trips_and_rejects_unknown_and_missing_keys(tiny_vae):
    ours = dict(tree_flatten(tiny_vae.parameters()))
    official = to_official_vae(ours)
    assert official["encoder.conv_in.conv.weight"].shape == (4, 48, 3, 3, 3)
    assert "per_channel_statistics.std-of-means" in official
    config = tiny_vae.config
    back = sanitize_official_vae(official, config=config)
    assert set(back) == set(ours)
    with pytest.raises(CheckpointError, match="'decoder.mystery.weight'"):
        sanitize_official_vae({**official, "decoder.mystery.weight": mx.zeros((1,))})
    missing = {k: v for k, v in official.items() if k != "decoder.last_scale_shift_table"}
    with pytest.raises(CheckpointError, match="lack 'decoder.last_scale_shift_table'"):
        sanitize_official_vae(missing, config=config)


def test_sanitize_drops_norm_weights_a_pixel_norm_model_does_not_have(tiny_vae):
    official = to_official_vae(dict(tree_flatten(tiny_vae.parameters())))
    official["decoder.conv_norm_out.weight"] = mx.ones((4,))
    assert "decoder.conv_norm_out.weight" not in sanitize_official_vae(official, config=tiny_vae.config)
