"""Caches that cannot be written (read-only or full data folder) cost a recomputation, never the run
(except the quantised cache that streamed blocks are read from: that is refused, saying where).

A file where the cache's folder should be fails every write as a read-only folder would, also
for root (who ignores permission bits).
"""

from __future__ import annotations

import logging

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.paths import cache_dir
from ltx_mlx_core.pipeline import preview
from ltx_mlx_core.weights.quantize import load_or_quantize


def test_an_unwritable_preview_cache_still_gives_the_projection(monkeypatch, caplog):
    fitted = preview.LatentProjection(matrix=np.ones((128, 3), np.float32), bias=np.zeros(3, np.float32))
    monkeypatch.setattr(preview, "fit_latent_projection", lambda vae, timestep=None: fitted)
    (cache_dir() / "previews").write_text("in the way")
    with caplog.at_level(logging.WARNING):
        assert preview.load_or_fit_projection(vae=None, cache_key="k") is fitted
    assert "Could not cache the preview projection" in caplog.text
    assert [p.name for p in cache_dir().iterdir()] == ["previews"]


def test_an_unwritable_quantisation_cache_still_gives_the_quantised_model(tmp_path, caplog):
    source = tmp_path / "weights.safetensors"
    source.write_bytes(b"stands for a checkpoint")
    (cache_dir() / "quantized").write_text("in the way")

    def build() -> nn.Module:
        return nn.Sequential(nn.Linear(64, 64))

    with caplog.at_level(logging.WARNING):
        model = load_or_quantize(build, build, source, "transformer", 8, mx.float32)
    assert isinstance(model.layers[0], nn.QuantizedLinear)
    assert "could not cache the 8-bit transformer" in caplog.text


def test_streamed_quantised_blocks_with_an_unwritable_cache_are_refused_saying_where(tmp_path):
    """Streamed quantised blocks are read from the cache file: without one there is nothing to stream."""
    source = tmp_path / "weights.safetensors"
    source.write_bytes(b"stands for a checkpoint")
    (cache_dir() / "quantized").write_text("in the way")

    def build() -> nn.Module:
        return nn.Sequential(nn.Linear(64, 64))

    with pytest.raises(InvalidRequest, match=r"Could not write the 4-bit transformer to the cache folder .*quantized"):
        load_or_quantize(build, build, source, "transformer", 4, mx.float32, cache_required=True)
