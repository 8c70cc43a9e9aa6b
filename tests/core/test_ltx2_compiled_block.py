"""The LTX-2 block compiled per input layout gives the plain block's numbers, one graph per layout."""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ltx_mlx_core.bench.workloads import randomize_parameters
from ltx_mlx_core.models.ltx2 import block as block_module
from ltx_mlx_core.models.ltx2.block import LTX2Block
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.perturbations import ISOLATE_MODALITIES, Perturbations, stg
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer, ModalityInput
from ltx_mlx_core.pipeline.ltx2.conditioning import audio_state, video_state
from ltx_mlx_core.pipeline.ltx2.latents import AudioLatentLayout

TINY = dict(
    num_attention_heads=2, attention_head_dim=8, in_channels=8, out_channels=8, num_layers=2,
    cross_attention_dim=16, caption_channels=12, audio_num_attention_heads=2, audio_attention_head_dim=4,
    audio_in_channels=128, audio_out_channels=128, audio_cross_attention_dim=8, rope_type="split",
    frequencies_precision="float64", av_ca_timestep_scale_multiplier=1000.0, apply_gated_attention=True,
    cross_attention_adaln=True,
)  # fmt: skip


def _inputs(batch: int) -> tuple[ModalityInput, ModalityInput]:
    video = video_state(batch, (2, 2, 3), 24.0, None, 8)
    audio = audio_state(batch, 5, AudioLatentLayout(), None)

    def stream(state, seed):
        latent = mx.random.normal(state.latent.shape, key=mx.random.key(seed))
        context = mx.random.normal((batch, 4, 12), key=mx.random.key(seed + 10))
        return ModalityInput(latent, mx.array([0.7] * batch), state.timesteps(0.7), state.positions, context)

    return stream(video, 1), stream(audio, 2)


def test_compiled_blocks_give_the_plain_numbers_under_every_perturbation(monkeypatch):
    model = LTX2Transformer(LTX2Config(**TINY))
    randomize_parameters(model, mx.float32, std=0.2)
    inputs = _inputs(3)
    # Three entries: plain, STG in block 1 only, modalities isolated: each block sees its own layout.
    perturbations = Perturbations(((), stg([1]), ISOLATE_MODALITIES))
    plain = model(*inputs, perturbations)
    # Compile on the CPU too (the engine compiles on GPUs only: on the CPU it costs more than it saves).
    monkeypatch.setattr(LTX2Block, "_compiles", lambda self: True)
    compiled = model(*inputs, perturbations)
    again = model(*inputs, perturbations)
    for a, b, c in zip(plain, compiled, again):
        np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(np.array(c), np.array(b))
    assert [len(block._compiled_forwards) for block in model.transformer_blocks] == [1, 1]
    model(*inputs, Perturbations.none(3))  # another layout: one more graph per block
    assert [len(block._compiled_forwards) for block in model.transformer_blocks] == [2, 2]


def test_a_block_evaluated_inside_or_shared_runs_plainly(monkeypatch):
    model = LTX2Transformer(LTX2Config(**TINY))
    randomize_parameters(model, mx.float32, std=0.2)
    monkeypatch.setattr(block_module, "COMPILE_BLOCKS_ON_GPU", True)
    monkeypatch.setattr(mx, "default_device", lambda: mx.Device(mx.gpu))
    block = model.transformer_blocks[0]
    assert block._compiles()
    block.attn1.shard = object()  # set by ltx_mlx_core.distributed when processes share the model
    assert not block._compiles()
    monkeypatch.setattr(block_module, "COMPILE_BLOCKS_ON_GPU", False)
    block.attn1.shard = None
    assert not block._compiles()
