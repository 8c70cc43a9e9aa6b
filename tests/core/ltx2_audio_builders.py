"""Our LTX-2 audio models with random weights, for tests of our own behaviour (no torch needed)."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten
from transformers.audio_utils import mel_filter_bank

from ltx_mlx_core.models.ltx2.audio_vae import AudioVAE
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_bwe import VocoderWithBWE
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig

# The LTX-2.3 vocoders' BigVGAN settings, and its 48 kHz bandwidth-extension generator at toy width.
BIGVGAN = dict(resblock="AMP1", activation="snakebeta", final_activation=None, use_bias_at_final=False)
TOY_BWE_GENERATOR = VocoderConfig(
    **BIGVGAN,
    upsample_rates=(6, 5, 2, 2, 2),
    upsample_kernel_sizes=(12, 11, 4, 4, 4),
    upsample_initial_channel=32,
    in_channels=32,
    output_sampling_rate=48000,
)


def causal_stft_basis(n_fft: int) -> np.ndarray:
    """A windowed DFT basis [2 * n_freqs, 1, n_fft] like the checkpoint's (real rows, then imaginary)."""
    n = np.arange(n_fft)
    k = np.arange(n_fft // 2 + 1)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * math.pi * n / n_fft)
    angle = 2 * math.pi * k * n / n_fft
    basis = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window])
    return basis[:, None, :].astype(np.float32)


def random_vocoder(config: VocoderConfig | BWEConfig, seed: int = 0) -> Vocoder | VocoderWithBWE:
    model = VocoderWithBWE(config) if isinstance(config, BWEConfig) else Vocoder(config)
    _randomize_(model, seed)
    if isinstance(model, VocoderWithBWE):
        filters = mel_filter_bank(config.n_fft // 2 + 1, config.num_mels, 0.0, 8000.0, 16000, "slaney", "slaney")
        model.mel_stft.mel_basis = mx.array(filters.T.astype(np.float32))
        model.mel_stft.stft_fn.forward_basis = mx.array(causal_stft_basis(config.n_fft).transpose(0, 2, 1))
    return model


def random_audio_vae(config: AudioVAEConfig, seed: int = 0) -> AudioVAE:
    model = AudioVAE(config)
    _randomize_(model, seed)
    return model


def _randomize_(model, seed: int) -> None:
    """Every parameter random (fan-in scaled), filters kept, statistics' spreads positive."""
    updates = []
    for i, (name, value) in enumerate(tree_flatten(model.parameters())):
        if name.endswith(".filter"):
            continue
        scale = 0.2 if value.ndim <= 1 else (value[0].size) ** -0.5
        random = mx.random.normal(value.shape, key=mx.random.key(seed * 100_000 + i)) * scale
        updates.append((name, mx.abs(random) + 0.5 if name.endswith("std_of_means") else random))
    model.update(tree_unflatten(updates))
