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
    def __init__(self, points: int = 1):
        super().__init__(every=1, in_flight=2, points=points)
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


def _stage_means_summed_afterwards(generator, x: mx.array) -> mx.array:
    """forward_channels_last as it was before the stage sums moved into the blocks: every block's
    output kept, then summed and divided (the reference's order)."""
    cfg = generator.config
    x = mx.conv1d(x, generator.conv_pre.weight, padding=3) + generator.conv_pre.bias
    per_stage = len(cfg.resblock_kernel_sizes)
    for i, up in enumerate(generator.ups):
        x = up(x)
        outputs = [block(x) for block in generator.resblocks[i * per_stage : (i + 1) * per_stage]]
        total = outputs[0]
        for output in outputs[1:]:
            total = total + output
        x = total / len(outputs)
    return mx.conv1d(generator.act_post(x), generator.conv_post.weight, padding=3)


def test_stage_means_summed_in_the_blocks_are_bit_identical(vocoder_and_mel):
    vocoder, mel = vocoder_and_mel
    first = vocoder.vocoder
    np.testing.assert_array_equal(
        np.array(first.forward_channels_last(mel)), np.array(_stage_means_summed_afterwards(first, mel))
    )


def test_a_point_inside_each_pair_gives_the_same_samples(vocoder_and_mel):
    vocoder, mel = vocoder_and_mel
    whole, _ = _run(vocoder, mel, None)
    evaluator = CountingEvaluator(points=2)
    halves, _ = _run(vocoder, mel, evaluator)
    np.testing.assert_array_equal(halves, whole)
    config = vocoder.config
    stages = len(config.vocoder.upsample_rates) + len(config.generator.upsample_rates)
    # The after-pair calls as before; within_block adds one schedule per residual pair.
    assert evaluator.calls == stages * (1 + 3 * 3)
    assert evaluator.scheduled == stages * (1 + 2 * 3 * 3)
