"""Tiny random-weight LTX-2 audio references (ltx-core and diffusers) and our models loaded from them."""

from __future__ import annotations

import copy
from pathlib import Path

import mlx.core as mx
import numpy as np
import torch
from transformers.audio_utils import mel_filter_bank as hf_mel_filter_bank

from ltx_mlx_core.models.ltx2.audio_keys import (
    AUDIO_VAE_PREFIX,
    VOCODER_PREFIX,
    sanitize_audio_vae,
    sanitize_vocoder,
)
from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, vocoder_config_from_dict
from tests.core.ltx2_audio_builders import causal_stft_basis
from tests.parity.conftest import load_official_component, save_official_checkpoint, torch_to_mlx
from tests.parity.ltx2_audio_reference import (
    AudioDecoderConfigurator,
    AudioEncoderConfigurator,
    VocoderConfigurator,
)
from tests.parity.vae_helpers import randomize_

# The released audio VAE's structure at toy width: ch = z_channels x mel_bins / 4 (the statistics' size).
TINY_DDCONFIG = {
    "ch": 16,
    "out_ch": 2,
    "in_channels": 2,
    "ch_mult": [1, 2, 4],
    "num_res_blocks": 2,
    "attn_resolutions": [],
    "resolution": 256,
    "z_channels": 4,
    "double_z": True,
    "norm_type": "pixel",
    "causality_axis": "height",
    "mid_block_add_attention": False,
    "mel_bins": 16,
    "dropout": 0.0,
}

# Variants the reference supports beside the released one.
DDCONFIG_VARIANTS = {
    "released": {},
    "attention": {"attn_resolutions": [16], "resolution": 16, "mid_block_add_attention": True},
    "width_causal": {"causality_axis": "width"},
    "group_norm_noncausal": {"norm_type": "group", "causality_axis": None, "ch": 32, "z_channels": 8},
}


def official_audio_vae_config(**overrides) -> dict:
    """A checkpoint's embedded config with a tiny audio VAE (the reference configurators' nesting)."""
    ddconfig = {**copy.deepcopy(TINY_DDCONFIG), **overrides}
    return {
        "audio_vae": {
            "model": {"params": {"ddconfig": ddconfig, "sampling_rate": 16000}},
            "preprocessing": {"stft": {"hop_length": 160, "filter_length": 1024, "causal": True}, "mel": {}},
        }
    }


def reference_audio_vae(config: dict, seed: int = 0):
    """ltx-core's encoder and decoder with random weights and one set of random latent statistics."""
    torch.manual_seed(seed)
    encoder = AudioEncoderConfigurator.from_config(config)
    decoder = AudioDecoderConfigurator.from_config(config)
    randomize_(encoder, seed)
    randomize_(decoder, seed + 1)
    features = encoder.per_channel_statistics.get_buffer("mean-of-means").shape[0]
    generator = torch.Generator().manual_seed(seed + 2)
    stats = {
        "mean-of-means": torch.randn(features, generator=generator) * 0.3,
        "std-of-means": torch.rand(features, generator=generator) + 0.5,
    }
    for module in (encoder, decoder):
        for name, value in stats.items():
            module.per_channel_statistics.get_buffer(name).copy_(value)
    return encoder.eval(), decoder.eval()


def official_audio_vae_state(encoder, decoder) -> dict[str, torch.Tensor]:
    """The official file layout (without the `audio_vae.` prefix): shared statistics at the top."""
    state = {}
    for part, module in (("encoder", encoder), ("decoder", decoder)):
        for key, value in module.state_dict().items():
            if not key.startswith("per_channel_statistics."):
                state[f"{part}.{key}"] = value
    for name in ("mean-of-means", "std-of-means"):
        state[f"per_channel_statistics.{name}"] = encoder.per_channel_statistics.get_buffer(name)
    state["per_channel_statistics.channel"] = torch.arange(state["per_channel_statistics.mean-of-means"].shape[0])
    return state


def mlx_audio_vae_via_checkpoint(encoder, decoder, config: dict, path: Path) -> AudioVAE:
    save_official_checkpoint({AUDIO_VAE_PREFIX: official_audio_vae_state(encoder, decoder)}, config, path)
    weights, file_config = load_official_component(path, AUDIO_VAE_PREFIX)
    ours = AudioVAE(AudioVAEConfig.from_dict(file_config))
    ours.load_weights(list(sanitize_audio_vae(weights).items()), strict=True)
    return ours


def to_mx(state: dict[str, torch.Tensor]) -> dict[str, mx.array]:
    return {key: torch_to_mlx(value) for key, value in state.items()}


# ---- vocoders ----------------------------------------------------------------------------------

TINY_HIFIGAN = {
    "resblock_kernel_sizes": [3, 7, 11],
    "upsample_rates": [6, 5, 8],
    "upsample_kernel_sizes": [16, 15, 16],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "upsample_initial_channel": 32,
    "resblock": "1",
    "stereo": True,
    "use_tanh_at_final": True,
    "use_bias_at_final": True,
    "output_sampling_rate": 24000,
}

TINY_BIGVGAN = {
    **TINY_HIFIGAN,
    "resblock": "AMP1",
    "activation": "snakebeta",
    "upsample_rates": [8, 4, 5],
    "upsample_kernel_sizes": [16, 8, 11],
    "use_tanh_at_final": False,
    "use_bias_at_final": False,
}

TINY_BWE = {
    **TINY_BIGVGAN,
    "upsample_rates": [6, 5, 8],
    "upsample_kernel_sizes": [12, 11, 16],
    "input_sampling_rate": 16000,
    "output_sampling_rate": 48000,
    "n_fft": 512,
    "hop_length": 80,
    "num_mels": 64,
}


def official_vocoder_config(bwe: bool, **overrides) -> dict:
    if bwe:
        return {"vocoder": {"vocoder": {**TINY_BIGVGAN, **overrides}, "bwe": dict(TINY_BWE)}}
    return {"vocoder": {**TINY_HIFIGAN, **overrides}}


def fill_mel_stft_(mel_stft, n_fft: int, n_mels: int, sample_rate: int = 16000) -> None:
    """Realistic bases for the extension's mel (the checkpoint would bring its own)."""
    filters = hf_mel_filter_bank(n_fft // 2 + 1, n_mels, 0.0, sample_rate / 2, sample_rate, "slaney", "slaney")
    with torch.no_grad():
        mel_stft.mel_basis.copy_(torch.from_numpy(filters.T.astype(np.float32)))
        basis = torch.from_numpy(causal_stft_basis(n_fft))
        mel_stft.stft_fn.forward_basis.copy_(basis)
        mel_stft.stft_fn.inverse_basis.copy_(basis)


def reference_vocoder(config: dict, seed: int = 0, output_gain: float = 0.05):
    """ltx-core's vocoder (plain or with extension) for an official config, random weights.

    `output_gain` scales each generator's last convolution so random weights give a waveform
    mostly inside [-1, 1]: compared after the final clamp, a saturated output would measure the
    clamp, not the network.
    """
    torch.manual_seed(seed)
    model = VocoderConfigurator.from_config(config)
    randomize_(model, seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("conv_post.weight"):
                param.mul_(output_gain)
    if hasattr(model, "mel_stft"):
        bwe = config["vocoder"]["bwe"]
        fill_mel_stft_(model.mel_stft, bwe["n_fft"], bwe["num_mels"])
    return model.eval()


def mlx_vocoder_via_checkpoint(model, config: dict, path: Path) -> Vocoder | VocoderWithBWE:
    save_official_checkpoint({VOCODER_PREFIX: model.state_dict()}, config, path)
    weights, file_config = load_official_component(path, VOCODER_PREFIX)
    return build_vocoder(weights, file_config)


def build_vocoder(weights: dict[str, mx.array], config: dict) -> Vocoder | VocoderWithBWE:
    vocoder_config = vocoder_config_from_dict(config)
    bwe = isinstance(vocoder_config, BWEConfig)
    ours = VocoderWithBWE(vocoder_config) if bwe else Vocoder(vocoder_config)
    ours.load_weights(list(sanitize_vocoder(weights, bwe=bwe).items()), strict=True)
    return ours
