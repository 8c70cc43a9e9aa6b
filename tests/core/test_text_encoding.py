"""Tokenizer loading and prompt tokenisation, offline.

PixArt's `tokenizer/` folder holds only SentencePiece's `spiece.model` and JSON settings;
these tests build such a folder with a freshly trained SentencePiece model and check our
tokenizer against SentencePiece itself (what the reference's T5Tokenizer runs).
"""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest
import sentencepiece as spm

from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.models.ltxv.text_encoding import load_tokenizer, read_sentencepiece_model, tokenize
from ltx_mlx_core.weights.tiny_tokenizer import WORDS, tiny_vocabulary, write_tiny_t5_tokenizer

EXTRA_IDS = 100
PROMPTS = [
    "a red cat walks slowly on the beach",
    "  A  RED   cat\twalks\n slowly  ",
    "Café naïve ＡＢＣ 123 4.5 it's",
    "Hello, World! (test) — “quotes”",
    "zebra xylophone ☃ 日本",
    "dog.cat,bird!",
    "",
]


@pytest.fixture
def pixart_like_folder(tmp_path):
    """spiece.model (Unigram, nmt_nfkc, <pad>=0 </s>=1 <unk>=2) plus the JSON files PixArt ships."""
    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(400)]
    lines += ["Café naïve résumé ＡＢＣ 123 4.5 it's", "Hello, World! (test) — “quotes”"] * 5
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=150,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        minloglevel=2,
    )
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "spiece.model").write_bytes(model.getvalue())
    size = spm.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()
    sentinels = {f"<extra_id_{i}>": size + EXTRA_IDS - 1 - i for i in range(EXTRA_IDS)}
    (folder / "added_tokens.json").write_text(json.dumps(sentinels))
    (folder / "special_tokens_map.json").write_text(
        json.dumps(
            {
                "eos_token": "</s>",
                "pad_token": "<pad>",
                "unk_token": "<unk>",
                "additional_special_tokens": list(sentinels),
            }
        )
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "T5Tokenizer",
                "extra_ids": EXTRA_IDS,
                "model_max_length": 512,
                "eos_token": "</s>",
                "pad_token": "<pad>",
                "unk_token": {"content": "<unk>", "special": True},
                "additional_special_tokens": list(sentinels),
            }
        )
    )
    return folder


def sentencepiece_ids(folder, text):
    return spm.SentencePieceProcessor(model_file=str(folder / "spiece.model")).encode(text) + [1]


def test_sentencepiece_folder_tokenises_exactly_like_sentencepiece(pixart_like_folder):
    tokenizer = load_tokenizer(pixart_like_folder)
    for prompt in PROMPTS:
        assert tokenizer(prompt, add_special_tokens=True)["input_ids"] == sentencepiece_ids(pixart_like_folder, prompt)


def test_sentinel_tokens_get_the_ids_of_added_tokens_json(pixart_like_folder):
    tokenizer = load_tokenizer(pixart_like_folder)
    sentinels = json.loads((pixart_like_folder / "added_tokens.json").read_text())
    assert tokenizer.convert_tokens_to_ids(list(sentinels)) == list(sentinels.values())
    assert len(tokenizer) == max(sentinels.values()) + 1


def test_tokenize_pads_truncates_and_keeps_the_end_token(pixart_like_folder):
    tokenizer = load_tokenizer(pixart_like_folder)
    long_prompt = " ".join(WORDS[:40])
    ids, mask = tokenize(tokenizer, ["  a red cat  ", long_prompt, ""], max_length=8)
    ids, mask = np.array(ids), np.array(mask)
    short = sentencepiece_ids(pixart_like_folder, "a red cat")
    assert ids.shape == mask.shape == (3, 8)
    assert ids[0].tolist() == short + [0] * (8 - len(short))
    assert mask[0].tolist() == [1] * len(short) + [0] * (8 - len(short))
    assert ids[1].tolist() == sentencepiece_ids(pixart_like_folder, long_prompt)[:7] + [1]
    assert mask[1].all()
    assert ids[2].tolist() == [1] + [0] * 7 and mask[2].tolist() == [1] + [0] * 7


def test_a_bare_string_is_one_prompt_and_no_prompts_is_refused(pixart_like_folder):
    tokenizer = load_tokenizer(pixart_like_folder)
    ids, _ = tokenize(tokenizer, "a red cat", max_length=8)
    assert ids.shape == (1, 8)
    with pytest.raises(InvalidRequest, match="At least one prompt"):
        tokenize(tokenizer, [], max_length=8)
    with pytest.raises(InvalidRequest, match="must be text"):
        tokenize(tokenizer, ["a cat", None], max_length=8)


def test_reader_returns_pieces_scores_and_normaliser_map(pixart_like_folder):
    processor = spm.SentencePieceProcessor(model_file=str(pixart_like_folder / "spiece.model"))
    pieces, charsmap = read_sentencepiece_model(pixart_like_folder / "spiece.model")
    assert [p for p, _, _ in pieces] == [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    assert np.allclose([s for _, s, _ in pieces], [processor.get_score(i) for i in range(len(pieces))])
    assert [kind for _, _, kind in pieces[:3]] == [3, 3, 2]  # control <pad>, </s>; unknown <unk>
    assert len(charsmap) > 0


def test_broken_tokenizer_folders_are_named(tmp_path, pixart_like_folder):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_tokenizer(tmp_path / "missing")
    (pixart_like_folder / "spiece.model").write_bytes(b"\x0a\xff\xff")
    with pytest.raises(CheckpointError, match="spiece.model' is not a SentencePiece model"):
        load_tokenizer(pixart_like_folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="Could not load the tokenizer"):
        load_tokenizer(empty)


def test_tiny_tokenizer_loads_offline_and_appends_the_end_token(tmp_path):
    tokenizer = load_tokenizer(write_tiny_t5_tokenizer(tmp_path / "tiny"))
    vocab = tiny_vocabulary()
    ids = tokenizer("A red CAT zzz", add_special_tokens=True)["input_ids"]
    assert ids == [vocab["a"], vocab["red"], vocab["cat"], vocab["<unk>"], vocab["</s>"]]
    assert tokenizer.pad_token_id == 0 and len(tokenizer) == len(vocab)
