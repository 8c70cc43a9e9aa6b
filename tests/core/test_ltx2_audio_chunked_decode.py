"""Chunked audio decoding (latents -> audio VAE decoder -> vocoder) equals one-shot, in less memory."""

from __future__ import annotations

import logging

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2 import audio_decode
from ltx_mlx_core.models.ltx2.audio_decode import decoded_samples, iter_decode_audio, plan_audio_chunks
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig
from tests.core.ltx2_audio_builders import BIGVGAN, TOY_BWE_GENERATOR, random_audio_vae, random_vocoder

logger = logging.getLogger(__name__)

# The released decoder's structure (causal in time, two residual blocks per level + 1) at toy width.
TINY_VAE = AudioVAEConfig(ch=16, z_channels=4, mel_bins=16, attn_resolutions=(), mid_block_add_attention=False)
# The released vocoders' upsampling and residual structure (LTX-2, LTX-2.3) at toy width.
HIFIGAN = VocoderConfig(upsample_initial_channel=64, in_channels=32)
BWE = BWEConfig(
    vocoder=VocoderConfig(
        **BIGVGAN,
        upsample_rates=(5, 2, 2, 2, 2, 2),
        upsample_kernel_sizes=(11, 4, 4, 4, 4, 4),
        upsample_initial_channel=64,
        in_channels=32,
        output_sampling_rate=16000,
    ),
    generator=TOY_BWE_GENERATOR,
    num_mels=16,
)


def _latents(frames: int, seed: int = 0) -> mx.array:
    return mx.random.normal((1, TINY_VAE.z_channels, frames, TINY_VAE.latent_mel_bins), key=mx.random.key(seed))


def _chunked(vae, vocoder, latents, chunk_frames, **kwargs) -> np.ndarray:
    pieces = []
    for piece in iter_decode_audio(vae, vocoder, latents, chunk_frames=chunk_frames, **kwargs):
        mx.eval(piece)
        pieces.append(np.array(piece))
    return np.concatenate(pieces, axis=-1)


def test_chunks_partition_the_spectrogram_frames():
    plan = plan_audio_chunks(latent_frames=23, chunk_frames=5, decoder_context=7, vocoder_context=3)

    assert plan[0].keep_start == 0 and plan[-1].keep_stop == 4 * 23 - 3
    assert all(a.keep_stop == b.keep_start for a, b in zip(plan, plan[1:]))
    assert all(c.mel_start <= c.keep_start and c.keep_stop <= c.mel_stop for c in plan)


@pytest.mark.parametrize("vocoder_config", [HIFIGAN, BWE], ids=["hifigan", "bigvgan_bwe"])
def test_chunked_decode_equals_one_shot(vocoder_config):
    vae, vocoder = random_audio_vae(TINY_VAE, seed=1), random_vocoder(vocoder_config, seed=2)
    latents = _latents(31)

    one_shot = np.array(vocoder(vae.decode(latents)))
    chunked = _chunked(vae, vocoder, latents, chunk_frames=10)

    assert chunked.shape == one_shot.shape == (1, 2, decoded_samples(TINY_VAE, vocoder, 31))
    error = float(np.max(np.abs(chunked - one_shot)))
    logger.info("chunked vs one-shot audio decode (%s): max abs error %.3g", type(vocoder).__name__, error)
    assert error <= 1e-5 * float(np.max(np.abs(one_shot)))


def test_chunked_decode_cuts_at_the_requested_length_and_refuses_to_invent_samples():
    vae, vocoder = random_audio_vae(TINY_VAE, seed=1), random_vocoder(HIFIGAN, seed=2)
    latents = _latents(20)
    full = _chunked(vae, vocoder, latents, chunk_frames=7)

    cut = _chunked(vae, vocoder, latents, chunk_frames=7, num_samples=5000)

    np.testing.assert_array_equal(cut, full[..., :5000])
    with pytest.raises(InvalidRequest, match="encode the sound padded"):
        next(iter_decode_audio(vae, vocoder, latents, num_samples=full.shape[-1] + 1))


def _peak_bytes(run) -> int:
    mx.synchronize()
    mx.clear_cache()
    mx.reset_peak_memory()
    run()
    return mx.get_peak_memory()


def test_chunked_decode_of_a_long_clip_needs_a_fraction_of_the_memory():
    vae, vocoder = random_audio_vae(TINY_VAE, seed=1), random_vocoder(HIFIGAN, seed=2)
    mx.eval(vae.parameters(), vocoder.parameters())
    latents = _latents(200)  # 8 s at 25 latent frames per second
    mx.eval(latents)

    one_shot = _peak_bytes(lambda: mx.eval(vocoder(vae.decode(latents))))
    chunked = _peak_bytes(lambda: _chunked(vae, vocoder, latents, chunk_frames=20))

    ratio = chunked / one_shot
    logger.info("audio decode peak memory: one-shot %d B, chunked %d B, ratio %.3f", one_shot, chunked, ratio)
    assert ratio < 0.35


def test_too_little_context_leaves_seams(monkeypatch):
    """The exactness above rests on the context bounds: without them the chunk edges differ."""
    vae, vocoder = random_audio_vae(TINY_VAE, seed=1), random_vocoder(HIFIGAN, seed=2)
    latents = _latents(30)
    one_shot = np.array(vocoder(vae.decode(latents)))
    monkeypatch.setattr(audio_decode, "decoder_context_frames", lambda config: 1)
    monkeypatch.setattr(audio_decode, "vocoder_context_frames", lambda config: 0)

    seamed = _chunked(vae, vocoder, latents, chunk_frames=6)

    assert float(np.max(np.abs(seamed - one_shot))) > 1e-3 * float(np.max(np.abs(one_shot)))
