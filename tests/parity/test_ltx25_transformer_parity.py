"""Our LTX-2.5 transformer reproduces diffusers' `LTX2VideoTransformer3DModel` (the 2.5 reference).

LTX-2.5 differs from 2.3 in two tensors' worth of architecture: the video feed-forward has no
biases and a learned embedding marks keyframe tokens. ltx-core 1.0.0 predates it, so the
reference here is diffusers 0.42, built tiny with random weights; its state dict, renamed to
the official checkpoint names, loads through our key map. diffusers takes noise levels
already multiplied by 1000 and, with `use_cross_timestep`, modulates the audio-video
cross-attention by the other stream's sigma (ltx-core's behaviour, which ours follows).
Error = max|ours - reference| / max|reference|.

Measured on the CPU backend (mlx 0.32.4, torch 2.13 CPU, diffusers 0.42.1), video / audio:
  float32 (bound 1e-4): split RoPE with float64 frequencies 2.7e-6 / 2.4e-6; without the prompt
      AdaLN embedder 1.9e-6 / 3.6e-6; STG on one entry 2.7e-6 / 2.4e-6, on every entry
      2.6e-6 / 2.3e-6; modality isolation 2.3e-6 / 3.5e-6; interleaved RoPE with float32
      frequencies 7.3e-6 / 7.4e-6.
  bfloat16 (bound 3e-2; ours in bf16 vs the float32 reference): 1.4e-2 / 1.4e-2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import pytest
import torch
from diffusers import LTX2VideoTransformer3DModel

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.keys import load_transformer
from ltx_mlx_core.models.ltx2.perturbations import ISOLATE_MODALITIES, Perturbations, stg
from ltx_mlx_core.models.ltx2.transformer import ModalityInput
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_transformer_helpers import (
    TINY_LTX25,
    audio_bounds,
    diffusers_config,
    diffusers_to_official,
    official_weights,
    randomize,
    stream_inputs,
    video_bounds,
)

FLOAT32_BOUND = 1e-4
BFLOAT16_BOUND = 3e-2
BATCH = 2
VIDEO_GRID = (2, 3, 4)


@dataclass
class Case:
    name: str
    config: dict[str, Any] = field(default_factory=lambda: TINY_LTX25)
    stg_blocks: list[int] | None = None
    # diffusers' STG mask per entry (1 keeps attention); None perturbs every entry.
    stg_keep: list[float] | None = None
    isolate: bool = False

    def perturbations(self) -> Perturbations:
        if self.isolate:
            return Perturbations.uniform(BATCH, ISOLATE_MODALITIES)
        if self.stg_blocks is None:
            return Perturbations.none(BATCH)
        keep = self.stg_keep or [0.0] * BATCH
        return Perturbations(tuple(() if k else stg(self.stg_blocks) for k in keep))


CASES = [
    Case("ltx25_split_float64"),
    Case(
        "ltx25_interleaved_float32",
        {**TINY_LTX25, "rope_type": "interleaved", "frequencies_precision": "float32"},
    ),
    Case("ltx25_without_prompt_adaln_embedder", {**TINY_LTX25, "use_prompt_adaln_single": False}),
    Case("ltx25_stg_one_entry", stg_blocks=[1], stg_keep=[1.0, 0.0]),
    Case("ltx25_stg_every_entry", stg_blocks=[0, 2]),
    Case("ltx25_isolation", isolate=True),
]


def _run(case: Case, dtype: mx.Dtype = mx.float32):
    reference = LTX2VideoTransformer3DModel(**diffusers_config(case.config)).eval()
    randomize(reference, seed=3)
    config = LTX2Config.from_dict({"transformer": case.config})
    ours = load_transformer(official_weights(diffusers_to_official(reference.state_dict())), config, dtype=dtype)

    generator = torch.Generator().manual_seed(1)
    video_sigma, audio_sigma = torch.tensor([0.7, 0.3]), torch.tensor([0.6, 0.2])
    tokens = VIDEO_GRID[0] * VIDEO_GRID[1] * VIDEO_GRID[2]
    # The first latent frame's tokens are single-pixel-frame keyframe tokens.
    keyframes = (torch.arange(tokens) < tokens // VIDEO_GRID[0]).float().expand(BATCH, tokens)
    video = stream_inputs(
        generator, video_bounds(BATCH, *VIDEO_GRID, fps=24.0), case.config["in_channels"],
        case.config["cross_attention_dim"], video_sigma, per_token=True, text_mask=True, keyframe_mask=keyframes,
    )  # fmt: skip
    audio = stream_inputs(
        generator, audio_bounds(BATCH, 7), case.config["audio_in_channels"],
        case.config["audio_cross_attention_dim"], audio_sigma, per_token=False, text_mask=True,
    )  # fmt: skip
    v, a = video.reference, audio.reference
    with torch.no_grad():
        expected = reference(
            hidden_states=v.latent,
            audio_hidden_states=a.latent,
            encoder_hidden_states=v.context,
            audio_encoder_hidden_states=a.context,
            timestep=v.timesteps * 1000,
            audio_timestep=a.timesteps * 1000,
            sigma=video_sigma * 1000,
            audio_sigma=audio_sigma * 1000,
            encoder_attention_mask=v.context_mask,
            audio_encoder_attention_mask=a.context_mask,
            video_coords=v.positions,
            audio_coords=a.positions,
            isolate_modalities=case.isolate,
            spatio_temporal_guidance_blocks=case.stg_blocks,
            perturbation_mask=None if case.stg_keep is None else torch.tensor(case.stg_keep),
            use_cross_timestep=True,
            video_keyframes_mask=keyframes[..., None],
            return_dict=False,
        )
    got = ours(_cast(video.ours, dtype), _cast(audio.ours, dtype), case.perturbations())
    return got, expected


def _cast(modality: ModalityInput, dtype: mx.Dtype) -> ModalityInput:
    return ModalityInput(
        **{
            **modality.__dict__,
            "latent": modality.latent.astype(dtype),
            "context": modality.context.astype(dtype),
        }
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_ltx25_transformer_matches_diffusers_in_float32(case: Case) -> None:
    (video, audio), (expected_video, expected_audio) = _run(case)
    errors = [relative_max_error(video, expected_video), relative_max_error(audio, expected_audio)]
    assert max(errors) <= FLOAT32_BOUND, f"{case.name}: {errors}"


def test_ltx25_transformer_in_bfloat16_tracks_the_float32_reference() -> None:
    (video, audio), (expected_video, expected_audio) = _run(CASES[0], mx.bfloat16)
    errors = [relative_max_error(video, expected_video), relative_max_error(audio, expected_audio)]
    assert max(errors) <= BFLOAT16_BOUND, errors


def test_keyframe_mask_changes_the_prediction() -> None:
    """The 2.5 embedding reaches the output: marking the tokens as keyframes changes the velocities."""
    config = LTX2Config.from_dict({"transformer": TINY_LTX25})
    reference = LTX2VideoTransformer3DModel(**diffusers_config(TINY_LTX25)).eval()
    randomize(reference, seed=3)
    ours = load_transformer(official_weights(diffusers_to_official(reference.state_dict())), config)
    generator = torch.Generator().manual_seed(2)
    video = stream_inputs(
        generator, video_bounds(1, *VIDEO_GRID, fps=24.0), TINY_LTX25["in_channels"],
        TINY_LTX25["cross_attention_dim"], torch.tensor([0.5]), per_token=False, text_mask=False,
        keyframe_mask=torch.ones(1, 24),
    )  # fmt: skip
    marked, _ = ours(video.ours)
    unmarked, _ = ours(ModalityInput(**{**video.ours.__dict__, "keyframe_mask": None}))
    assert relative_max_error(marked, unmarked) > 1e-3
