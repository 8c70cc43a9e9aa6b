"""LTX-2 audio VAE and vocoders against ltx-core 1.0.0 and diffusers 0.42 (tiny random weights, float32).

ltx-core's classes are loaded the official way (one safetensors file, `audio_vae.` and
`vocoder.` prefixes, config in its metadata); diffusers' through their own key names and
flat configs. Tolerance: relative max error <= 1e-4 (measured: about 1e-6).
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch

from ltx_mlx_core.models.ltx2.antialias import hann_sinc_filter, kaiser_sinc_filter
from ltx_mlx_core.models.ltx2.audio_keys import sanitize_audio_vae
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_config import VocoderConfig
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_audio_helpers import (
    DDCONFIG_VARIANTS,
    TINY_BIGVGAN,
    build_vocoder,
    fill_mel_stft_,
    mlx_audio_vae_via_checkpoint,
    mlx_vocoder_via_checkpoint,
    official_audio_vae_config,
    official_vocoder_config,
    reference_audio_vae,
    reference_vocoder,
    to_mx,
)
from tests.parity.ltx2_audio_reference import AutoencoderKLLTX2Audio, LTX2Vocoder, LTX2VocoderWithBWE
from tests.parity.ltx2_audio_reference import Vocoder as RefVocoder
from tests.parity.vae_helpers import randomize_

TOLERANCE = 1e-4


def _mel(bins: int, frames: int = 37, seed: int = 0) -> torch.Tensor:
    """A log-mel-like batch of two stereo spectrograms (log magnitudes sit around -4)."""
    return torch.randn(2, 2, frames, bins, generator=torch.Generator().manual_seed(seed)) * 2 - 4


@pytest.mark.parametrize("variant", sorted(DDCONFIG_VARIANTS))
def test_audio_vae_matches_ltx_core_from_official_file(variant, tmp_path):
    config = official_audio_vae_config(**DDCONFIG_VARIANTS[variant])
    encoder, decoder = reference_audio_vae(config, seed=3)
    ours = mlx_audio_vae_via_checkpoint(encoder, decoder, config, tmp_path / "audio_vae.safetensors")
    mel = _mel(ours.config.mel_bins)
    latents = torch.randn(2, ours.config.z_channels, 9, ours.config.latent_mel_bins)
    with torch.no_grad():
        reference_latents, reference_mel = encoder(mel), decoder(latents)

    encoded = ours.encode(mx.array(mel.numpy()))
    decoded = ours.decode(mx.array(latents.numpy()))

    assert relative_max_error(encoded, reference_latents) <= TOLERANCE
    assert relative_max_error(decoded, reference_mel) <= TOLERANCE


def _diffusers_audio_vae(seed: int) -> AutoencoderKLLTX2Audio:
    torch.manual_seed(seed)
    vae = AutoencoderKLLTX2Audio(
        base_channels=16,
        ch_mult=(1, 2, 4),
        latent_channels=4,
        mel_bins=16,
        norm_type="pixel",
        causality_axis="height",
        attn_resolutions=None,
        mid_block_add_attention=False,
    )
    randomize_(vae, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    vae.latents_mean.copy_(torch.randn(16, generator=generator) * 0.3)
    vae.latents_std.copy_(torch.rand(16, generator=generator) + 0.5)
    return vae.eval()


def _patchify(x: torch.Tensor) -> torch.Tensor:
    b, c, t, f = x.shape
    return x.permute(0, 2, 1, 3).reshape(b, t, c * f)


def _unpatchify(x: torch.Tensor, channels: int) -> torch.Tensor:
    b, t, features = x.shape
    return x.reshape(b, t, channels, features // channels).permute(0, 2, 1, 3)


def test_audio_vae_matches_diffusers_layout_and_config():
    vae = _diffusers_audio_vae(seed=5)
    ours = AudioVAE(AudioVAEConfig.from_dict(dict(vae.config)))
    ours.load_weights(list(sanitize_audio_vae(to_mx(vae.state_dict())).items()), strict=True)
    mel = _mel(16, frames=41)
    latents = torch.randn(2, 4, 11, 4)
    with torch.no_grad():
        # diffusers' pipeline normalises the posterior's mode and denormalises before decoding.
        mode = vae.encode(mel).latent_dist.mode()
        reference_latents = _unpatchify((_patchify(mode) - vae.latents_mean) / vae.latents_std, 4)
        denormalized = _unpatchify(_patchify(latents) * vae.latents_std + vae.latents_mean, 4)
        reference_mel = vae.decode(denormalized).sample

    assert relative_max_error(ours.encode(mx.array(mel.numpy())), reference_latents) <= TOLERANCE
    assert relative_max_error(ours.decode(mx.array(latents.numpy())), reference_mel) <= TOLERANCE


@pytest.mark.parametrize("bwe", [False, True], ids=["hifigan_24k", "bigvgan_bwe_48k"])
def test_vocoder_matches_ltx_core_from_official_file(bwe, tmp_path):
    config = official_vocoder_config(bwe)
    reference = reference_vocoder(config, seed=7)
    ours = mlx_vocoder_via_checkpoint(reference, config, tmp_path / "vocoder.safetensors")
    mel = _mel(64, frames=13)
    with torch.no_grad():
        expected = reference(mel)

    waveform = ours(mx.array(mel.numpy()))

    assert waveform.shape == tuple(expected.shape)
    assert relative_max_error(waveform, expected) <= TOLERANCE


def test_bigvgan_with_plain_snake_matches_ltx_core():
    """AMP blocks with Snake (alpha only): LTX-2.3 ships SnakeBeta, the reference supports both."""
    settings = {**TINY_BIGVGAN, "activation": "snake", "use_tanh_at_final": True}
    reference = RefVocoder(
        resblock_kernel_sizes=settings["resblock_kernel_sizes"],
        upsample_rates=settings["upsample_rates"],
        upsample_kernel_sizes=settings["upsample_kernel_sizes"],
        resblock_dilation_sizes=settings["resblock_dilation_sizes"],
        upsample_initial_channel=settings["upsample_initial_channel"],
        resblock="AMP1",
        activation="snake",
        use_tanh_at_final=True,
        use_bias_at_final=False,
    )
    randomize_(reference, seed=11)
    with torch.no_grad():
        reference.conv_post.weight.mul_(0.05)
    ours = build_vocoder(to_mx(reference.state_dict()), {"vocoder": settings})
    mel = _mel(64, frames=9)
    with torch.no_grad():
        expected = reference.eval()(mel)

    assert relative_max_error(ours(mx.array(mel.numpy())), expected) <= TOLERANCE


def _diffusers_vocoder(bwe: bool, seed: int):
    torch.manual_seed(seed)
    common = {"in_channels": 128, "hidden_channels": 32}
    if bwe:
        model = LTX2VocoderWithBWE(
            **common,
            upsample_kernel_sizes=[16, 8, 11],
            upsample_factors=[8, 4, 5],
            bwe_hidden_channels=32,
            bwe_upsample_kernel_sizes=[12, 11, 16],
            bwe_upsample_factors=[6, 5, 8],
        )
        fill_mel_stft_(model.mel_stft, 512, 64)
    else:
        model = LTX2Vocoder(**common, upsample_kernel_sizes=[16, 15, 16], upsample_factors=[6, 5, 8])
    randomize_(model, seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("conv_out.weight"):
                param.mul_(0.05)
    return model.eval()


@pytest.mark.parametrize("bwe", [False, True], ids=["hifigan_24k", "bigvgan_bwe_48k"])
def test_vocoder_matches_diffusers_layout_and_config(bwe):
    reference = _diffusers_vocoder(bwe, seed=13)
    ours = build_vocoder(to_mx(reference.state_dict()), dict(reference.config))
    mel = _mel(64, frames=11)
    with torch.no_grad():
        expected = reference(mel)

    assert relative_max_error(ours(mx.array(mel.numpy())), expected) <= TOLERANCE


def test_filters_built_without_a_checkpoint_equal_the_references():
    """BigVGAN's Kaiser filters (stored in checkpoints) and the extension's Hann resampler (never stored)."""
    reference = reference_vocoder(official_vocoder_config(True), seed=0)
    block = reference.vocoder.resblocks[0].acts1[0]
    ours = Vocoder(VocoderConfig.from_official({**TINY_BIGVGAN}))
    ours_block = ours.resblocks[0].acts1[0]

    np.testing.assert_allclose(np.array(ours_block.upsample.filter), block.upsample.filter.numpy().ravel(), atol=1e-7)
    np.testing.assert_allclose(
        np.array(ours_block.downsample.lowpass.filter),
        block.downsample.lowpass.filter.numpy().ravel(),
        atol=1e-7,
    )
    hann, _ = hann_sinc_filter(reference.output_sampling_rate // reference.input_sampling_rate)
    np.testing.assert_allclose(hann, reference.resampler.filter.numpy().ravel(), atol=1e-7)
    np.testing.assert_allclose(kaiser_sinc_filter(0.25, 0.3, 12), block.upsample.filter.numpy().ravel(), atol=1e-7)
