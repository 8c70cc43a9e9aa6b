"""LTX-2 audio configs read from checkpoint and diffusers dicts; key maps fail loudly on strangers."""

from __future__ import annotations

import mlx.core as mx
import pytest

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.audio_keys import sanitize_audio_vae, sanitize_vocoder
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig, vocoder_config_from_dict

# The shape of the released checkpoints' embedded config (LTX-2 and 2.3 share the audio VAE).
RELEASED_AUDIO_VAE = {
    "audio_vae": {
        "model": {
            "params": {
                "ddconfig": {
                    "ch": 128,
                    "out_ch": 2,
                    "ch_mult": [1, 2, 4],
                    "num_res_blocks": 2,
                    "attn_resolutions": [],
                    "resolution": 256,
                    "z_channels": 8,
                    "double_z": True,
                    "norm_type": "pixel",
                    "causality_axis": "height",
                    "mid_block_add_attention": False,
                    "in_channels": 2,
                    "dropout": 0.0,
                    "some_future_key": 1,
                },
                "sampling_rate": 16000,
                "embed_dim": 8,
            }
        },
        "preprocessing": {
            "stft": {"hop_length": 160, "filter_length": 1024, "causal": True},
            "mel": {"n_mel_channels": 64},
        },
    },
    "vocoder": {"resblock": "1", "stereo": True},
}


def test_released_audio_vae_config_gives_8_by_16_latents_at_25_per_second():
    config = AudioVAEConfig.from_dict(RELEASED_AUDIO_VAE)

    assert (config.z_channels, config.latent_mel_bins, config.latent_features) == (8, 16, 128)
    assert config.sampling_rate / config.hop_length / 4 == 25.0
    assert (config.mel_bins, config.n_fft, config.causality_axis) == (64, 1024, "height")
    assert not config.decoder_has_attention
    assert config.latent_frames(201) == 51 and config.mel_frames(51) == 201


def test_diffusers_flat_audio_vae_config_reads_the_same():
    flat = {
        "_class_name": "AutoencoderKLLTX2Audio",
        "base_channels": 128,
        "output_channels": 2,
        "ch_mult": [1, 2, 4],
        "num_res_blocks": 2,
        "attn_resolutions": None,
        "latent_channels": 8,
        "norm_type": "pixel",
        "causality_axis": "height",
        "mid_block_add_attention": False,
        "sample_rate": 16000,
        "mel_hop_length": 160,
        "mel_bins": 64,
        "double_z": True,
    }

    assert AudioVAEConfig.from_dict(flat) == AudioVAEConfig.from_dict(RELEASED_AUDIO_VAE)


def test_audio_vae_config_refuses_statistics_that_cannot_normalise_the_latents():
    with pytest.raises(ValueError, match="statistics"):
        AudioVAEConfig(ch=64, z_channels=8, mel_bins=64)


def test_official_vocoder_configs_pick_the_generation():
    ltx2 = vocoder_config_from_dict({"vocoder": {"resblock": "1", "stereo": True, "upsample_initial_channel": 1024}})
    ltx23 = vocoder_config_from_dict(
        {
            "vocoder": {
                "vocoder": {
                    "resblock": "AMP1",
                    "activation": "snakebeta",
                    "use_tanh_at_final": False,
                    "stereo": True,
                    "upsample_rates": [5, 2, 2, 2, 2, 2],
                    "upsample_kernel_sizes": [11, 4, 4, 4, 4, 4],
                    "upsample_initial_channel": 1536,
                    "use_bias_at_final": False,
                },
                "bwe": {
                    "resblock": "AMP1",
                    "activation": "snakebeta",
                    "stereo": True,
                    "upsample_initial_channel": 512,
                    "upsample_rates": [6, 5, 2, 2, 2],
                    "upsample_kernel_sizes": [12, 11, 4, 4, 4],
                    "input_sampling_rate": 16000,
                    "output_sampling_rate": 48000,
                    "n_fft": 512,
                    "hop_length": 80,
                    "num_mels": 64,
                    "use_bias_at_final": False,
                },
            }
        }
    )

    assert isinstance(ltx2, VocoderConfig) and ltx2.hop == 240 and ltx2.final_activation == "tanh"
    assert isinstance(ltx23, BWEConfig)
    assert (ltx23.vocoder.hop, ltx23.vocoder.final_activation, ltx23.generator.final_activation) == (
        160,
        "clamp",
        None,
    )
    assert (ltx23.ratio, ltx23.hop, ltx23.output_sampling_rate) == (3, 480, 48000)


def test_vocoder_config_refuses_what_the_reference_cannot_build():
    with pytest.raises(ValueError, match="resblock"):
        VocoderConfig(resblock="2")
    with pytest.raises(ValueError, match="stereo"):
        VocoderConfig.from_official({"stereo": False})


def test_audio_vae_keys_fail_loudly_and_drop_unused_statistics():
    weights = {
        "audio_vae.decoder.conv_in.conv.weight": mx.zeros((16, 4, 3, 3)),
        "audio_vae.per_channel_statistics.mean-of-means": mx.zeros((16,)),
        "audio_vae.per_channel_statistics.mean-of-stds": mx.zeros((16,)),
    }
    sanitized = sanitize_audio_vae(weights)

    assert sanitized["decoder.conv_in.conv.weight"].shape == (16, 3, 3, 4)
    assert set(sanitized) == {"decoder.conv_in.conv.weight", "per_channel_statistics.mean_of_means"}
    assert sanitize_audio_vae(weights, decoder=False).keys() == {"per_channel_statistics.mean_of_means"}
    with pytest.raises(CheckpointError, match="decoder.conv_in.conv.scale"):
        sanitize_audio_vae({"audio_vae.decoder.conv_in.conv.scale": mx.zeros((1,))})


def test_vocoder_keys_strip_the_prefix_once_and_fail_loudly():
    bwe = sanitize_vocoder(
        {
            "vocoder.vocoder.ups.0.weight": mx.zeros((8, 4, 16)),
            "vocoder.bwe_generator.resblocks.0.acts1.0.upsample.filter": mx.zeros((1, 1, 12)),
            "vocoder.mel_stft.stft_fn.forward_basis": mx.zeros((514, 1, 512)),
            "vocoder.mel_stft.stft_fn.inverse_basis": mx.zeros((514, 1, 512)),
        },
        bwe=True,
    )
    diffusers = sanitize_vocoder(
        {"conv_in.weight": mx.zeros((32, 128, 7)), "resnets.1.convs2.0.bias": mx.zeros((16,))}, bwe=False
    )

    assert bwe["vocoder.ups.0.weight"].shape == (4, 16, 8)  # torch [in, out, k] -> MLX [out, k, in]
    assert bwe["bwe_generator.resblocks.0.acts1.0.upsample.filter"].shape == (12,)
    assert bwe["mel_stft.stft_fn.forward_basis"].shape == (514, 512, 1)
    assert "mel_stft.stft_fn.inverse_basis" not in bwe
    assert set(diffusers) == {"conv_pre.weight", "resblocks.1.convs2.0.bias"}
    with pytest.raises(CheckpointError, match="unknown key"):
        sanitize_vocoder({"vocoder.conv_pre.weight_g": mx.zeros((1,))}, bwe=False)
    with pytest.raises(CheckpointError, match="unknown key"):
        sanitize_vocoder({"vocoder.vocoder.conv_pre.weight_v": mx.zeros((1, 1, 1))}, bwe=True)
