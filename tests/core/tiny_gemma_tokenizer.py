"""A tiny Gemma-style tokenizer for tests, built offline (no torch).

Word-level over a small vocabulary, with Gemma's special-token ids (<pad> 0, <eos> 1, <bos> 2,
<unk> 3) and its template that puts <bos> first. It loads through `transformers.AutoTokenizer`
exactly like a real Gemma tokenizer folder.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

GEMMA_SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>"]  # Gemma's ids 0, 1, 2, 3
WORDS = (
    "a the of in on with and is cat dog bird horse person car boat tree river sea mountain city street "
    "sky sun moon rain snow fire water red blue green white black golden walks runs flies swims jumps "
    "slowly quickly camera pans zooms close up wide shot light shadow night day forest beach , ."
).split()


def write_tiny_gemma_tokenizer(folder: Path, max_length: int = 1024, with_pad_token: bool = True) -> Path:
    """A word-level tokenizer with Gemma's special tokens and its BOS-first template, saved in `folder`."""
    vocab = {token: index for index, token in enumerate(GEMMA_SPECIAL_TOKENS)}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 2)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>" if with_pad_token else None,
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        model_max_length=max_length,
    )
    folder.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(str(folder))
    return folder
