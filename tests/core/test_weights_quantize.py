"""8/4-bit quantisation on load, and the MLX-native cache that makes the next load skip the source."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core.bench.workloads import VideoShape
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltxv.t5 import T5Config
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.pipeline.config import load_pipeline_config
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.stage_runner import StageRunner
from ltx_mlx_core.weights import layout_hf_t5, layout_official, loader
from ltx_mlx_core.weights.quantize import cache_path
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.tiny import TINY_T5, ModelShapes, write_tiny_model
from tests.core.test_weights_loading import step_inputs

# Widths divisible by the quantisation group (64), so every linear layer is quantised.
SHAPES = ModelShapes(
    transformer=TransformerConfig(
        num_attention_heads=4, attention_head_dim=32, num_layers=2, cross_attention_dim=128, caption_channels=64
    ),
    t5=T5Config(**{**TINY_T5.__dict__, "d_model": 64, "d_ff": 128, "d_kv": 16}),
)


@pytest.fixture
def files(tmp_path):
    return write_tiny_model(tmp_path, shapes=SHAPES)


def as_numpy(array: mx.array) -> np.ndarray:
    return np.array(array.astype(mx.float32) if array.dtype == mx.bfloat16 else array)


def count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_second_quantised_load_comes_from_the_cache_without_reading_the_checkpoint(files, monkeypatch):
    first = loader.load_transformer(files, mx.bfloat16, quantize_bits=8)
    cached = cache_path(files.checkpoint, "transformer", 8, mx.bfloat16)
    assert cached.is_file()
    reads = count_calls(monkeypatch, layout_official, "read_transformer")
    second = loader.load_transformer(files, mx.bfloat16, quantize_bits=8)
    assert reads == []
    a, b = dict(tree_flatten(first.parameters())), dict(tree_flatten(second.parameters()))
    assert sorted(a) == sorted(b) and any(name.endswith(".scales") for name in a)
    for name in a:
        np.testing.assert_array_equal(as_numpy(a[name]), as_numpy(b[name]), err_msg=name)
    np.testing.assert_array_equal(
        np.array(first(*step_inputs(first)).astype(mx.float32)),
        np.array(second(*step_inputs(second)).astype(mx.float32)),
    )


def test_cache_is_keyed_to_the_source_file_and_bits(files):
    loader.load_transformer(files, mx.bfloat16, quantize_bits=8)
    eight = cache_path(files.checkpoint, "transformer", 8, mx.bfloat16)
    assert cache_path(files.checkpoint, "transformer", 4, mx.bfloat16) != eight
    files.checkpoint.touch()  # a re-downloaded checkpoint must not reuse a stale cache
    import os

    os.utime(files.checkpoint, ns=(1, 1))
    assert cache_path(files.checkpoint, "transformer", 8, mx.bfloat16) != eight


def test_unreadable_cache_is_replaced_not_trusted(files):
    cached = cache_path(files.checkpoint, "transformer", 8, mx.bfloat16)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    model = loader.load_transformer(files, mx.bfloat16, quantize_bits=8)
    assert mx.isfinite(model(*step_inputs(model))).all()
    assert cached.stat().st_size > 1000


def test_four_bit_transformer_and_eight_bit_t5_stay_close(files):
    full = loader.load_transformer(files, mx.bfloat16)
    four = loader.load_transformer(files, mx.bfloat16, quantize_bits=4, cache_quantized=False)
    a = full(*step_inputs(full)).astype(mx.float32)
    b = four(*step_inputs(four)).astype(mx.float32)
    four_bit_error = float(mx.abs(a - b).max() / mx.abs(a).max())
    _, t5 = loader.load_text_encoder(files, mx.float32)
    _, t5_q = loader.load_text_encoder(files, mx.float32, quantize_bits=8)
    assert layout_hf_t5.t5_config(files.text_encoder_dir).d_model == 64
    assert any(name.endswith(".scales") for name, _ in tree_flatten(t5_q.parameters()))
    ids = mx.array([[5, 6, 7, 1]])
    t5_error = float(
        mx.abs(t5(ids, mx.ones((1, 4))) - t5_q(ids, mx.ones((1, 4)))).max() / mx.abs(t5(ids, mx.ones((1, 4)))).max()
    )
    print(f"4-bit transformer relative max error {four_bit_error:.2e}; 8-bit T5 {t5_error:.2e}")
    assert four_bit_error < 0.25
    assert t5_error < 0.05


def test_bad_bits_are_refused(files):
    with pytest.raises(InvalidRequest, match="4 or 8 bits"):
        loader.load_transformer(files, quantize_bits=3)


def test_quantised_blocks_stream_from_the_cache_and_compute_what_resident_ones_do(files, monkeypatch):
    resident = loader.load_transformer(files, mx.float32, quantize_bits=8)
    reads = count_calls(monkeypatch, loader, "block_weights_in_file")
    streamed = loader.load_transformer(files, mx.float32, quantize_bits=8, residency=ResidencyMode.STREAM_BLOCKS)
    assert not any(name.startswith("transformer_blocks") for name, _ in tree_flatten(streamed.parameters()))
    for step in range(2):  # the second step reads the blocks again
        np.testing.assert_array_equal(
            np.array(streamed(*step_inputs(streamed))), np.array(resident(*step_inputs(resident)))
        )
        assert len(reads) == step + 1
    assert reads[0][0] == cache_path(files.checkpoint, "transformer", 8, mx.float32)
    with pytest.raises(InvalidRequest, match="quantised-weights cache"):
        loader.load_transformer(files, quantize_bits=8, residency=ResidencyMode.STREAM_BLOCKS, cache_quantized=False)


def test_a_streamed_quantised_step_holds_far_less_than_the_quantised_weights(tmp_path):
    """~50 MB of float32 transformer (8 blocks), ~13 MB at 8 bits: a step with the 8-bit blocks streamed
    holds less than half of what the same step holds with them resident."""
    shapes = ModelShapes(
        transformer=TransformerConfig(
            num_attention_heads=4, attention_head_dim=64, num_layers=8, cross_attention_dim=256, caption_channels=64
        )
    )
    files = write_tiny_model(tmp_path, shapes=shapes)

    def peak_of_one_step(mode: ResidencyMode) -> tuple[int, int]:
        mx.clear_cache()
        mx.reset_peak_memory()
        before = mx.get_active_memory()  # arrays earlier tests keep (e.g. in caches) are not this step's
        model = loader.load_transformer(files, mx.float32, quantize_bits=8, residency=mode)
        loaded = mx.get_peak_memory() - before
        mx.eval(model(*step_inputs(model, VideoShape(64, 64, 9))))
        peak = mx.get_peak_memory() - before
        del model
        mx.clear_cache()
        return loaded, peak

    first_load, _ = peak_of_one_step(ResidencyMode.STREAM_BLOCKS)  # quantises into the cache
    _, resident = peak_of_one_step(ResidencyMode.RESIDENT)
    _, streamed = peak_of_one_step(ResidencyMode.STREAM_BLOCKS)
    quantised = cache_path(files.checkpoint, "transformer", 8, mx.float32).stat().st_size
    print(
        f"8-bit transformer {quantised / 2**20:.1f} MiB; quantising into the cache peaked at "
        f"{first_load / 2**20:.1f} MiB; step peak resident {resident / 2**20:.1f} MiB, "
        f"streamed {streamed / 2**20:.1f} MiB"
    )
    assert resident > quantised
    assert streamed < 0.5 * resident
    # Quantising into the cache holds about one layer (full precision and quantised), never the whole model.
    assert first_load < 0.5 * quantised


def test_an_eight_bit_request_encodes_its_prompt_with_an_eight_bit_t5(files):
    """GenerationRequest.quantize_bits covers both quantised components: the transformer and T5."""
    config = load_pipeline_config("tiny.yaml")  # float32
    plain = GenerationRequest(prompt="a red ball on grass", model="q")
    eight = GenerationRequest(prompt="a red ball on grass", model="q", quantize_bits=8)
    reference = StageRunner(files, plain, config, ResidencyMode.RESIDENT).encode_text().embeds
    quantised_cache = cache_path(files.text_encoder_dir, "t5", 8, mx.float32)
    assert not quantised_cache.exists()
    quantised = StageRunner(files, eight, config, ResidencyMode.RESIDENT).encode_text().embeds
    assert quantised_cache.is_file()  # the 8-bit T5 was built (and cached for the next load)
    assert any(name.endswith(".scales") for name in mx.load(str(quantised_cache)))
    error = float(mx.abs(quantised - reference).max() / mx.abs(reference).max())
    print(f"prompt embeddings, 8-bit T5 vs float32: relative max error {error:.2e}")
    assert 0 < error < 0.05
