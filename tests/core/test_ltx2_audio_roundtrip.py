"""A stereo WAV through the mel front end, audio encoder, decoder and vocoder keeps its length and channels.

Random weights: the sound is not reproduced, its shape is. The sweep lasts 1.23 s, not a whole
number of latent frames (40 ms), so the front end must pad it for the decode to cover it.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.audio_decode import decoded_samples, iter_decode_audio
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.mel import waveform_to_mel
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig
from tests.core.ltx2_audio_builders import random_audio_vae, random_vocoder

SECONDS, FILE_RATE = 1.23, 44100
# The released front end (64 mel bins at 16 kHz, hop 160) and structure, toy widths.
VAE = AudioVAEConfig(ch=32, z_channels=2, mel_bins=64, attn_resolutions=(), mid_block_add_attention=False)
AMP = dict(resblock="AMP1", activation="snakebeta", final_activation=None, use_bias_at_final=False)
VOCODERS = {
    "hifigan_24k": VocoderConfig(upsample_initial_channel=64),
    "bigvgan_bwe_48k": BWEConfig(
        vocoder=VocoderConfig(
            **AMP,
            upsample_rates=(5, 2, 2, 2, 2, 2),
            upsample_kernel_sizes=(11, 4, 4, 4, 4, 4),
            upsample_initial_channel=64,
            output_sampling_rate=16000,
        ),
        generator=VocoderConfig(
            **AMP,
            upsample_rates=(6, 5, 2, 2, 2),
            upsample_kernel_sizes=(12, 11, 4, 4, 4),
            upsample_initial_channel=32,
            output_sampling_rate=48000,
        ),
    ),
}


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """[channels, samples] floats in [-1, 1] -> 16-bit PCM WAV."""
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.T.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as source:
        channels, rate, frames = source.getnchannels(), source.getframerate(), source.getnframes()
        pcm = np.frombuffer(source.readframes(frames), dtype="<i2")
    return pcm.reshape(frames, channels).T.astype(np.float64) / 32768.0, rate


def tone_sweep(seconds: float, rate: int) -> np.ndarray:
    """Left: 200 Hz -> 4 kHz; right: 4 kHz -> 200 Hz; [2, samples]."""
    t = np.arange(round(seconds * rate)) / rate
    rise = 200 * t + (4000 - 200) / (2 * seconds) * t**2
    fall = 4000 * t - (4000 - 200) / (2 * seconds) * t**2
    return 0.6 * np.sin(2 * np.pi * np.stack([rise, fall]))


@pytest.mark.parametrize("name", sorted(VOCODERS))
def test_tone_sweep_wav_round_trip_keeps_duration_to_the_sample_and_stereo(name, tmp_path):
    vae, vocoder = random_audio_vae(VAE, seed=4), random_vocoder(VOCODERS[name], seed=5)
    write_wav(tmp_path / "sweep.wav", tone_sweep(SECONDS, FILE_RATE), FILE_RATE)
    samples, rate = read_wav(tmp_path / "sweep.wav")
    out_rate = vocoder.output_sampling_rate
    target = round(samples.shape[1] * out_rate / rate)
    assert samples.shape == (2, round(SECONDS * FILE_RATE)) and target == round(SECONDS * out_rate)

    latents = vae.encode(waveform_to_mel(samples, rate, VAE, whole_latent_frames=True))
    pieces = [np.array(piece) for piece in iter_decode_audio(vae, vocoder, latents, chunk_frames=8, num_samples=target)]
    write_wav(tmp_path / "decoded.wav", np.concatenate(pieces, axis=-1)[0], out_rate)
    decoded, decoded_rate = read_wav(tmp_path / "decoded.wav")

    assert (decoded.shape, decoded_rate) == ((2, target), out_rate)
    # Padding added at most one latent frame (4 hops at 16 kHz), plus the STFT's centre frame.
    frames_16k = round(SECONDS * VAE.sampling_rate)
    assert latents.shape == (1, VAE.z_channels, math.ceil(frames_16k / 640) + 1, VAE.latent_mel_bins)
    excess = decoded_samples(VAE, vocoder, latents.shape[2]) - target
    assert 0 <= excess < 5 * vocoder.config.hop


def test_without_padding_the_tail_of_the_sound_is_not_encoded():
    vae, vocoder = random_audio_vae(VAE, seed=4), random_vocoder(VOCODERS["hifigan_24k"], seed=5)
    samples = tone_sweep(SECONDS, FILE_RATE)

    latents = vae.encode(waveform_to_mel(samples, FILE_RATE, VAE))
    mx.eval(latents)

    with pytest.raises(InvalidRequest, match="padded to whole latent frames"):
        next(iter_decode_audio(vae, vocoder, latents, num_samples=round(SECONDS * 24000)))
