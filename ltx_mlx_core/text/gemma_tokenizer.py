"""The Gemma tokenizer as the LTX-2 references use it.

ltx-core's `LTXVGemmaTokenizer` and diffusers' LTX-2 pipelines both: strip the prompt, pad on the
left to a fixed 1024 tokens (Gemma's BOS first, the pad token falling back to EOS when the
tokenizer has none), truncate longer prompts at the end, and return the attention mask.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError, InvalidRequest

logger = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 1024
PADDING_SIDE = "left"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")


@dataclass(frozen=True)
class TokenizedPrompts:
    input_ids: mx.array  # [B, max_length] int32
    attention_mask: mx.array  # [B, max_length] int32, 1 for tokens, 0 for padding
    padding_side: str = PADDING_SIDE


class GemmaTokenizer:
    """A Hugging Face tokenizer set up as the references set it up."""

    def __init__(self, tokenizer: Any, max_length: int = DEFAULT_MAX_LENGTH):
        if max_length < 1:
            raise InvalidRequest(f"The prompt length limit must be at least one token; got {max_length}.")
        tokenizer.padding_side = PADDING_SIDE
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def from_folder(cls, folder: str | Path, max_length: int = DEFAULT_MAX_LENGTH) -> GemmaTokenizer:
        """From a folder holding the tokenizer files, or the first sub-folder that does (as ltx-core looks)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise CheckpointError(f"The tokenizer folder '{folder}' does not exist.")
        source = _tokenizer_folder(folder)
        # Imported here: transformers takes seconds to import (and pulls in torch where installed).
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True, model_max_length=max_length)
        except (OSError, ValueError) as error:
            raise CheckpointError(f"Could not load the Gemma tokenizer in '{source}': {error}") from None
        return cls(tokenizer, max_length)

    def __len__(self) -> int:
        return len(self.tokenizer)

    def __call__(self, prompts: Sequence[str] | str) -> TokenizedPrompts:
        texts = _checked_prompts(prompts)
        encoded = self.tokenizer(
            texts,
            padding="max_length",
            max_length=self.max_length,
            truncation=True,
            add_special_tokens=True,
            return_tensors="np",
        )
        lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=True)["input_ids"]]
        if max(lengths) > self.max_length:
            logger.warning("prompt truncated to %d tokens (it had %d)", self.max_length, max(lengths))
        return TokenizedPrompts(
            mx.array(encoded["input_ids"].astype("int32")), mx.array(encoded["attention_mask"].astype("int32"))
        )


def _tokenizer_folder(folder: Path) -> Path:
    if any((folder / name).is_file() for name in _TOKENIZER_FILES):
        return folder
    for name in _TOKENIZER_FILES:
        found = sorted(folder.rglob(name))
        if found:
            return found[0].parent
    raise CheckpointError(f"'{folder}' holds no tokenizer ({' or '.join(_TOKENIZER_FILES)}).")


def _checked_prompts(prompts: Sequence[str] | str) -> list[str]:
    # A bare string would otherwise be tokenised character by character.
    if isinstance(prompts, str):
        prompts = [prompts]
    if len(prompts) == 0:
        raise InvalidRequest('At least one prompt is needed to encode (an empty prompt "" is fine).')
    for prompt in prompts:
        if not isinstance(prompt, str):
            raise InvalidRequest(f"Prompts must be text; got {type(prompt).__name__}.")
    return [prompt.strip() for prompt in prompts]
