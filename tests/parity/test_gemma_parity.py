"""All Gemma hidden states (embedding output + every layer) from our mlx-lm glue against transformers.

Tiny random models (every weight and norm drawn at random) are saved with `save_pretrained` and
loaded by `load_gemma`; a batch of two left-padded prompts runs through both. The error is
max|ours - ref| / max|ref| over the tokens (padding is never read downstream), the worst layer.

Measured on CPU against the float32 reference: float32 Gemma 3 8.3e-7, Gemma 4 2.1e-7 (bound 1e-4);
bfloat16 weights and activations Gemma 3 2.0e-2, Gemma 4 1.3e-2 (the reference's own bfloat16 run:
2.1e-2 and 1.2e-2; bound 5e-2). Quantised (group 64, embeddings included) against our float32:
8-bit 2.7e-2 / 4.9e-3, 4-bit 0.46 / 0.12 (bounds 6e-2 and 0.7): random tiny weights have no
structure for the quantisation to keep, see the prompt-embedding errors in test_ltx2_prompt_parity.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma4ForCausalLM,
    Gemma4TextConfig,
    Gemma4UnifiedConfig,
    Gemma4UnifiedForConditionalGeneration,
)

from ltx_mlx_core.text.gemma import load_gemma, quantize_gemma
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_text_reference import randomize_

TINY_TEXT = dict(
    vocab_size=128,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=7,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    sliding_window=4,
)
TINY_VISION = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14
)
LENGTHS = (11, 5)  # tokens per prompt, left-padded to 16: both windows and the padding are exercised
FLOAT32_TOLERANCE = 1e-4
BFLOAT16_TOLERANCE = 5e-2  # measured 2.0e-2 / 1.3e-2; the reference's own bfloat16 run 2.1e-2 / 1.2e-2
QUANTIZED_TOLERANCE = {8: 6e-2, 4: 0.7}  # measured 8-bit 2.7e-2 / 4.9e-3, 4-bit 0.46 / 0.12


def gemma3_reference(seed: int = 0, **text) -> Gemma3ForConditionalGeneration:
    # Linear RoPE scaling on the global layers, as Gemma 3 12B; a pre-attention scalar unlike head_dim.
    text = {**TINY_TEXT, "query_pre_attn_scalar": 24, "rope_scaling": {"rope_type": "linear", "factor": 8.0}, **text}
    config = Gemma3Config(text_config=text, vision_config=TINY_VISION, mm_tokens_per_image=1)
    return randomize_(Gemma3ForConditionalGeneration(config), seed)


def gemma4_reference(seed: int = 0, causal_lm: bool = False, **text) -> torch.nn.Module:
    # Global layers as Gemma 4 12B's: wider heads, one key/value head, V = K.
    text = {**TINY_TEXT, "global_head_dim": 32, "num_global_key_value_heads": 1, "attention_k_eq_v": True, **text}
    if causal_lm:
        return randomize_(Gemma4ForCausalLM(Gemma4TextConfig(**text, hidden_size_per_layer_input=0)), seed)
    config = Gemma4UnifiedConfig(text_config=text, vision_config=None, audio_config=None)
    return randomize_(Gemma4UnifiedForConditionalGeneration(config), seed)


def ids_and_mask(lengths=LENGTHS, length: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, TINY_TEXT["vocab_size"], (len(lengths), length), generator=generator)
    mask = torch.zeros(len(lengths), length, dtype=torch.long)
    for row, count in enumerate(lengths):
        mask[row, length - count :] = 1
    return ids.masked_fill(mask == 0, 0), mask


def reference_states(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """As the references call it: ltx-core runs Gemma 3's inner model, diffusers the whole Gemma 4 model."""
    runner = model.model if isinstance(model, Gemma3ForConditionalGeneration) else model
    with torch.no_grad():
        return list(runner(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states)


def ours_states(folder, ids: torch.Tensor, mask: torch.Tensor, dtype=mx.float32, bits: int | None = None):
    model = load_gemma(folder, dtype)
    if bits is not None:
        quantize_gemma(model, bits)
    states = model(mx.array(ids.numpy()), mx.array(mask.numpy()))
    mx.eval(states)
    return states


def worst_error(ours, reference, mask: torch.Tensor) -> float:
    assert len(ours) == len(reference)
    tokens = mask.numpy().astype(bool)
    for state in ours:  # padded rows are never read, but they must not be NaN either
        assert np.isfinite(np.array(state.astype(mx.float32))).all()
    return max(
        relative_max_error(np.array(o.astype(mx.float32))[tokens], r.float().numpy()[tokens])
        for o, r in zip(ours, reference)
    )


def test_gemma3_hidden_states_match_transformers_in_float32(tmp_path):
    model = gemma3_reference()
    model.save_pretrained(tmp_path)
    ids, mask = ids_and_mask()
    error = worst_error(ours_states(tmp_path, ids, mask), reference_states(model, ids, mask), mask)
    assert error <= FLOAT32_TOLERANCE, error


def test_gemma3_transformers_4_layout_loads_the_same_model(tmp_path):
    model = gemma3_reference()
    model.save_pretrained(tmp_path / "new")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text((tmp_path / "new" / "config.json").read_text())
    renamed = {
        key.replace("model.language_model.", "language_model.model.")
        .replace("model.vision_tower.", "vision_tower.")
        .replace("model.multi_modal_projector.", "multi_modal_projector."): value
        for key, value in load_file(str(tmp_path / "new" / "model.safetensors")).items()
    }
    save_file(renamed, str(tmp_path / "old" / "model.safetensors"))
    ids, mask = ids_and_mask()
    new, old = ours_states(tmp_path / "new", ids, mask), ours_states(tmp_path / "old", ids, mask)
    assert all(mx.array_equal(a, b).item() for a, b in zip(new, old))


@pytest.mark.parametrize("variant", ["k_eq_v", "separate_v", "shared_kv", "bidirectional", "causal_lm"])
def test_gemma4_hidden_states_match_transformers_in_float32(tmp_path, variant):
    overrides = {
        "k_eq_v": {},
        "separate_v": {"attention_k_eq_v": False, "num_global_key_value_heads": None},
        # The last two layers (one of each kind) reuse the keys/values of earlier ones.
        "shared_kv": {"num_hidden_layers": 8, "num_kv_shared_layers": 2},
        "bidirectional": {"use_bidirectional_attention": "all"},
        "causal_lm": {"causal_lm": True},  # a text-only Gemma 4 (model_type gemma4_text)
    }[variant]
    model = gemma4_reference(**overrides)
    model.save_pretrained(tmp_path)
    ids, mask = ids_and_mask()
    error = worst_error(ours_states(tmp_path, ids, mask), reference_states(model, ids, mask), mask)
    assert error <= FLOAT32_TOLERANCE, error


@pytest.mark.parametrize("family", ["gemma3", "gemma4"])
def test_gemma_bfloat16_error_stays_within_stated_tolerance(tmp_path, family):
    model = gemma3_reference() if family == "gemma3" else gemma4_reference()
    model.save_pretrained(tmp_path)
    ids, mask = ids_and_mask()
    exact = reference_states(model, ids, mask)
    ours = worst_error(ours_states(tmp_path, ids, mask, mx.bfloat16), exact, mask)
    reference_own = worst_error(
        [mx.array(s.float().numpy()) for s in reference_states(model.to(torch.bfloat16), ids, mask)], exact, mask
    )
    assert ours <= BFLOAT16_TOLERANCE, (ours, reference_own)


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("family", ["gemma3", "gemma4"])
def test_quantized_gemma_error_stays_within_stated_tolerance(tmp_path, family, bits):
    model = gemma3_reference() if family == "gemma3" else gemma4_reference()
    model.save_pretrained(tmp_path)
    ids, mask = ids_and_mask()
    exact = [torch.from_numpy(np.array(s)) for s in ours_states(tmp_path, ids, mask)]
    error = worst_error(ours_states(tmp_path, ids, mask, bits=bits), exact, mask)
    assert error <= QUANTIZED_TOLERANCE[bits], error
