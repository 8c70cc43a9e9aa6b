"""Prompt → T5 embeddings, as the reference LTX-Video pipeline's `encode_prompt` does it.

The prompt is stripped (the reference's only caption preprocessing), tokenised
with padding to `max_length` and truncation (T5's </s> appended), and encoded
with the attention mask; the mask is returned for the transformer's
cross-attention. The negative prompt goes through the same path at the same
length. The reference pipeline's default `text_encoder_max_tokens` is 256.

Tokenizer folders come in two forms: a `tokenizer.json` (loaded by
transformers), or the original SentencePiece `spiece.model` that PixArt's
`tokenizer/` folder ships. transformers can only convert the latter with the
`sentencepiece` and `protobuf` packages installed, so we read the model's few
fields ourselves and build the same Unigram tokenizer that transformers'
T5 converter builds, with the `tokenizers` library alone.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.models.ltxv.t5 import T5Encoder

logger = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 256
SENTENCEPIECE_FILE = "spiece.model"
METASPACE = "\u2581"


def load_tokenizer(folder: str | Path) -> Any:
    """A tokenizer from a local folder (tokenizer.json or spiece.model); never touches the network."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"The tokenizer folder '{folder}' does not exist.")
    if not (folder / "tokenizer.json").is_file() and (folder / SENTENCEPIECE_FILE).is_file():
        return t5_tokenizer_from_sentencepiece(folder)
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as error:
        # A malformed tokenizer.json fails in transformers or tokenizers with anything from
        # KeyError to a bare Exception; each is the same fact for the user: these files are broken.
        raise CheckpointError(
            f"Could not load the tokenizer in '{folder}' ({type(error).__name__}: {error}); its files are damaged."
        ) from None


def tokenize(tokenizer: Any, prompts: Sequence[str], max_length: int = DEFAULT_MAX_TOKENS) -> tuple[mx.array, mx.array]:
    """Token ids and attention mask [B, max_length] (int32), as the reference tokenises."""
    texts = _checked_prompts(prompts)
    if max_length < 1:
        raise InvalidRequest(f"The prompt length limit must be at least one token; got {max_length}.")
    encoded = tokenizer(
        texts,
        padding="max_length",
        max_length=max_length,
        truncation=True,
        add_special_tokens=True,
        return_tensors="np",
    )
    full_lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]
    if max(full_lengths) > max_length:
        logger.warning("prompt truncated to %d tokens (it had %d)", max_length, max(full_lengths))
    return mx.array(encoded["input_ids"].astype("int32")), mx.array(encoded["attention_mask"].astype("int32"))


def encode_prompts(
    tokenizer: Any, encoder: T5Encoder, prompts: Sequence[str], max_length: int = DEFAULT_MAX_TOKENS
) -> tuple[mx.array, mx.array]:
    """Embeddings [B, max_length, d_model] (unevaluated) and mask [B, max_length] (1 token, 0 padding)."""
    # An id past the embedding table would silently read garbage rather than fail.
    if len(tokenizer) > encoder.config.vocab_size:
        raise CheckpointError(
            f"The tokenizer has {len(tokenizer)} tokens but the text encoder embeds only "
            f"{encoder.config.vocab_size}; they do not belong together."
        )
    ids, mask = tokenize(tokenizer, prompts, max_length)
    return encoder(ids, mask), mask


def _checked_prompts(prompts: Sequence[str]) -> list[str]:
    # A bare string would otherwise be tokenised character by character.
    if isinstance(prompts, str):
        prompts = [prompts]
    if len(prompts) == 0:
        raise InvalidRequest('At least one prompt is needed to encode (an empty prompt "" is fine).')
    for prompt in prompts:
        if not isinstance(prompt, str):
            raise InvalidRequest(f"Prompts must be text; got {type(prompt).__name__}.")
    return [prompt.strip() for prompt in prompts]


# Reading T5's SentencePiece model (a protobuf message) without protobuf -------------------------


def t5_tokenizer_from_sentencepiece(folder: Path) -> Any:
    """T5's tokenizer from `spiece.model` + `tokenizer_config.json`, as transformers' T5 converter builds it."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    settings = _tokenizer_settings(folder)
    pieces, charsmap = read_sentencepiece_model(folder / SENTENCEPIECE_FILE)
    ids = {piece: index for index, (piece, _, _) in enumerate(pieces)}
    names = {
        role: str(settings.get(f"{role}_token", default))
        for role, default in (("eos", "</s>"), ("pad", "<pad>"), ("unk", "<unk>"))
    }
    absent = [name for name in names.values() if name not in ids]
    if absent:
        raise CheckpointError(f"'{folder / SENTENCEPIECE_FILE}' lacks the special token(s) {', '.join(absent)}.")

    # T5 appends its sentinel tokens after the SentencePiece vocabulary, highest number first.
    extra = [f"<extra_id_{i}>" for i in range(int(settings.get("extra_ids", 100)))]
    vocab = [(piece, score) for piece, score, _ in pieces] + [(token, 0.0) for token in reversed(extra)]
    backend = Tokenizer(models.Unigram(vocab, unk_id=ids[names["unk"]], byte_fallback=False))
    steps = [normalizers.Precompiled(charsmap)] if charsmap else []
    backend.normalizer = normalizers.Sequence(
        steps + [normalizers.Strip(left=False, right=True), normalizers.Replace(Regex(" {2,}"), METASPACE)]
    )
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    backend.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {names['eos']}",
        pair=f"$A {names['eos']} $B {names['eos']}",
        special_tokens=[(names["eos"], ids[names["eos"]])],
    )
    # SentencePiece control pieces (type 3: <pad>, </s>) and the sentinels are never split or normalised.
    control = [piece for piece, _, kind in pieces if kind == 3]
    backend.add_special_tokens([AddedToken(token, normalized=False, special=True) for token in control + extra])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=names["eos"],
        pad_token=names["pad"],
        unk_token=names["unk"],
        model_max_length=int(settings.get("model_max_length", 512)),
    )


def _tokenizer_settings(folder: Path) -> dict[str, Any]:
    path = folder / "tokenizer_config.json"
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"'{path}' is unreadable: {error}") from None
    # Special tokens may be saved as AddedToken dicts ({"content": "</s>", ...}).
    return {
        key: value["content"] if isinstance(value, dict) and "content" in value else value
        for key, value in settings.items()
    }


def read_sentencepiece_model(path: Path) -> tuple[list[tuple[str, float, int]], bytes]:
    """(piece, score, type) of every piece, and the normaliser's precompiled character map.

    ModelProto: pieces = 1 (piece = 1, score = 2, type = 3), normalizer_spec = 3 (precompiled_charsmap = 2).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise CheckpointError(f"Could not read the SentencePiece model '{path}': {error}") from None
    pieces: list[tuple[str, float, int]] = []
    charsmap = b""
    try:
        for field, value in _protobuf_fields(data):
            if field == 1:
                piece, score, kind = "", 0.0, 1  # protobuf defaults: type NORMAL
                for sub_field, sub_value in _protobuf_fields(value):
                    if sub_field == 1:
                        piece = sub_value.decode("utf-8")
                    elif sub_field == 2:
                        score = struct.unpack("<f", sub_value)[0]
                    elif sub_field == 3:
                        kind = sub_value
                pieces.append((piece, score, kind))
            elif field == 3:
                charsmap = next((v for f, v in _protobuf_fields(value) if f == 2), b"")
    except (ValueError, IndexError, UnicodeDecodeError, struct.error) as error:
        raise CheckpointError(f"'{path}' is not a SentencePiece model: {error}") from None
    if not pieces:
        raise CheckpointError(f"'{path}' is not a SentencePiece model: it has no vocabulary.")
    return pieces, charsmap


def _protobuf_fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) of a serialised message: ints for varints, bytes otherwise."""
    position = 0
    while position < len(data):
        tag, position = _varint(data, position)
        field, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, position = _varint(data, position)
        elif wire_type in (1, 5):
            width = 8 if wire_type == 1 else 4
            value, position = data[position : position + width], position + width
        elif wire_type == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        if position > len(data):
            raise ValueError("truncated message")
        yield field, value


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position
