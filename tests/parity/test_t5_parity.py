"""Our MLX T5 encoder against transformers' T5EncoderModel (tiny random weights, HF folder layout).

Measured on CPU (relative max error = max|ours-ref| / max|ref|): float32 1.4e-6;
bfloat16 (weights and activations) 2.2e-2; the test bound is 3e-2.
"""
from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from transformers import T5Config as HFT5Config
from transformers import T5EncoderModel

from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.models.t5 import T5Config, T5Encoder
from ltx_mlx_core.models.text_encoding import encode_prompts, load_tokenizer, tokenize
from ltx_mlx_core.weights.t5_keys import sanitize_hf_t5, to_hf_t5
from ltx_mlx_core.weights.tiny_tokenizer import write_tiny_t5_tokenizer
from tests.parity.conftest import relative_max_error, torch_to_mlx

TINY = dict(vocab_size=300, d_model=48, d_kv=8, d_ff=96, num_layers=3, num_heads=6,
            relative_attention_num_buckets=32, relative_attention_max_distance=128,
            feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6)


def reference_t5(seed: int = 0, **overrides) -> T5EncoderModel:
    torch.manual_seed(seed)
    model = T5EncoderModel(HFT5Config(**{**TINY, **overrides}, dropout_rate=0.0)).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.3)
    return model


def ours_from(model: T5EncoderModel, tmp_path, dtype=mx.float32) -> T5Encoder:
    """Through a real file: the HF state dict saved as safetensors, read back, sanitised."""
    path = tmp_path / "model.safetensors"
    # Hugging Face files keep the tied embedding once, as shared.weight.
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}
    save_file(state, str(path))
    weights = {k: v.astype(dtype) for k, v in mx.load(str(path)).items()}
    encoder = T5Encoder(T5Config.from_dict(model.config.to_dict()))
    encoder.load_weights(list(sanitize_hf_t5(weights).items()), strict=True)
    return encoder


def ids_and_mask(batch_lengths, length=20, vocab=300, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, vocab, size=(len(batch_lengths), length))
    mask = np.zeros_like(ids)
    for row, n in enumerate(batch_lengths):
        mask[row, :n] = 1
        ids[row, n:] = 0
    return ids, mask


@pytest.mark.parametrize("heads,lengths", [(6, [20, 7]), (5, [13]), (3, [1, 20])])
def test_encoder_matches_reference_in_float32_with_padding(tmp_path, heads, lengths):
    model = reference_t5(num_heads=heads)
    ours = ours_from(model, tmp_path)
    ids, mask = ids_and_mask(lengths)
    with torch.no_grad():
        expected = model(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    got = ours(mx.array(ids), mx.array(mask))
    valid = mask.astype(bool)
    error = relative_max_error(np.array(got)[valid], expected.numpy()[valid])
    assert error <= 1e-4, error


def test_encoder_in_bfloat16_stays_within_stated_tolerance(tmp_path):
    model = reference_t5()
    ours = ours_from(model, tmp_path, dtype=mx.bfloat16)
    ids, mask = ids_and_mask([20, 9])
    with torch.no_grad():
        expected = model(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    got = ours(mx.array(ids), mx.array(mask)).astype(mx.float32)
    valid = mask.astype(bool)
    assert relative_max_error(np.array(got)[valid], expected.numpy()[valid]) < 3e-2


def test_hf_key_mapping_round_trips(tmp_path):
    model = reference_t5()
    state = {k: torch_to_mlx(v) for k, v in model.state_dict().items()}
    back = to_hf_t5(sanitize_hf_t5(state))
    assert set(back) == set(state)


def test_unknown_or_missing_keys_are_named(tmp_path):
    state = {k: torch_to_mlx(v) for k, v in reference_t5().state_dict().items()}
    with pytest.raises(CheckpointError, match="encoder.block.0.layer.9.extra.weight"):
        sanitize_hf_t5({**state, "encoder.block.0.layer.9.extra.weight": mx.zeros((1,))})
    del state["shared.weight"], state["encoder.embed_tokens.weight"]
    with pytest.raises(CheckpointError, match="token embedding"):
        sanitize_hf_t5(state)


def test_mismatched_mask_is_a_clear_error(tmp_path):
    ours = ours_from(reference_t5(), tmp_path)
    with pytest.raises(InvalidRequest, match="must match the token ids"):
        ours(mx.zeros((2, 8), dtype=mx.int32), mx.ones((2, 7), dtype=mx.int32))


def test_prompt_encoding_tokenises_like_the_reference_and_handles_empty_prompts(tmp_path):
    tokenizer = load_tokenizer(write_tiny_t5_tokenizer(tmp_path / "tokenizer"))
    prompts = ["  A red cat walks slowly on the beach ", ""]
    ids, mask = tokenize(tokenizer, prompts, max_length=16)
    # What the reference's encode_prompt asks the tokenizer for (prompt stripped first).
    expected = tokenizer([p.strip() for p in prompts], padding="max_length", max_length=16,
                         truncation=True, add_special_tokens=True, return_tensors="np")
    np.testing.assert_array_equal(np.array(ids), expected["input_ids"])
    np.testing.assert_array_equal(np.array(mask), expected["attention_mask"])
    assert np.array(mask)[1].sum() == 1  # the empty prompt still has its </s>
    model = reference_t5(vocab_size=len(tokenizer))
    ours = ours_from(model, tmp_path)
    embeds, out_mask = encode_prompts(tokenizer, ours, prompts, max_length=16)
    with torch.no_grad():
        reference = model(torch.from_numpy(np.array(ids)).long(),
                          attention_mask=torch.from_numpy(np.array(mask)).long()).last_hidden_state
    valid = np.array(out_mask).astype(bool)
    assert embeds.shape == (2, 16, TINY["d_model"])
    assert relative_max_error(np.array(embeds)[valid], reference.numpy()[valid]) <= 1e-4
