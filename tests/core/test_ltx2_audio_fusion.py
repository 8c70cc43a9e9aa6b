"""The audio decoders' GPU graphs (fused kernels, biases folded into them) compute what the CPU's do, in few kernels."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.bench.graph_ops import count_graph_ops
from ltx_mlx_core.models.common.fusion import fused_on_every_device
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.vocoder import Vocoder
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig
from tests.core.ltx2_audio_builders import BIGVGAN, TOY_BWE_GENERATOR, random_audio_vae, random_vocoder

HIFIGAN = VocoderConfig(upsample_initial_channel=32, in_channels=32)
BWE = BWEConfig(
    vocoder=VocoderConfig(
        **BIGVGAN, upsample_rates=(5, 4), upsample_kernel_sizes=(11, 8), upsample_initial_channel=16, in_channels=32
    ),
    generator=TOY_BWE_GENERATOR,
    num_mels=16,
)


def _generator_kernels(config: VocoderConfig) -> int:
    """Kernels of a generator's GPU graph, by the structure of its residual pairs and stages.

    A pair: two anti-aliased activations of 4 kernels each (AMP) or a leaky ReLU, two convolutions, and
    the second's bias with the residual add (the first's bias rides in the kernel after it; a block's last
    add also sums the stage's blocks, and in the last block takes their mean). A stage: the upsampling
    convolution and its bias. Around them: conv_pre and its bias, the
    last activation and convolution, its bias and final activation in one kernel."""
    stages = len(config.upsample_rates)
    pairs = stages * sum(len(d) for d in config.resblock_dilation_sizes)
    per_pair = 2 * 4 + 2 + 1 if config.is_amp else 1 + 2 + 2
    ends = 2 + (4 if config.is_amp else 0) + 1 + (config.use_bias_at_final or config.final_activation is not None)
    return pairs * per_pair + 2 * stages + ends


@pytest.mark.parametrize("config", [HIFIGAN, BWE], ids=["hifigan", "bigvgan_bwe"])
def test_fused_vocoder_gives_the_plain_waveform_in_few_kernels(config) -> None:
    vocoder = random_vocoder(config, seed=2)
    mel = mx.random.normal((1, 2, 7, 16), key=mx.random.key(4)) - 4
    mx.eval(mel, vocoder.parameters())
    plain = vocoder(mel)
    with fused_on_every_device():
        fused = vocoder(mel)
        kernels = count_graph_ops(fused).kernels
    if isinstance(vocoder, Vocoder):  # +1: the stereo mel's stacking reshapes a transposed view (a copy)
        assert kernels == _generator_kernels(vocoder.config) + 1
    else:  # that copy, the BWE's log-mel (2 more: channels to batch and back) and resampler: about 20 kernels
        generators = _generator_kernels(vocoder.vocoder.config) + _generator_kernels(vocoder.bwe_generator.config)
        assert generators < kernels <= generators + 20
    np.testing.assert_allclose(np.array(fused), np.array(plain), rtol=1e-5, atol=1e-6)


def test_fused_audio_vae_decoder_gives_the_plain_spectrogram() -> None:
    """Residual adds with the second convolution's bias; on a GPU each pixel norm + SiLU is one kernel too."""
    vae = random_audio_vae(AudioVAEConfig(ch=16, z_channels=4, mel_bins=16, attn_resolutions=()), seed=3)
    latents = mx.random.normal((1, 4, 5, 4), key=mx.random.key(6))
    mx.eval(latents, vae.parameters())
    plain = vae.decode(latents)
    with fused_on_every_device():
        fused = vae.decode(latents)
    np.testing.assert_allclose(np.array(fused), np.array(plain), rtol=1e-5, atol=1e-5)
