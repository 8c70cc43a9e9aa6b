"""encode_prompt refuses a tokenizer, Gemma and LTX text processor that do not belong together."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import pytest

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor
from ltx_mlx_core.text.gemma import GemmaTextModel
from ltx_mlx_core.text.gemma_config import gemma_spec
from ltx_mlx_core.text.gemma_tokenizer import GemmaTokenizer
from ltx_mlx_core.text.ltx2_prompt import check_compatible, encode_prompt
from tests.core.tiny_gemma_tokenizer import write_tiny_gemma_tokenizer

CONNECTOR = {
    "connector_num_attention_heads": 4,
    "connector_attention_head_dim": 16,
    "connector_num_layers": 1,
    "connector_num_learnable_registers": 8,
    "connector_positional_embedding_max_pos": [64],
}


def tiny_gemma(vocab_size: int = 128, layers: int = 2) -> GemmaTextModel:
    text = {
        "hidden_size": 64,
        "intermediate_size": 64,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "vocab_size": vocab_size,
        "sliding_window": 4,
    }
    return GemmaTextModel(gemma_spec({"model_type": "gemma3_text", **text}))


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> GemmaTokenizer:
    return GemmaTokenizer.from_folder(write_tiny_gemma_tokenizer(tmp_path_factory.mktemp("tok")), max_length=8)


def test_matching_parts_encode_to_the_fixed_length(tokenizer):
    gemma = tiny_gemma()
    processor = EmbeddingsProcessor.from_transformer_config(CONNECTOR, 64, gemma.num_hidden_states)
    result = encode_prompt(["a cat", ""], tokenizer, gemma, processor)
    assert result.video.shape == (2, 8, 64) and result.audio.shape == (2, 8, 64)
    assert mx.all(result.attention_mask == 1).item()


def test_a_processor_for_another_gemma_is_refused(tokenizer):
    gemma = tiny_gemma(layers=2)
    processor = EmbeddingsProcessor.from_transformer_config(CONNECTOR, 64, num_hidden_states=49)
    with pytest.raises(CheckpointError, match="does not belong to this LTX model"):
        check_compatible(tokenizer, gemma, processor)


def test_a_quantised_projection_is_measured_by_its_unpacked_width(tokenizer):
    gemma = tiny_gemma()
    processor = EmbeddingsProcessor.from_transformer_config(CONNECTOR, 64, gemma.num_hidden_states)
    nn.quantize(processor, group_size=64, bits=4)
    check_compatible(tokenizer, gemma, processor)


def test_a_tokenizer_larger_than_the_embedding_table_is_refused(tokenizer):
    gemma = tiny_gemma(vocab_size=32)
    processor = EmbeddingsProcessor.from_transformer_config(CONNECTOR, 64, gemma.num_hidden_states)
    with pytest.raises(CheckpointError, match="embeds only 32"):
        check_compatible(tokenizer, gemma, processor)
