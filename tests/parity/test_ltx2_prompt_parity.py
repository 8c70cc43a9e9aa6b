"""Prompt → video/audio prompt embeddings, ours against the references' whole path, on tiny models.

LTX-2 and LTX-2.3: ltx-core's `GemmaTextEncoder.encode` (its tokenizer wrapper, a Gemma 3) and
`EmbeddingsProcessor.process_hidden_states`, one prompt at a time. LTX-2.5: diffusers' LTX-2
pipeline `_get_gemma_prompt_embeds` (a Gemma 4 unified) and `LTX2TextConnectors`, batched. Ours
loads everything from files in the shipped layouts: a Hugging Face Gemma folder with the tokenizer
in a sub-folder, and an official single-file checkpoint (or a diffusers `connectors/` folder, or
the LTX-2.5 Gemma folder that bundles the projection). Two prompts, one of them empty.

Measured on CPU (error = max|ours - ref| / max|ref|, reference in float32): float32 LTX-2 5.2e-7,
LTX-2.3 6.7e-7, LTX-2.5 6.8e-7 (diffusers and official layouts alike), bound 1e-4; bfloat16
throughout (Gemma and processor) 8.4e-3..1.2e-2, bound 5e-2. Gemma quantised (group 64, the
processor in float32) against our float32 path: 8-bit 6.3e-3..1.1e-2, 4-bit 8.3e-2..0.25 (the
tiny random Gemma has no structure for 4 bits to keep), bounds 3e-2 and 0.4.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import mlx.core as mx
import numpy as np
import pytest
import torch
from diffusers.pipelines.ltx2.connectors import LTX2TextConnectors
from diffusers.pipelines.ltx2.pipeline_ltx2 import LTX2Pipeline
from safetensors.torch import load_file
from transformers import AutoTokenizer

from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor, PromptEmbeddings
from ltx_mlx_core.text.gemma import bundled_projection, load_gemma, quantize_gemma
from ltx_mlx_core.text.gemma_tokenizer import GemmaTokenizer
from ltx_mlx_core.text.ltx2_prompt import encode_prompt
from tests.core.tiny_gemma_tokenizer import write_tiny_gemma_tokenizer
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_text_reference import (
    GemmaTextEncoder,
    LTXVGemmaTokenizer,
    randomize_,
    save_state_dict,
)
from tests.parity.test_gemma_parity import gemma3_reference, gemma4_reference
from tests.parity.test_ltx2_text_parity import LTX2_TRANSFORMER, LTX23_TRANSFORMER, reference_processor

PROMPTS = ["  A golden horse runs on the beach at night , camera pans slowly .", ""]
TOLERANCE = 1e-4
BFLOAT16_TOLERANCE = 5e-2  # measured 8.4e-3..1.2e-2
QUANTIZED_TOLERANCE = {8: 3e-2, 4: 0.4}  # measured 8-bit 6.3e-3..1.1e-2, 4-bit 8.3e-2..0.25
GEMMA = dict(hidden_size=64, num_hidden_layers=3)  # 4 hidden states of width 64, as the processors expect
LTX25_CONNECTORS = dict(  # LTX-2.5's connector stack (per-modality projections, 8 gated blocks), shrunk
    caption_channels=64,
    text_proj_in_factor=4,
    video_connector_num_attention_heads=6,
    video_connector_attention_head_dim=16,
    video_connector_num_layers=8,
    video_connector_num_learnable_registers=8,
    video_gated_attn=True,
    audio_connector_num_attention_heads=2,
    audio_connector_attention_head_dim=16,
    audio_connector_num_layers=8,
    audio_connector_num_learnable_registers=8,
    audio_gated_attn=True,
    connector_rope_base_seq_len=64,
    rope_type="split",
    rope_double_precision=True,
    per_modality_projections=True,
    video_hidden_dim=96,
    audio_hidden_dim=32,
    proj_bias=True,
)


def gemma_folder(tmp_path: Path, model: torch.nn.Module, max_length: int) -> Path:
    folder = tmp_path / "gemma"
    model.save_pretrained(folder)
    write_tiny_gemma_tokenizer(folder / "tokenizer", max_length)
    return folder


def official_checkpoint(tmp_path: Path, tensors: dict[str, torch.Tensor], transformer: dict) -> Path:
    return save_state_dict(tensors, tmp_path / "ltx-checkpoint.safetensors", {"transformer": transformer})


def ours(
    gemma_dir: Path, processor_loader, max_length: int, dtype=mx.float32, bits: int | None = None
) -> PromptEmbeddings:
    gemma = load_gemma(gemma_dir, dtype)
    if bits is not None:
        quantize_gemma(gemma, bits)
    processor = processor_loader(gemma, dtype)
    result = encode_prompt(PROMPTS, GemmaTokenizer.from_folder(gemma_dir, max_length), gemma, processor)
    mx.eval(result.video, result.audio, result.attention_mask)
    return result


def official_loader(checkpoint: Path):
    def load(gemma, dtype):
        weights, metadata = mx.load(str(checkpoint), return_metadata=True)
        config = json.loads(metadata["config"])["transformer"]
        return EmbeddingsProcessor.load_official(weights, config, gemma.hidden_size, gemma.num_hidden_states, dtype)

    return load


def ltx_core_path(version: str, tmp_path: Path):
    """(reference video, audio, mask per prompt; our gemma folder; our processor loader) for LTX-2 / 2.3."""
    length = 128  # ltx-core's connectors hold 128 registers
    transformer = LTX2_TRANSFORMER if version == "ltx2" else LTX23_TRANSFORMER
    model = gemma3_reference(seed=11, **GEMMA)
    folder = gemma_folder(tmp_path, model, length)
    processor = reference_processor(transformer, v2=version == "ltx23")
    encoder = GemmaTextEncoder(model=model, tokenizer=LTXVGemmaTokenizer(str(folder / "tokenizer"), length))
    outputs = []
    with torch.no_grad():
        for prompt in PROMPTS:
            states, mask = encoder.encode(prompt)
            outputs.append(processor.process_hidden_states(states, mask))
    expected = [
        torch.cat([getattr(o, name) for o in outputs])
        for name in ("video_encoding", "audio_encoding", "attention_mask")
    ]
    tensors = {
        {
            "feature_extractor.": "text_embedding_projection.",
            "video_connector.": "model.diffusion_model.video_embeddings_connector.",
            "audio_connector.": "model.diffusion_model.audio_embeddings_connector.",
        }[key.split(".")[0] + "."]
        + key.split(".", 1)[1]: value
        for key, value in processor.state_dict().items()
    }
    return expected, folder, official_loader(official_checkpoint(tmp_path, tensors, transformer)), length


def diffusers_path(layout: str, tmp_path: Path):
    """The same for LTX-2.5, with the connectors in diffusers' layout or in the official one."""
    length = 16
    model = gemma4_reference(seed=12, **GEMMA)
    folder = gemma_folder(tmp_path, model, length)
    connectors = randomize_(LTX2TextConnectors(**LTX25_CONNECTORS), 13, 0.05)
    pipeline = SimpleNamespace(
        tokenizer=AutoTokenizer.from_pretrained(str(folder / "tokenizer")),
        text_encoder=model,
        _execution_device=torch.device("cpu"),
    )
    with torch.no_grad():
        embeds, mask = LTX2Pipeline._get_gemma_prompt_embeds(pipeline, PROMPTS, max_sequence_length=length)
        expected = list(connectors(embeds, mask, padding_side="left"))
    if layout == "diffusers":
        connectors.save_pretrained(tmp_path / "connectors")
        config = json.loads((tmp_path / "connectors" / "config.json").read_text())
        weights = {
            k: mx.array(v.numpy())
            for k, v in load_file(str(tmp_path / "connectors" / "diffusion_pytorch_model.safetensors")).items()
        }
        return expected, folder, lambda gemma, dtype: EmbeddingsProcessor.load_diffusers(weights, config, dtype), length
    # Official: the projection bundled with Gemma (as LTX-2.5 ships it), the connectors in the checkpoint.
    state = connectors.state_dict()
    bundle = {
        f"text_embedding_projection.{kind}_aggregate_embed.{p}": state[f"{kind}_text_proj_in.{p}"]
        for kind in ("video", "audio")
        for p in ("weight", "bias")
    }
    save_state_dict(bundle, folder / "text_embedding_projection.safetensors")
    connector_tensors = {
        f"model.diffusion_model.{key.split('.')[0].replace('_connector', '_embeddings_connector')}."
        + key.split(".", 1)[1]
        .replace("transformer_blocks.", "transformer_1d_blocks.")
        .replace(".norm_q.", ".q_norm.")
        .replace(".norm_k.", ".k_norm."): value
        for key, value in state.items()
        if "_connector." in key
    }
    transformer = {
        "connector_num_attention_heads": 6,
        "connector_attention_head_dim": 16,
        "connector_num_layers": 8,
        "audio_connector_num_attention_heads": 2,
        "audio_connector_attention_head_dim": 16,
        "connector_num_learnable_registers": 8,
        "connector_positional_embedding_max_pos": [64],
        "rope_type": "split",
        "frequencies_precision": "float64",
        "connector_apply_gated_attention": True,
        "num_attention_heads": 6,
        "attention_head_dim": 16,
        "audio_num_attention_heads": 2,
        "audio_attention_head_dim": 16,
        "caption_proj_before_connector": True,
        "caption_projection_first_linear": False,
        "caption_proj_input_norm": False,
        "caption_projection_second_linear": False,
    }
    checkpoint = official_checkpoint(tmp_path, connector_tensors, transformer)

    def load(gemma, dtype):
        weights, metadata = mx.load(str(checkpoint), return_metadata=True)
        weights.update(bundled_projection(folder))
        config = json.loads(metadata["config"])["transformer"]
        return EmbeddingsProcessor.load_official(weights, config, gemma.hidden_size, gemma.num_hidden_states, dtype)

    return expected, folder, load, length


PATHS = {
    "ltx2": lambda tmp: ltx_core_path("ltx2", tmp),
    "ltx23": lambda tmp: ltx_core_path("ltx23", tmp),
    "ltx25_diffusers": lambda tmp: diffusers_path("diffusers", tmp),
    "ltx25_official": lambda tmp: diffusers_path("official", tmp),
}


def errors(got: PromptEmbeddings, expected) -> tuple[float, float]:
    video, audio, mask = expected
    assert np.array_equal(np.array(got.attention_mask), mask.numpy())
    return relative_max_error(got.video, video), relative_max_error(got.audio, audio)


@pytest.mark.parametrize("path", list(PATHS))
def test_prompt_embeddings_match_the_reference_path_in_float32(tmp_path, path):
    expected, folder, loader, length = PATHS[path](tmp_path)
    assert max(errors(ours(folder, loader, length), expected)) <= TOLERANCE


@pytest.mark.parametrize("path", ["ltx2", "ltx25_diffusers"])
def test_prompt_embeddings_in_bfloat16_stay_within_stated_tolerance(tmp_path, path):
    expected, folder, loader, length = PATHS[path](tmp_path)
    assert max(errors(ours(folder, loader, length, mx.bfloat16), expected)) <= BFLOAT16_TOLERANCE


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("path", ["ltx23", "ltx25_diffusers"])
def test_quantized_gemma_prompt_embedding_error_stays_within_stated_tolerance(tmp_path, path, bits):
    _, folder, loader, length = PATHS[path](tmp_path)
    exact = ours(folder, loader, length)
    quantized = ours(folder, loader, length, bits=bits)
    as_expected = (
        torch.from_numpy(np.array(exact.video)),
        torch.from_numpy(np.array(exact.audio)),
        torch.from_numpy(np.array(exact.attention_mask)),
    )
    assert max(errors(quantized, as_expected)) <= QUANTIZED_TOLERANCE[bits]
