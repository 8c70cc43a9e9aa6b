"""The LTX-2 family's video VAE against ltx-core 1.0.0 (LTX-2 and 2.3 layouts) and diffusers 0.42
(`AutoencoderKLLTX2Video`, the diffusers key layout), on tiny random-weight models read from
official single-file checkpoints; CPU, float32."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.models.ltx2.video_vae_config import (
    DECODE_NOISE_SCALE,
    DECODE_TIMESTEP,
    LTX2_VIDEO_VAE_CONFIG,
    LTX23_VIDEO_VAE_CONFIG,
    VideoVAEConfig,
)
from ltx_mlx_core.models.ltx2.video_vae_keys import sanitize_diffusers_video_vae, sanitize_official_video_vae
from ltx_mlx_core.pipeline.decode import TilingConfig, encode_video
from ltx_mlx_core.pipeline.decode_stream import collect_frames, iter_decode_frames
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_vae_reference import (
    TINY_VAES,
    channels_first,
    channels_last,
    diffusers_video_vae,
    mlx_vae_from_diffusers,
    mlx_vae_from_file,
    official_state,
    reference_video_vae,
    write_official_vae,
)

TOLERANCE = 1e-4
GENERATIONS = ["ltx2", "ltx23"]


@pytest.fixture(scope="module", params=GENERATIONS)
def vae_pair(request, tmp_path_factory):
    """(generation, ltx-core encoder, ltx-core decoder, ours read back from an official single file)."""
    config = TINY_VAES[request.param]
    encoder, decoder = reference_video_vae(config, seed=3)
    path = write_official_vae(encoder, decoder, config, tmp_path_factory.mktemp("vae") / "tiny.safetensors")
    return request.param, encoder, decoder, mlx_vae_from_file(path)


def _video(seed: int, frames: int = 17, height: int = 64, width: int = 96) -> torch.Tensor:
    return torch.rand(1, 3, frames, height, width, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _latents(seed: int, shape=(1, 8, 3, 2, 3)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_encode_matches_reference(vae_pair):
    generation, encoder, _, ours = vae_pair
    video = _video(0)
    with torch.no_grad():
        expected = encoder(video)  # normalised posterior means
    latents = encode_video(ours, channels_last(video), tiling=TilingConfig.untiled())
    error = relative_max_error(channels_first(latents), expected)
    print(f"{generation} video encode relative max error {error:.2e}")
    assert latents.shape == (1, 3, 2, 3, 8)
    assert error <= TOLERANCE


def test_decode_matches_reference(vae_pair):
    generation, _, decoder, ours = vae_pair
    latents = _latents(1)
    conditioned = decoder.timestep_conditioning
    timestep = torch.tensor([0.3]) if conditioned else None
    decoder.decode_noise_scale = 0.0  # the decode noise is compared on its own below
    with torch.no_grad():
        expected = decoder(latents, timestep=timestep)
    steps = iter_decode_frames(
        ours, channels_last(latents), 0.3 if conditioned else None, 0.0, tiling=TilingConfig.untiled()
    )
    pixels = collect_frames(steps)
    error = relative_max_error(channels_first(pixels), expected)
    print(f"{generation} video decode relative max error {error:.2e}")
    assert pixels.shape == (1, 17, 64, 96, 3)
    assert error <= TOLERANCE


def test_decode_noise_is_mixed_in_as_the_reference_does():
    """A timestep-conditioned decoder mixes noise * 0.025 into the normalised latents and decodes at t=0.05."""
    encoder, decoder = reference_video_vae(TINY_VAES["ltx2"], seed=5)
    ours = VideoAutoencoder(VideoVAEConfig.from_dict(TINY_VAES["ltx2"]))
    ours.load_weights(
        list(
            sanitize_official_video_vae(
                {k: mx.array(v.numpy()) for k, v in official_state(encoder, decoder).items()}
            ).items()
        ),
        strict=True,
    )
    latents = _latents(2)
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        expected = decoder(latents, generator=torch.Generator().manual_seed(9))
    mixed = latents * (1 - DECODE_NOISE_SCALE) + noise * DECODE_NOISE_SCALE
    pixels = collect_frames(iter_decode_frames(ours, channels_last(mixed), DECODE_TIMESTEP, 0.0))
    assert relative_max_error(channels_first(pixels), expected) <= TOLERANCE


@pytest.mark.parametrize("generation", GENERATIONS)
def test_diffusers_layout_loads_and_matches_diffusers(generation):
    reference = diffusers_video_vae(generation, seed=4)
    ours = mlx_vae_from_diffusers(reference, generation)
    video, latents = _video(2, frames=9), _latents(3)
    conditioned = reference.config.timestep_conditioning
    timestep = torch.tensor([0.05]) if conditioned else None
    with torch.no_grad():
        expected_mean = reference.encode(video).latent_dist.mean
        expected_pixels = reference.decode(latents, temb=timestep).sample
    mean, _ = ours.encode_moments(channels_last(video))
    pixels = ours.decode(channels_last(latents), 0.05 if conditioned else None)
    encode_error = relative_max_error(channels_first(mean), expected_mean)
    decode_error = relative_max_error(channels_first(pixels), expected_pixels)
    print(f"{generation} diffusers layout: encode {encode_error:.2e}, decode {decode_error:.2e}")
    assert encode_error <= TOLERANCE and decode_error <= TOLERANCE
    stats = np.array(ours.mean_of_means), np.array(ours.std_of_means)
    np.testing.assert_array_equal(stats[0], reference.latents_mean.numpy())
    np.testing.assert_array_equal(stats[1], reference.latents_std.numpy())


@pytest.mark.parametrize("name,preset", [("LTX-2", LTX2_VIDEO_VAE_CONFIG), ("LTX-2.3", LTX23_VIDEO_VAE_CONFIG)])
def test_full_size_presets_have_the_reference_parameters(name, preset):
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

    with torch.device("meta"):
        encoder = VideoEncoderConfigurator.from_config({"vae": preset})
        decoder = VideoDecoderConfigurator.from_config({"vae": preset})
    config = VideoVAEConfig.from_dict(preset)
    # A meta-device state dict in the official layout: names and shapes, no values.
    shapes = {k: mx.zeros((1,) * v.ndim) for k, v in official_state(encoder, decoder).items()}
    renamed = sanitize_official_video_vae(shapes)
    ours = dict(tree_flatten(VideoAutoencoder(config).parameters()))
    assert set(renamed) == set(ours)
    reference_shapes = {
        **{f"encoder.{k}": v.shape for k, v in encoder.state_dict().items()},
        **{f"decoder.{k}": v.shape for k, v in decoder.state_dict().items()},
    }
    for key, param in ours.items():
        if key not in ("mean_of_means", "std_of_means"):
            shape = tuple(reference_shapes[key])
            expected = (shape[0], *shape[2:], shape[1]) if len(shape) == 5 else shape
            assert tuple(param.shape) == expected, key
    count = sum(v.size for k, v in ours.items() if k not in ("mean_of_means", "std_of_means"))
    print(f"{name} video VAE parameters: {count / 1e6:.1f}M")
    assert config.spatial_compression == 32 and config.temporal_compression == 8


def test_ltx2_preset_matches_diffusers_defaults():
    """diffusers' AutoencoderKLLTX2Video defaults describe the LTX-2 (19B) VAE: same parameters as our preset."""
    from diffusers import AutoencoderKLLTX2Video

    with torch.device("meta"):
        reference = AutoencoderKLLTX2Video()
    renamed = sanitize_diffusers_video_vae({k: mx.zeros((1,) * v.ndim) for k, v in reference.state_dict().items()})
    ours = dict(tree_flatten(VideoAutoencoder(VideoVAEConfig.from_dict(LTX2_VIDEO_VAE_CONFIG)).parameters()))
    assert set(renamed) == set(ours)


def test_padding_modes_follow_the_reference_configurators():
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

    ltx2 = VideoVAEConfig.from_dict({"vae": LTX2_VIDEO_VAE_CONFIG})
    ltx23 = VideoVAEConfig.from_dict(LTX23_VIDEO_VAE_CONFIG)
    assert (ltx2.encoder_spatial_padding_mode, ltx2.decoder_spatial_padding_mode) == ("zeros", "reflect")
    assert (ltx23.encoder_spatial_padding_mode, ltx23.decoder_spatial_padding_mode) == ("zeros", "zeros")
    for config in (ltx2, ltx23):
        written = config.to_dict()
        assert VideoVAEConfig.from_dict(written) == config
        # What we write reads back in the reference with the same padding on each side.
        with torch.device("meta"):
            encoder = VideoEncoderConfigurator.from_config({"vae": written})
            decoder = VideoDecoderConfigurator.from_config({"vae": written})
        assert encoder.conv_in.conv.padding_mode == config.encoder_spatial_padding_mode
        assert decoder.conv_in.conv.padding_mode == config.decoder_spatial_padding_mode


@pytest.mark.parametrize(
    "key",
    [
        "vae.decoder.up_blocks.1.attention.weight",
        "vae.encoder.down_blocks.0.res_blocks.0.norm3.weight",
        "vae.per_channel_statistics.median",
        "model.diffusion_model.proj_out.weight",
    ],
)
def test_unknown_official_keys_fail_loudly(key):
    with pytest.raises(CheckpointError, match="video VAE"):
        sanitize_official_video_vae({key: mx.zeros((1,))})


def test_standalone_files_without_the_prefix_read_the_same():
    weights = {"vae.decoder.conv_in.conv.bias": mx.ones((4,)), "vae.per_channel_statistics.std-of-means": mx.ones((2,))}
    bare = {key.removeprefix("vae."): value for key, value in weights.items()}
    assert sanitize_official_video_vae(bare).keys() == sanitize_official_video_vae(weights).keys()
    assert set(sanitize_official_video_vae(bare)) == {"decoder.conv_in.conv.bias", "std_of_means"}


def test_diffusers_channel_changing_up_block_is_refused():
    with pytest.raises(CheckpointError, match="unknown key"):
        sanitize_diffusers_video_vae({"decoder.up_blocks.0.conv_in.conv1.conv.weight": mx.zeros((1, 1, 1, 1, 1))})


def test_blocks_no_ltx2_checkpoint_uses_are_refused():
    with pytest.raises(ValueError, match="res_x_y"):
        VideoVAEConfig.from_dict({**LTX23_VIDEO_VAE_CONFIG, "decoder_blocks": [["res_x_y", {"multiplier": 2}]]})
