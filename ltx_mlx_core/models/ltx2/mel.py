"""The audio VAE's front end: a sound file's samples -> the stereo log-mel spectrogram it encodes.

ltx-core resamples to the VAE's rate (16 kHz) and applies torchaudio's ``MelSpectrogram``:
a centred (reflect-padded) STFT with a periodic Hann window of ``n_fft`` samples, magnitude
(power 1), Slaney-scale mel filters with Slaney area normalisation from 0 Hz to Nyquist,
then ``log(max(mel, 1e-5))``. This computes the same in float64 numpy, a block of frames at
a time, and returns float32 MLX arrays [B, 2, frames, mel_bins].
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.audio_vae_config import LATENT_DOWNSAMPLE_FACTOR, AudioVAEConfig
from ltx_mlx_core.models.ltx2.resample import resample

LOG_MEL_FLOOR = 1e-5
FRAMES_PER_BLOCK = 512

# Slaney's mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(freq: np.ndarray) -> np.ndarray:
    freq = np.asarray(freq, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(freq, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(freq >= _MIN_LOG_HZ, log_part, freq / _F_SP)


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mels, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mels >= _MIN_LOG_MEL, log_part, _F_SP * mels)


def mel_filter_bank(
    n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Triangular Slaney filters with area normalisation, [n_freqs, n_mels] (torchaudio's layout)."""
    f_max = sample_rate / 2.0 if f_max is None else f_max
    # torchaudio spaces the STFT bins up to sample_rate // 2 (integer division).
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    f_pts = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels]))[None, :]


def hann_window(length: int) -> np.ndarray:
    """Periodic Hann window (torch.hann_window's default)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def log_mel_spectrogram(samples: np.ndarray, sample_rate: int, n_fft: int, hop_length: int, n_mels: int) -> np.ndarray:
    """[..., samples] -> [..., 1 + samples // hop, n_mels], float64."""
    x = np.asarray(samples, dtype=np.float64)
    lead, length = x.shape[:-1], x.shape[-1]
    if length <= n_fft // 2:
        raise InvalidRequest(
            f"The sound is too short to encode: {length} samples at {sample_rate} Hz; it needs more than "
            f"{n_fft // 2} (the STFT's reflect padding)."
        )
    x = np.pad(x.reshape(-1, length), [(0, 0), (n_fft // 2, n_fft // 2)], mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=1)[:, ::hop_length]
    window = hann_window(n_fft)
    filters = mel_filter_bank(n_fft // 2 + 1, n_mels, sample_rate)
    out = np.empty((x.shape[0], frames.shape[1], n_mels))
    for start in range(0, frames.shape[1], FRAMES_PER_BLOCK):
        block = frames[:, start : start + FRAMES_PER_BLOCK]
        magnitude = np.abs(np.fft.rfft(block * window, axis=-1))
        out[:, start : start + FRAMES_PER_BLOCK] = magnitude @ filters
    return np.log(np.maximum(out, LOG_MEL_FLOOR)).reshape(*lead, frames.shape[1], n_mels)


def as_stereo_batch(waveform: np.ndarray) -> np.ndarray:
    """[samples], [channels, samples] or [B, channels, samples] -> [B, 2, samples]; mono is duplicated."""
    x = np.asarray(waveform)
    if x.ndim == 1:
        x = x[None]
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1] not in (1, 2):
        raise InvalidRequest(
            f"The audio encoder takes mono or stereo sound; got samples shaped {tuple(np.shape(waveform))}. "
            "Mix it down to one or two channels first."
        )
    return np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x


def waveform_to_mel(
    waveform: np.ndarray, sample_rate: int, config: AudioVAEConfig, *, whole_latent_frames: bool = False
) -> mx.array:
    """Samples at `sample_rate` -> the encoder's input, log-mel [B, 2, frames, mel_bins] float32.

    Resampled to the VAE's rate first; frames = 1 + samples // hop at that rate, as the
    reference computes. The encoder keeps only whole latent frames (4 hops), so the tail of
    a sound that is not a whole number of them is not encoded; `whole_latent_frames` pads it
    with silence first so that decoding gives back at least every sample.
    """
    x = as_stereo_batch(waveform)
    x = resample(x, sample_rate, config.sampling_rate)
    if whole_latent_frames:
        period = config.hop_length * LATENT_DOWNSAMPLE_FACTOR
        x = np.pad(x, [(0, 0), (0, 0), (0, -x.shape[-1] % period)])
    mel = log_mel_spectrogram(x, config.sampling_rate, config.n_fft, config.hop_length, config.mel_bins)
    return mx.array(mel.astype(np.float32))
