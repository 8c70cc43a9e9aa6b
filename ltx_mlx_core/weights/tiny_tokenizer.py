"""Tiny tokenizers built offline, for the tiny test models and tests: T5-style and Gemma-style.

Word-level over a small built-in vocabulary (unknown words map to <unk>): the T5 one with
T5's special-token ids (<pad>=0, </s>=1, <unk>=2) and </s> appended like T5, the Gemma one
with Gemma's (<pad>=0, <eos>=1, <bos>=2, <unk>=3) and <bos> first. Both load through
`transformers.AutoTokenizer` exactly like real ones.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

SPECIAL_TOKENS = ["<pad>", "</s>", "<unk>"]
WORDS = (
    "a an the of in on at to with and or is are was be by for from as into over under "
    "cat dog bird fish horse person man woman child car boat train plane tree flower river "
    "sea ocean mountain city street house room sky cloud sun moon star rain snow fire water "
    "red orange yellow green blue purple white black gray golden bright dark soft warm cold "
    "walks runs flies swims jumps dances sits stands looks turns moves rolls falls rises "
    "slowly quickly gently camera pans zooms tracks close up wide shot view light shadow "
    "morning evening night day sunset sunrise forest field beach desert road bridge window "
    "small large tall old young happy calm busy quiet loud "
    ", . ! ?"
).split()


def tiny_vocabulary() -> dict[str, int]:
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    return vocab


def write_tiny_t5_tokenizer(folder: str | Path) -> Path:
    """Write tokenizer files into `folder` (created); returns the folder."""
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.WordLevel(tiny_vocabulary(), unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=512,
    )
    wrapped.save_pretrained(str(folder))
    return folder


GEMMA_SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>"]  # Gemma's ids 0, 1, 2, 3


def tiny_gemma_vocabulary() -> dict[str, int]:
    vocab = {token: index for index, token in enumerate(GEMMA_SPECIAL_TOKENS)}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    return vocab


def write_tiny_gemma_tokenizer(folder: str | Path, max_length: int = 1024) -> Path:
    """A word-level tokenizer with Gemma's special-token ids and its BOS-first template, saved in `folder`.

    It loads through `transformers.AutoTokenizer` like a real Gemma tokenizer folder (the tiny
    LTX-2 model's text encoder reads it).
    """
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.WordLevel(tiny_gemma_vocabulary(), unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 2)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        model_max_length=max_length,
    )
    wrapped.save_pretrained(str(folder))
    return folder
