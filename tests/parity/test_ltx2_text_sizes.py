"""Full-size text-path shapes against the references built on torch's `meta` device (nothing allocated).

Ours are built too but never evaluated, so MLX allocates none of their weights. Counts:
Gemma 3 12B 11,766,034,176 tensors' elements; LTX-2.5's Gemma 4 12B 11,907,350,320 (incl. the 48
layer scalars, buffers in transformers); the LTX-2 text processor (projection + 2 connectors)
1,431,475,200 and LTX-2.3's 3,172,227,584 parameters, as ltx-core's configurator builds them.
"""

from __future__ import annotations

import torch
from mlx.utils import tree_flatten
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma4UnifiedConfig,
    Gemma4UnifiedForConditionalGeneration,
)

from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor
from ltx_mlx_core.text.gemma import GemmaTextModel
from ltx_mlx_core.text.gemma_config import gemma_spec
from tests.core.test_gemma_config import GEMMA3_12B_HUB, GEMMA4_12B_LTX25
from tests.parity.ltx2_text_reference import EmbeddingsProcessorConfigurator

# The text-path keys of the shipped checkpoints' transformer configs.
LTX2_FULL = {
    "connector_num_attention_heads": 30,
    "connector_attention_head_dim": 128,
    "connector_num_layers": 2,
    "connector_positional_embedding_max_pos": [4096],
    "rope_type": "split",
    "frequencies_precision": "float64",
}
LTX23_FULL = {
    **LTX2_FULL,
    "connector_num_attention_heads": 32,
    "connector_num_layers": 8,
    "connector_apply_gated_attention": True,
    "num_attention_heads": 32,
    "attention_head_dim": 128,
    "audio_num_attention_heads": 32,
    "audio_attention_head_dim": 64,
    "audio_connector_num_attention_heads": 32,
    "audio_connector_attention_head_dim": 64,
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}


def ours_count(module) -> int:
    return sum(value.size for _, value in tree_flatten(module.parameters()))


def reference_count(module: torch.nn.Module) -> int:
    return sum(tensor.numel() for tensor in module.state_dict().values())


def test_gemma3_12b_has_the_reference_size():
    config = {key: value for key, value in GEMMA3_12B_HUB.items() if key != "architectures"}
    with torch.device("meta"):
        reference = Gemma3ForConditionalGeneration(Gemma3Config(**config)).model.language_model
    assert ours_count(GemmaTextModel(gemma_spec(GEMMA3_12B_HUB))) == reference_count(reference) == 11_766_034_176


def test_ltx25_gemma4_12b_has_the_reference_size():
    with torch.device("meta"):
        reference = Gemma4UnifiedForConditionalGeneration(
            Gemma4UnifiedConfig(text_config=GEMMA4_12B_LTX25["text_config"], vision_config=None, audio_config=None)
        ).model.language_model
    assert ours_count(GemmaTextModel(gemma_spec(GEMMA4_12B_LTX25))) == reference_count(reference) == 11_907_350_320


def test_text_processors_have_the_reference_size():
    for transformer, expected in ((LTX2_FULL, 1_431_475_200), (LTX23_FULL, 3_172_227_584)):
        with torch.device("meta"):
            reference = EmbeddingsProcessorConfigurator.from_config({"transformer": transformer})
        ours = EmbeddingsProcessor.from_transformer_config(transformer, 3840, 49)
        assert ours_count(ours) == reference_count(reference) == expected
