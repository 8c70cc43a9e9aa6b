"""The Gemma tokenizer set up as the LTX-2 references set it up: stripped, BOS first, left-padded."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.text.gemma_tokenizer import GemmaTokenizer
from tests.core.tiny_gemma_tokenizer import GEMMA_SPECIAL_TOKENS, WORDS, write_tiny_gemma_tokenizer

PAD, EOS, BOS = 0, 1, 2


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory):
    return write_tiny_gemma_tokenizer(tmp_path_factory.mktemp("gemma") / "tokenizer")


def test_prompts_are_stripped_and_left_padded_with_bos_first(tokenizer_folder):
    tokens = GemmaTokenizer.from_folder(tokenizer_folder, max_length=6)(["  a cat  ", ""])
    ids, mask = np.array(tokens.input_ids), np.array(tokens.attention_mask)
    assert ids.shape == (2, 6) and tokens.padding_side == "left"
    assert list(ids[0, :3]) == [PAD] * 3 and ids[0, 3] == BOS and list(mask[0]) == [0, 0, 0, 1, 1, 1]
    assert list(ids[1]) == [PAD] * 5 + [BOS] and list(mask[1]) == [0] * 5 + [1]


def test_a_bare_string_is_one_prompt_and_non_text_is_refused(tokenizer_folder):
    tokenizer = GemmaTokenizer.from_folder(tokenizer_folder, max_length=4)
    assert tokenizer("a cat").input_ids.shape == (1, 4)
    with pytest.raises(InvalidRequest, match="text"):
        tokenizer([3])
    with pytest.raises(InvalidRequest, match="At least one prompt"):
        tokenizer([])


def test_long_prompts_keep_their_beginning_with_a_warning(tokenizer_folder, caplog):
    with caplog.at_level(logging.WARNING):
        tokens = GemmaTokenizer.from_folder(tokenizer_folder, max_length=3)("a cat walks on the beach")
    assert np.array(tokens.attention_mask).tolist() == [[1, 1, 1]]
    assert np.array(tokens.input_ids)[0, 0] == BOS
    assert "truncated to 3 tokens (it had 7)" in caplog.text


def test_without_a_pad_token_the_eos_token_pads(tmp_path):
    folder = write_tiny_gemma_tokenizer(tmp_path / "tokenizer", with_pad_token=False)
    tokens = GemmaTokenizer.from_folder(folder, max_length=4)("cat")
    cat = len(GEMMA_SPECIAL_TOKENS) + WORDS.index("cat")
    assert np.array(tokens.input_ids).tolist() == [[EOS, EOS, BOS, cat]]


def test_the_tokenizer_is_found_in_a_sub_folder_and_absence_is_explained(tokenizer_folder, tmp_path):
    assert GemmaTokenizer.from_folder(tokenizer_folder.parent, max_length=4)("cat").input_ids.shape == (1, 4)
    with pytest.raises(CheckpointError, match="holds no tokenizer"):
        GemmaTokenizer.from_folder(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        GemmaTokenizer.from_folder(tmp_path / "missing")
