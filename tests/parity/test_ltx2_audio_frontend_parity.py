"""The audio VAE's front end against independent implementations (ltx-core would use torchaudio).

The mel spectrogram is checked against `transformers.audio_utils` with torchaudio's
``MelSpectrogram`` settings as ltx-core's ``AudioProcessor`` sets them; the resampler
against `scipy.signal.resample_poly` given torchaudio's "sinc_interp_hann" filter
(resample_poly does its own zero-padded polyphase filtering, so only the filter is shared).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import resample_poly
from transformers.audio_utils import mel_filter_bank as hf_mel_filter_bank
from transformers.audio_utils import spectrogram as hf_spectrogram
from transformers.audio_utils import window_function

from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.mel import log_mel_spectrogram, mel_filter_bank, waveform_to_mel
from ltx_mlx_core.models.ltx2.resample import resample
from tests.parity.conftest import relative_max_error

TOLERANCE = 1e-4
SAMPLE_RATE, N_FFT, HOP, N_MELS = 16000, 1024, 160, 64  # the released audio VAE's front end


def stereo_test_signal(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """A rising sweep on the left, a falling one plus noise on the right: [2, samples]."""
    t = np.arange(round(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    left = 0.5 * np.sin(2 * np.pi * (100 * t + 1500 * t**2))
    right = 0.4 * np.sin(2 * np.pi * (3000 * t - 900 * t**2)) + 0.05 * rng.standard_normal(t.shape)
    return np.stack([left, right])


def _reference_log_mel(samples: np.ndarray) -> np.ndarray:
    """torchaudio.transforms.MelSpectrogram(power=1, center, reflect, slaney/slaney) then log(max(., 1e-5))."""
    filters = hf_mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=N_MELS,
        min_frequency=0.0,
        max_frequency=SAMPLE_RATE / 2,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    mel = hf_spectrogram(
        samples,
        window_function(N_FFT, "hann", periodic=True),
        frame_length=N_FFT,
        hop_length=HOP,
        fft_length=N_FFT,
        power=1.0,
        center=True,
        pad_mode="reflect",
        mel_filters=filters,
        dtype=np.float64,
    )
    return np.log(np.maximum(mel, 1e-5)).T  # [frames, mels]


def test_mel_filter_bank_matches_transformers():
    ours = mel_filter_bank(N_FFT // 2 + 1, N_MELS, SAMPLE_RATE)
    reference = hf_mel_filter_bank(N_FFT // 2 + 1, N_MELS, 0.0, SAMPLE_RATE / 2, SAMPLE_RATE, "slaney", "slaney")

    assert relative_max_error(ours, reference) <= 1e-12


@pytest.mark.parametrize("seconds", [1.3, 0.0401])
def test_log_mel_spectrogram_matches_transformers(seconds):
    signal = stereo_test_signal(seconds, SAMPLE_RATE)
    ours = log_mel_spectrogram(signal, SAMPLE_RATE, N_FFT, HOP, N_MELS)

    for channel in range(2):
        reference = _reference_log_mel(signal[channel])
        assert ours[channel].shape == reference.shape == (1 + signal.shape[1] // HOP, N_MELS)
        assert relative_max_error(ours[channel], reference) <= TOLERANCE


def torchaudio_filter(orig: int, new: int) -> np.ndarray:
    """torchaudio's sinc_interp_hann low-pass (6 zero crossings, roll-off 0.99) as one FIR at the
    rate orig * new (rates already divided by their gcd), centred, unit-gain per output phase."""
    base = min(orig, new) * 0.99
    half = math.ceil(6 / base * orig * new)
    t = np.arange(-half, half + 1) / (orig * new) * base  # in periods of the lower rate x roll-off
    t = np.clip(t, -6, 6)
    return np.sinc(t) * np.cos(t * np.pi / 12) ** 2 * base / orig


@pytest.mark.parametrize(
    "orig_rate,new_rate", [(44100, 16000), (48000, 16000), (22050, 16000), (8000, 16000), (24000, 16000)]
)
def test_resampler_matches_scipy_resample_poly(orig_rate, new_rate):
    signal = stereo_test_signal(0.37, orig_rate, seed=1)
    gcd = math.gcd(orig_rate, new_rate)
    up, down = new_rate // gcd, orig_rate // gcd
    # resample_poly scales a given filter by `up`; torchaudio's kernel already has the output's gain.
    reference = resample_poly(signal, up, down, axis=-1, window=torchaudio_filter(down, up) / up)

    ours = resample(signal, orig_rate, new_rate)

    assert ours.shape == reference.shape == (2, math.ceil(signal.shape[1] * new_rate / orig_rate))
    assert relative_max_error(ours, reference) <= TOLERANCE


def test_waveform_to_mel_resamples_then_takes_the_mel():
    config = AudioVAEConfig()
    signal = stereo_test_signal(0.5, 44100)

    mel = np.array(waveform_to_mel(signal, 44100, config))

    resampled = resample_poly(signal, 160, 441, axis=-1, window=torchaudio_filter(441, 160) / 160)
    reference = np.stack([_reference_log_mel(channel) for channel in resampled])[None]
    assert mel.shape == reference.shape == (1, 2, 1 + resampled.shape[1] // HOP, N_MELS)
    assert relative_max_error(mel, reference) <= TOLERANCE
