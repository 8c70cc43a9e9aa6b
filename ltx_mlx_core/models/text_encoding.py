"""Prompt → T5 embeddings, as the reference LTX-Video pipeline's `encode_prompt` does it.

The prompt is stripped, tokenised with padding to `max_length` and truncation
(T5's </s> appended), and encoded with the attention mask; the mask is returned
for the transformer's cross-attention. The reference pipeline's default
`text_encoder_max_tokens` is 256.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.t5 import T5Encoder

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 256


def load_tokenizer(folder: str | Path) -> Any:
    """A tokenizer from a local folder (tokenizer.json or spiece.model); never touches the network."""
    from transformers import AutoTokenizer

    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"The tokenizer folder '{folder}' does not exist.")
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"Could not load the tokenizer in '{folder}': {error}") from None


def tokenize(tokenizer: Any, prompts: Sequence[str], max_length: int = DEFAULT_MAX_TOKENS) -> tuple[mx.array, mx.array]:
    """Token ids and attention mask [B, max_length] (int32), as the reference tokenises."""
    texts = [prompt.strip() for prompt in prompts]
    encoded = tokenizer(
        texts, padding="max_length", max_length=max_length, truncation=True,
        add_special_tokens=True, return_tensors="np",
    )
    full_lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]
    if max(full_lengths) > max_length:
        logger.warning("prompt truncated to %d tokens (it had %d)", max_length, max(full_lengths))
    return mx.array(encoded["input_ids"].astype("int32")), mx.array(encoded["attention_mask"].astype("int32"))


def encode_prompts(
    tokenizer: Any, encoder: T5Encoder, prompts: Sequence[str], max_length: int = DEFAULT_MAX_TOKENS
) -> tuple[mx.array, mx.array]:
    """Embeddings [B, max_length, d_model] (unevaluated) and mask [B, max_length]."""
    ids, mask = tokenize(tokenizer, prompts, max_length)
    return encoder(ids, mask), mask
