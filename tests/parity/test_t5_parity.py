"""Our MLX T5 encoder against transformers' T5EncoderModel (tiny random weights, HF folder layout),
and our prompt encoding against the reference LTXVideoPipeline.encode_prompt.

Measured on CPU (relative max error = max|ours-ref| / max|ref|, reference in float32):
float32 1.4e-6 (6 heads), 4.8e-7 (5 heads), 9.9e-7 (3 heads), bound 1e-4;
bfloat16 weights and activations 1.8e-2, bound 3e-2; float16 3.4e-3, bound 1e-2.
"""

from __future__ import annotations

import types

import mlx.core as mx
import numpy as np
import pytest
import torch
from ltx_video.pipelines.pipeline_ltx_video import LTXVideoPipeline
from safetensors.torch import save_file
from transformers import T5Config as HFT5Config
from transformers import T5EncoderModel
from transformers.models.t5.modeling_t5 import T5Attention

from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.models.ltxv.t5 import T5Config, T5Encoder, relative_position_buckets
from ltx_mlx_core.models.ltxv.t5_keys import sanitize_hf_t5, to_hf_t5
from ltx_mlx_core.models.ltxv.text_encoding import encode_prompts, load_tokenizer, tokenize
from ltx_mlx_core.weights.tiny_tokenizer import write_tiny_t5_tokenizer
from tests.parity.conftest import relative_max_error, torch_to_mlx

FLOAT16_TOLERANCE = 1e-2  # measured 3.4e-3
TINY = dict(
    vocab_size=300,
    d_model=48,
    d_kv=8,
    d_ff=96,
    num_layers=3,
    num_heads=6,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    feed_forward_proj="gated-gelu",
    layer_norm_epsilon=1e-6,
)


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
    with pytest.raises(InvalidRequest, match=r"\[batch, length\]; got \(8,\)"):
        ours(mx.zeros((8,), dtype=mx.int32))


def test_a_tokenizer_larger_than_the_embedding_table_is_refused(tmp_path):
    tokenizer = load_tokenizer(write_tiny_t5_tokenizer(tmp_path / "tokenizer"))
    ours = ours_from(reference_t5(vocab_size=len(tokenizer) - 1), tmp_path)
    with pytest.raises(CheckpointError, match=f"tokenizer has {len(tokenizer)} tokens"):
        encode_prompts(tokenizer, ours, ["a cat"], max_length=8)


def test_prompt_encoding_tokenises_like_the_reference_and_handles_empty_prompts(tmp_path):
    tokenizer = load_tokenizer(write_tiny_t5_tokenizer(tmp_path / "tokenizer"))
    prompts = ["  A red cat walks slowly on the beach ", ""]
    ids, mask = tokenize(tokenizer, prompts, max_length=16)
    # What the reference's encode_prompt asks the tokenizer for (prompt stripped first).
    expected = tokenizer(
        [p.strip() for p in prompts],
        padding="max_length",
        max_length=16,
        truncation=True,
        add_special_tokens=True,
        return_tensors="np",
    )
    np.testing.assert_array_equal(np.array(ids), expected["input_ids"])
    np.testing.assert_array_equal(np.array(mask), expected["attention_mask"])
    assert np.array(mask)[1].sum() == 1  # the empty prompt still has its </s>
    model = reference_t5(vocab_size=len(tokenizer))
    ours = ours_from(model, tmp_path)
    embeds, out_mask = encode_prompts(tokenizer, ours, prompts, max_length=16)
    with torch.no_grad():
        reference = model(
            torch.from_numpy(np.array(ids)).long(), attention_mask=torch.from_numpy(np.array(mask)).long()
        ).last_hidden_state
    valid = np.array(out_mask).astype(bool)
    assert embeds.shape == (2, 16, TINY["d_model"])
    assert relative_max_error(np.array(embeds)[valid], reference.numpy()[valid]) <= 1e-4


def reference_encode_prompt(tokenizer, model, prompts, negative_prompt, max_length):
    """LTXVideoPipeline.encode_prompt itself, on a stand-in pipeline holding only what it reads."""
    pipeline = types.SimpleNamespace(
        tokenizer=tokenizer, text_encoder=model, transformer=None, _execution_device=torch.device("cpu")
    )
    pipeline._text_preprocessing = lambda text: LTXVideoPipeline._text_preprocessing(pipeline, text)
    with torch.no_grad():
        return LTXVideoPipeline.encode_prompt(
            pipeline,
            prompts,
            do_classifier_free_guidance=True,
            negative_prompt=negative_prompt,
            text_encoder_max_tokens=max_length,
        )


@pytest.mark.parametrize("negative_prompt", ["", "  blurry dark  "])
def test_encode_prompts_matches_the_reference_encode_prompt(tmp_path, negative_prompt):
    tokenizer = load_tokenizer(write_tiny_t5_tokenizer(tmp_path / "tokenizer"))
    model = reference_t5(vocab_size=len(tokenizer))
    ours = ours_from(model, tmp_path)
    prompts = [
        "  A red cat walks slowly on the beach ",
        "the camera pans over a green forest at sunset while a bird flies over the river",
    ]  # truncated
    embeds, mask, negative_embeds, negative_mask = reference_encode_prompt(
        tokenizer, model, prompts, negative_prompt, max_length=16
    )
    # The pipeline encodes prompt and negative prompt as one batch at the same length.
    got, got_mask = encode_prompts(tokenizer, ours, prompts + [negative_prompt], max_length=16)
    np.testing.assert_array_equal(np.array(got_mask)[:2], mask.numpy())
    np.testing.assert_array_equal(np.array(got_mask)[2], negative_mask.numpy()[0])
    assert np.array(got_mask)[1].all()  # the long prompt fills every position
    # Every position, padding included: the reference hands all of them to the transformer.
    assert relative_max_error(np.array(got)[:2], embeds.numpy()) <= 1e-4
    assert relative_max_error(np.array(got)[2], negative_embeds.numpy()[0]) <= 1e-4


@pytest.mark.parametrize("buckets,max_distance", [(32, 128), (16, 20), (8, 64)])
def test_relative_position_buckets_match_hugging_face_beyond_max_distance(buckets, max_distance):
    length = 300
    positions = torch.arange(length)
    relative = positions[None, :] - positions[:, None]
    expected = T5Attention._relative_position_bucket(
        relative, bidirectional=True, num_buckets=buckets, max_distance=max_distance
    )
    got = relative_position_buckets(length, length, buckets, max_distance)
    np.testing.assert_array_equal(np.array(got), expected.numpy())


def test_float16_encoder_stays_finite_and_close_even_for_an_all_padding_row(tmp_path):
    model = reference_t5()
    ours = ours_from(model, tmp_path, dtype=mx.float16)
    ids, mask = ids_and_mask([20, 9, 0])
    with torch.no_grad():
        expected = model(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    got = np.array(ours(mx.array(ids), mx.array(mask)).astype(mx.float32))
    assert np.isfinite(got).all()
    valid = mask.astype(bool)
    assert relative_max_error(got[valid], expected.numpy()[valid]) < FLOAT16_TOLERANCE


def test_missing_encoder_keys_are_named(tmp_path):
    state = {k: torch_to_mlx(v) for k, v in reference_t5().state_dict().items()}
    del state["encoder.block.1.layer.1.DenseReluDense.wo.weight"], state["encoder.final_layer_norm.weight"]
    with pytest.raises(
        CheckpointError,
        match=r"missing 'encoder.final_layer_norm.weight', "
        r"'encoder.block.1.layer.1.DenseReluDense.wo.weight'",
    ):
        sanitize_hf_t5(state)
