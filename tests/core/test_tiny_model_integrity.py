"""The tiny model is checked against the checksums it was made with; make-tiny repairs a damaged one."""

from __future__ import annotations

import json

import pytest

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltxv.text_encoding import load_tokenizer
from ltx_mlx_core.weights.registry import CHECKSUMS, MANIFEST, read_manifest
from ltx_mlx_core.weights.tiny import make_tiny_model, tiny_model_problems


@pytest.fixture
def tiny(tmp_path):
    return make_tiny_model(tmp_path / "tiny")


def test_a_made_model_lists_a_checksum_for_every_file(tiny):
    recorded = json.loads((tiny / MANIFEST).read_text())[CHECKSUMS]
    assert {"tiny.safetensors", "tokenizer/tokenizer.json", "text_encoder/model.safetensors"} <= set(recorded)
    assert tiny_model_problems(tiny) == []
    assert tiny_model_problems(tiny.parent / "never-made") is None


def test_a_damaged_file_is_named_with_the_make_tiny_remedy_before_loading(tiny):
    (tiny / "tokenizer" / "tokenizer.json").write_text("{}")
    (tiny / "tiny-spatial-upscaler.safetensors").unlink()
    with pytest.raises(CheckpointError) as damaged:
        read_manifest(tiny)
    message = str(damaged.value)
    assert "tokenizer/tokenizer.json has changed since it was made" in message
    assert "tiny-spatial-upscaler.safetensors is missing" in message
    assert message.endswith("make it again with `ltx-mlx models make-tiny --force`.")


def test_make_tiny_without_force_rewrites_a_damaged_model(tiny):
    checkpoint = tiny / "tiny.safetensors"
    good = checkpoint.read_bytes()
    checkpoint.write_bytes(good[:-1000])
    assert tiny_model_problems(tiny) == ["tiny.safetensors has changed since it was made"]
    make_tiny_model(tiny)
    assert checkpoint.read_bytes() == good and tiny_model_problems(tiny) == []
    assert read_manifest(tiny).checkpoint == checkpoint


def test_a_model_made_before_checksums_is_made_again(tiny):
    manifest = json.loads((tiny / MANIFEST).read_text())
    del manifest[CHECKSUMS]
    (tiny / MANIFEST).write_text(json.dumps(manifest))
    assert tiny_model_problems(tiny) == [f"{MANIFEST} holds no checksums to check its files by"]
    read_manifest(tiny)  # still usable as it is
    make_tiny_model(tiny)
    assert tiny_model_problems(tiny) == []


def test_a_malformed_tokenizer_json_is_a_checkpoint_error(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(CheckpointError, match="Could not load the tokenizer in .*its files are damaged"):
        load_tokenizer(tmp_path)
