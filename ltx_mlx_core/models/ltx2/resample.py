"""Band-limited resampling between integer sample rates (torchaudio's default "sinc_interp_hann").

ltx-core resamples a sound to the audio VAE's 16 kHz with ``torchaudio.functional.resample``
(Hann-windowed sinc, 6 zero crossings, roll-off 0.99, zero outside the signal). This is the
same polyphase filter in float64 numpy: with rates reduced by their gcd to
``orig -> new``, every block of ``orig`` input samples makes ``new`` output samples, each a
dot product of the zero-padded input with one row of a [new, 2 * width + orig] kernel.
"""

from __future__ import annotations

import math

import numpy as np

from ltx_mlx_core.errors import InvalidRequest

LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99
# Kernel entries (new x (2 * width + orig)) above this mean rates with a tiny common divisor.
MAX_KERNEL_ENTRIES = 50_000_000


def sinc_resample_kernel(orig_freq: int, new_freq: int) -> tuple[np.ndarray, int]:
    """The [new, 2 * width + orig] polyphase kernel for gcd-reduced rates, and `width` (input samples)."""
    base = min(orig_freq, new_freq) * ROLLOFF
    width = math.ceil(LOWPASS_FILTER_WIDTH * orig_freq / base)
    if new_freq * (2 * width + orig_freq) > MAX_KERNEL_ENTRIES:
        raise InvalidRequest(
            f"Resampling by {new_freq}/{orig_freq} needs a filter too large to build; convert the sound to a "
            "common sample rate (16, 22.05, 24, 44.1 or 48 kHz) first."
        )
    # Time of each input tap relative to each output sample, in units of the lower rate's period.
    taps = np.arange(-width, width + orig_freq) / orig_freq
    t = (-np.arange(new_freq) / new_freq)[:, None] + taps[None, :]
    t = np.clip(t * base, -LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH)
    window = np.cos(t * math.pi / LOWPASS_FILTER_WIDTH / 2) ** 2
    kernel = np.sinc(t) * window * (base / orig_freq)
    return kernel, width


def resample(waveform: np.ndarray, orig_freq: int, new_freq: int) -> np.ndarray:
    """Resample along the last axis; the output has ceil(new * samples / orig) samples."""
    if orig_freq <= 0 or new_freq <= 0 or int(orig_freq) != orig_freq or int(new_freq) != new_freq:
        raise InvalidRequest(f"Sample rates must be positive whole numbers, got {orig_freq} and {new_freq}.")
    if orig_freq == new_freq:
        return np.asarray(waveform, dtype=np.float64)
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    kernel, width = sinc_resample_kernel(orig, new)
    x = np.asarray(waveform, dtype=np.float64)
    lead, length = x.shape[:-1], x.shape[-1]
    x = x.reshape(-1, length)
    padded = np.pad(x, [(0, 0), (width, width + orig)])
    # Window b starts at input sample b * orig; the first ceil(length / orig) + 1 windows cover the output.
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[1], axis=1)[:, ::orig]
    out = (windows @ kernel.T).reshape(x.shape[0], -1)
    target = math.ceil(new * length / orig)
    return out[:, :target].reshape(*lead, target)
