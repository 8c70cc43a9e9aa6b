"""Our LTX-2 / 2.3 transformer reproduces ltx-core's `LTXModel` loaded from the same tensors.

Each case builds a tiny random-weight reference through ltx-core's configurators (the
checkpoint's config section), feeds its state dict in the official single-file naming
(`model.diffusion_model.`) through our key map, and compares both streams' velocities on the
same inputs: batch 2, text masks, per-token video timesteps (clean conditioning tokens).
Error = max|ours - reference| / max|reference|.

Measured on the CPU backend (mlx 0.32.4, torch 2.13 CPU), video / audio:
  float32 (bound 1e-4): split RoPE with float64 frequencies (the released checkpoints' kind),
      every case 0.8e-6 .. 2.0e-6; interleaved with float32 frequencies, LTX-2 3.0e-6 / 1.5e-5,
      LTX-2.3 8.9e-6 / 5.2e-6 (the 16-entry float32 frequency tables of the audio and
      cross-attention round a few entries differently from torch's vectorised CPU linspace, see
      test_ltx2_rope).
  bfloat16 (bound 3e-2; ours with bf16 weights and inputs vs the float32 reference): LTX-2
      1.0e-2 / 8.6e-3, LTX-2.3 1.4e-2 / 7.0e-3. For scale, the reference itself in bf16 is
      1.2e-2 / 1.0e-2 and 1.5e-2 / 7.5e-3 away from its float32 run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import pytest
import torch

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.keys import load_transformer
from ltx_mlx_core.models.ltx2.perturbations import ISOLATE_MODALITIES, Perturbations, stg
from ltx_mlx_core.models.ltx2.transformer import ModalityInput
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_transformer_helpers import (
    TINY_LTX2,
    TINY_LTX23,
    audio_bounds,
    build_reference,
    official_weights,
    reference_perturbations,
    stream_inputs,
    video_bounds,
)

FLOAT32_BOUND = 1e-4
BFLOAT16_BOUND = 3e-2
BATCH = 2


@dataclass
class Case:
    name: str
    config: dict[str, Any]
    video_only_model: bool = False
    with_audio: bool = True
    audio_enabled: bool = True
    per_token: bool = True
    attention_mask: bool = False
    perturbations: Perturbations = field(default_factory=lambda: Perturbations.none(BATCH))


_INTERLEAVED_F32 = dict(rope_type="interleaved", frequencies_precision="float32")
_MIXED_STG = Perturbations(((), stg([1])))
_MIXED_ISOLATION = Perturbations(((), ISOLATE_MODALITIES))

CASES = [
    Case("ltx2_split_float64", TINY_LTX2),
    Case("ltx2_interleaved_float32", {**TINY_LTX2, **_INTERLEAVED_F32}),
    Case("ltx2_sample_timesteps", TINY_LTX2, per_token=False),
    Case("ltx23_split_float64", TINY_LTX23),
    Case("ltx23_interleaved_float32", {**TINY_LTX23, **_INTERLEAVED_F32}),
    Case("ltx23_self_attention_mask", TINY_LTX23, attention_mask=True),
    Case("ltx23_stg_one_entry", TINY_LTX23, perturbations=_MIXED_STG),
    Case("ltx23_stg_every_entry", TINY_LTX23, perturbations=Perturbations.uniform(BATCH, stg([0, 2]))),
    Case(
        "ltx23_stg_video_only_stream",
        TINY_LTX23,
        perturbations=Perturbations.uniform(BATCH, stg([1], audio=False)),
    ),
    Case("ltx2_isolation_one_entry", TINY_LTX2, perturbations=_MIXED_ISOLATION),
    Case(
        "ltx23_isolation_every_entry",
        TINY_LTX23,
        perturbations=Perturbations.uniform(BATCH, ISOLATE_MODALITIES),
    ),
    Case("ltx2_video_only_model", TINY_LTX2, video_only_model=True, with_audio=False),
    Case("ltx23_video_only_model", TINY_LTX23, video_only_model=True, with_audio=False),
    Case("ltx23_av_model_without_audio", TINY_LTX23, with_audio=False),
    Case("ltx23_audio_disabled", TINY_LTX23, audio_enabled=False),
]


def _text_channels(config: dict[str, Any], audio: bool) -> int:
    if not config.get("caption_proj_before_connector", False):
        return config["caption_channels"]
    return config["audio_cross_attention_dim"] if audio else config["cross_attention_dim"]


def _inputs(case: Case, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    video = stream_inputs(
        generator,
        video_bounds(BATCH, 2, 3, 4, fps=24.0),
        case.config["in_channels"],
        _text_channels(case.config, audio=False),
        torch.tensor([0.7, 0.3]),
        per_token=case.per_token,
        text_mask=True,
        attention_mask=case.attention_mask,
    )
    if not case.with_audio:
        return video, None
    audio = stream_inputs(
        generator,
        audio_bounds(BATCH, 7),
        case.config["audio_in_channels"],
        _text_channels(case.config, audio=True),
        torch.tensor([0.6, 0.2]),
        per_token=False,
        text_mask=True,
    )
    if not case.audio_enabled:
        audio.reference = type(audio.reference)(**{**audio.reference.__dict__, "enabled": False})
        audio.ours = ModalityInput(**{**audio.ours.__dict__, "enabled": False})
    return video, audio


def _run(case: Case, dtype: mx.Dtype = mx.float32):
    reference = build_reference(case.config, video_only=case.video_only_model)
    config = LTX2Config.from_dict({"transformer": case.config}, video_only=case.video_only_model)
    ours = load_transformer(official_weights(reference.state_dict()), config, dtype=dtype)
    video, audio = _inputs(case)
    with torch.no_grad():
        expected = reference(
            video.reference,
            None if audio is None else audio.reference,
            reference_perturbations(case.perturbations),
        )
    video_in = _cast(video.ours, dtype)
    audio_in = None if audio is None else _cast(audio.ours, dtype)
    return ours(video_in, audio_in, case.perturbations), expected


def _cast(modality: ModalityInput, dtype: mx.Dtype) -> ModalityInput:
    """The latent and text in the run dtype; noise levels and positions stay float32, as the pipeline keeps them."""
    return ModalityInput(
        **{
            **modality.__dict__,
            "latent": modality.latent.astype(dtype),
            "context": modality.context.astype(dtype),
        }
    )


def _errors(ours, expected) -> list[float]:
    errors = []
    for mine, theirs in zip(ours, expected):
        assert (mine is None) == (theirs is None)
        if theirs is not None:
            errors.append(relative_max_error(mine, theirs))
    return errors


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_transformer_matches_ltx_core_in_float32(case: Case) -> None:
    errors = _errors(*_run(case))
    assert len(errors) == (2 if case.with_audio else 1)
    assert max(errors) <= FLOAT32_BOUND, f"{case.name}: {errors}"


@pytest.mark.parametrize("case", [CASES[0], CASES[3]], ids=lambda case: case.name)
def test_transformer_in_bfloat16_tracks_the_float32_reference(case: Case) -> None:
    errors = _errors(*_run(case, mx.bfloat16))
    assert max(errors) <= BFLOAT16_BOUND, f"{case.name}: {errors}"


def test_perturbed_passes_differ_from_the_plain_pass() -> None:
    """The perturbations act: STG and isolation change the perturbed entry only."""
    plain, _ = _run(CASES[3])
    for perturbed_case in (CASES[6], Case("isolation", TINY_LTX23, perturbations=_MIXED_ISOLATION)):
        perturbed, _ = _run(perturbed_case)
        for stream_plain, stream_perturbed in zip(plain, perturbed):
            assert relative_max_error(stream_perturbed[0], stream_plain[0]) < 1e-6
            assert relative_max_error(stream_perturbed[1], stream_plain[1]) > 1e-3
