"""Our MLX VAE against the reference CausalVideoAutoencoder, on tiny random-weight models
that use every block type of the 0.9.8 VAE, loaded from official single-file checkpoints."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch

from ltx_mlx_core.models.ltxv.vae import (
    LTXV_098_VAE_CONFIG,
    CausalVideoAutoencoder,
    ltxv_098_vae_config,
    normalize_latents,
)
from ltx_mlx_core.models.ltxv.vae_keys import to_official_vae
from ltx_mlx_core.pipeline.decode import decode_video, encode_video
from ltx_mlx_core.pipeline.tiling import TilingConfig
from tests.parity.conftest import mlx_to_torch, relative_max_error
from tests.parity.vae_helpers import (
    mlx_vae_via_checkpoint,
    reference_vae,
    tiny_vae_config,
    to_channels_first,
    to_channels_last,
)

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    config = tiny_vae_config()
    reference = reference_vae(config, seed=3)
    ours = mlx_vae_via_checkpoint(reference, config, tmp_path_factory.mktemp("vae") / "tiny.safetensors")
    return reference, ours


def _video(seed: int, frames: int = 17, height: int = 64, width: int = 96) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, frames, height, width, generator=generator) * 2 - 1


def test_encode_matches_reference_posterior_mean(tiny_pair):
    reference, ours = tiny_pair
    video = _video(0)
    with torch.no_grad():
        expected = reference.encode(video).latent_dist.mode()
    latents = ours.encode(to_channels_last(video))
    error = relative_max_error(to_channels_first(latents), expected)
    print(f"encode relative max error {error:.2e}")
    assert latents.shape == (2, 3, 2, 3, 16)
    assert error <= TOLERANCE


def test_encode_log_variance_matches_reference(tiny_pair):
    reference, ours = tiny_pair
    video = _video(1, frames=9)
    with torch.no_grad():
        expected = reference.encode(video).latent_dist.logvar
    _, logvar = ours.encode_moments(to_channels_last(video))
    assert relative_max_error(to_channels_first(logvar), expected) <= TOLERANCE


def test_timestep_conditioned_decode_matches_reference(tiny_pair):
    reference, ours = tiny_pair
    generator = torch.Generator().manual_seed(5)
    latents = torch.randn(2, 16, 3, 2, 3, generator=generator)
    timestep = torch.tensor([0.05, 0.4])
    with torch.no_grad():
        expected = reference.decode(latents, target_shape=(2, 3, 17, 64, 96), timestep=timestep).sample
    pixels = ours.decode(to_channels_last(latents), timestep=mx.array(timestep.numpy()))
    error = relative_max_error(to_channels_first(pixels), expected)
    print(f"decode (timestep-conditioned) relative max error {error:.2e}")
    assert pixels.shape == (2, 17, 64, 96, 3)
    assert error <= TOLERANCE


@pytest.mark.parametrize(
    "overrides",
    [
        {"causal_decoder": True, "spatial_padding_mode": "replicate"},
        {"spatial_padding_mode": "reflect", "timestep_conditioning": False, "latent_log_var": "per_channel"},
    ],
    ids=["causal-replicate", "reflect-unconditioned"],
)
def test_encode_decode_match_reference_in_other_configurations(overrides, tmp_path):
    config = tiny_vae_config(**overrides)
    reference = reference_vae(config, seed=7)
    ours = mlx_vae_via_checkpoint(reference, config, tmp_path / "variant.safetensors")
    video = _video(2, frames=9, height=64, width=64)
    timestep = torch.tensor([0.1, 0.1]) if config["timestep_conditioning"] else None
    with torch.no_grad():
        latents = reference.encode(video).latent_dist.mode()
        expected = reference.decode(latents, target_shape=video.shape, timestep=timestep).sample
    ours_latents = ours.encode(to_channels_last(video))
    ours_pixels = ours.decode(ours_latents, timestep=None if timestep is None else 0.1)
    assert relative_max_error(to_channels_first(ours_latents), latents) <= TOLERANCE
    assert relative_max_error(to_channels_first(ours_pixels), expected) <= TOLERANCE


def test_single_frame_encodes_like_the_clips_first_latent(tiny_pair):
    _, ours = tiny_pair
    video = to_channels_last(_video(3))
    clip_latents = ours.encode(video)
    image_latents = ours.encode(video[:, :1])
    assert np.abs(np.array(image_latents) - np.array(clip_latents[:, :1])).max() < 1e-5


def test_pipeline_encode_matches_reference_vae_encode_normalisation(tiny_pair):
    from ltx_video.models.autoencoders.vae_encode import normalize_latents as reference_normalize

    reference, ours = tiny_pair
    video = _video(4, frames=9)
    with torch.no_grad():
        expected = reference_normalize(reference.encode(video).latent_dist.mode(), reference, True)
    ours_latents = encode_video(ours, to_channels_last(video), tiling=TilingConfig.untiled())
    assert relative_max_error(to_channels_first(ours_latents), expected) <= TOLERANCE


def test_pipeline_decode_matches_reference_noise_tone_map_and_decode(tiny_pair):
    """decode_video = the reference pipeline's tail: decode noise, tone map, vae_decode."""
    from ltx_video.models.autoencoders.vae_encode import vae_decode
    from ltx_video.pipelines.pipeline_ltx_video import LTXVideoPipeline

    reference, ours = tiny_pair
    key = mx.random.key(11)
    latents = mx.random.normal((2, 3, 2, 2, 16), key=mx.random.key(12)) * 1.5
    timestep, noise_scale, compression = 0.05, 0.025, 0.6
    # The same noise our driver draws from `key`.
    noise = mlx_to_torch(mx.random.normal(latents.shape, key=key))
    torch_latents = mlx_to_torch(latents)
    with torch.no_grad():
        noised = torch_latents * (1 - noise_scale) + noise * noise_scale
        toned = LTXVideoPipeline.tone_map_latents(noised.permute(0, 4, 1, 2, 3), compression)
        expected = vae_decode(
            toned, reference, True, vae_per_channel_normalize=True, timestep=torch.tensor([timestep] * 2)
        )
    pixels = decode_video(
        ours,
        latents,
        timestep=timestep,
        noise_scale=noise_scale,
        key=key,
        tiling=TilingConfig.untiled(),
        tone_map_compression=compression,
    )
    error = relative_max_error(to_channels_first(pixels), expected)
    print(f"pipeline decode (noise + tone map + timestep) relative max error {error:.2e}")
    assert error <= TOLERANCE


def test_normalisation_uses_checkpoint_statistics(tiny_pair):
    reference, ours = tiny_pair
    from ltx_video.models.autoencoders.vae_encode import normalize_latents as reference_normalize

    latents = torch.randn(1, 16, 2, 2, 2)
    expected = reference_normalize(latents, reference, True)
    assert relative_max_error(to_channels_first(normalize_latents(to_channels_last(latents), ours)), expected) <= 1e-6


def test_098_preset_has_the_reference_parameter_names_and_shapes():
    """Every tensor of the full-size 0.9.8 VAE, compared on the meta device (nothing allocated)."""
    from ltx_video.models.autoencoders.causal_video_autoencoder import CausalVideoAutoencoder as TorchVAE
    from mlx.utils import tree_flatten

    with torch.device("meta"):
        reference = TorchVAE.from_config(dict(LTXV_098_VAE_CONFIG))
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    ours = dict(tree_flatten(CausalVideoAutoencoder(ltxv_098_vae_config()).parameters()))
    official = {k: tuple(v.shape) for k, v in to_official_vae(ours).items() if not k.startswith("per_channel")}
    assert official == expected


def test_decoder_noise_injection_matches_reference_given_the_same_noise(tmp_path, monkeypatch):
    """res_x blocks with inject_noise: our keyed noise fed to the reference in its call order."""
    config = tiny_vae_config(
        decoder_blocks=[
            ["res_x", {"num_layers": 2, "inject_noise": True}],
            ["compress_all", {"residual": True, "multiplier": 2}],
            ["compress_all", {"residual": True, "multiplier": 2}],
            ["res_x", {"num_layers": 1, "inject_noise": True}],
            ["compress_all", {"residual": True, "multiplier": 2}],
        ]
    )
    reference = reference_vae(config, seed=9)
    ours = mlx_vae_via_checkpoint(reference, config, tmp_path / "noisy.safetensors")
    key = mx.random.key(21)
    # Our keys split as decoder -> up block -> res block -> (conv1 noise, conv2 noise).
    noises = []
    block_keys = mx.random.split(key, len(ours.decoder.up_blocks))
    for block, block_key in zip(ours.decoder.up_blocks, block_keys):
        if not getattr(block, "inject_noise", False):
            continue
        for res_key in mx.random.split(block_key, len(block.res_blocks)):
            for noise_key in mx.random.split(res_key):
                noises.append(noise_key)
    latents = torch.randn(1, 16, 2, 2, 3, generator=torch.Generator().manual_seed(8))
    # Up blocks run reversed: res_x(1) at 4x6 latents, res_x(2) at 16x24.
    sizes = [(4, 6)] * 2 + [(16, 24)] * 4
    queued = [mlx_to_torch(mx.random.normal(size, key=k)) for size, k in zip(sizes, noises)]
    real_randn = torch.randn

    def replayed_randn(*shape, **kwargs):
        noise = queued.pop(0)
        assert tuple(noise.shape) == tuple(shape[0]), (noise.shape, shape)
        return noise.to(kwargs.get("dtype", noise.dtype))

    with torch.no_grad():
        monkeypatch.setattr(torch, "randn", replayed_randn)
        expected = reference.decode(latents, target_shape=(1, 3, 9, 64, 96), timestep=torch.tensor([0.2])).sample
        monkeypatch.setattr(torch, "randn", real_randn)
    assert not queued
    pixels = ours.decode(to_channels_last(latents), timestep=0.2, key=key)
    assert relative_max_error(to_channels_first(pixels), expected) <= TOLERANCE
    without_noise = ours.decode(to_channels_last(latents), timestep=0.2, key=mx.random.key(22))
    assert not np.allclose(np.array(without_noise), np.array(pixels))
