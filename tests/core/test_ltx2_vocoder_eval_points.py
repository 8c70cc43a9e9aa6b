"""The vocoders evaluated after every residual pair (the pipeline's sound decode): the same samples,
a smaller peak than one graph per chunk."""

from __future__ import annotations

import dataclasses

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig
from ltx_mlx_core.pipeline.block_eval import BlockEvaluator
from ltx_mlx_core.weights.ltx2_full_size import full_size
from tests.core.ltx2_audio_builders import random_vocoder

WIDTH = 64  # the release's stages and kernels, 1/16 of its channels
MEL_FRAMES = 48


def _release_shaped_bwe() -> BWEConfig:
    release = full_size("2.3").vocoder
    return dataclasses.replace(
        release,
        vocoder=dataclasses.replace(release.vocoder, upsample_initial_channel=WIDTH),
        generator=dataclasses.replace(release.generator, upsample_initial_channel=WIDTH),
    )


@pytest.fixture(scope="module")
def vocoder_and_mel():
    config = _release_shaped_bwe()
    vocoder = random_vocoder(config, seed=3)
    mel = mx.random.normal((1, MEL_FRAMES, config.vocoder.in_channels), key=mx.random.key(5)) - 4
    mx.eval(mel, vocoder.parameters())
    return vocoder, mel


class CountingEvaluator(BlockEvaluator):
    def __init__(self):
        super().__init__(every=1, in_flight=2)
        self.calls = 0

    def __call__(self, index, *states):
        self.calls += 1
        super().__call__(index, *states)


def _run(vocoder, mel, after_block) -> tuple[np.ndarray, int]:
    mx.synchronize()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    wave = vocoder.forward_channels_last(mel, after_block)
    mx.eval(wave)
    if after_block is not None:
        after_block.finish()
    return np.array(wave), mx.get_peak_memory() - before


def test_pairs_evaluated_one_by_one_give_the_same_samples_with_a_third_less_memory(vocoder_and_mel):
    vocoder, mel = vocoder_and_mel
    whole, whole_peak = _run(vocoder, mel, None)
    evaluator = CountingEvaluator()
    paired, paired_peak = _run(vocoder, mel, evaluator)
    np.testing.assert_array_equal(paired, whole)
    # Both generators: per stage its upsampling, then 3 blocks of 3 residual pairs.
    config = vocoder.config
    stages = len(config.vocoder.upsample_rates) + len(config.generator.upsample_rates)
    assert evaluator.calls == evaluator.scheduled == stages * (1 + 3 * 3)
    print(f"peak above the weights: one graph {whole_peak / 2**20:.1f} MiB, pairs {paired_peak / 2**20:.1f} MiB")
    assert paired_peak < 0.8 * whole_peak
