"""Random LTX-2 weights have the release's exact shapes, so `ltx-mlx bench` and the benchmark time the real work."""

from __future__ import annotations

import pytest

from ltx_mlx_core.bench.random_model_ltx2 import RandomLTX2Components
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.weights.ltx2_full_size import component_shapes


def test_random_ltx23_components_have_the_release_shapes() -> None:
    shapes = RandomLTX2Components.for_model("ltx-2.3-22b-distilled").shapes()
    release = component_shapes("2.3")
    for part in ("gemma", "text_path", "transformer", "video_vae", "vocoder", "upsampler"):
        assert getattr(shapes, part) == release[part], part
    # Generation decodes sound only: the audio VAE's decoder half.
    assert shapes.audio_vae.items() <= release["audio_vae"].items()
    assert shapes.audio_vae and not any(name.startswith("encoder.") for name in shapes.audio_vae)


def test_unknown_models_are_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidRequest, match="ltx-2.3-22b-distilled"):
        RandomLTX2Components.for_model("ltx-2.3-22b-dev")
