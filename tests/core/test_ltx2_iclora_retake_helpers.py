"""The small pieces of IC-LoRA control and retake: regions, audio fitting, mask pooling, LoRA metadata."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from safetensors.numpy import save_file

from ltx_mlx_core.errors import InvalidRequest, LoraError
from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.ltx2.ic_lora import grow_attention, latent_mask, reference_downscale_factor
from ltx_mlx_core.pipeline.ltx2.job import LTX2Job
from ltx_mlx_core.pipeline.ltx2.retake import Retake, check_retake, fit_audio, regenerated_frames

JOB = LTX2Job(25, 64, 64, 24.0, 0, PromptEmbeddings(mx.zeros((1, 2, 4))))


@pytest.mark.parametrize(
    "start, end, frames",
    [(0.0, 0.01, (0, 1)), (0.4, 0.6, (9, 17)), (9 / 24, 17 / 24, (9, 17)), (0.0, 10.0, (0, 25)), (0.2, 0.8, (1, 25))],
)
def test_regenerated_frames_snap_to_whole_latent_frames(start, end, frames) -> None:
    assert regenerated_frames(JOB, start, end) == frames


def test_fit_audio_cuts_or_pads_with_zeros() -> None:
    sound = mx.ones((1, 8, 5, 16))
    assert fit_audio(sound, 3).shape == (1, 8, 3, 16)
    padded = np.array(fit_audio(sound, 7))
    assert padded.shape == (1, 8, 7, 16) and padded[:, :, 5:].max() == 0 and padded[:, :, :5].min() == 1


def test_check_retake_refuses_an_empty_or_outside_region() -> None:
    clip = lambda h, w: mx.zeros((1, 25, h, w, 3))  # noqa: E731
    with pytest.raises(InvalidRequest, match="must come before"):
        check_retake(JOB, Retake(clip, 0.5, 0.5))
    with pytest.raises(InvalidRequest, match="outside the clip"):
        check_retake(JOB, Retake(clip, 2.0, 3.0))


def test_latent_mask_pools_space_and_time_causally() -> None:
    mask = np.zeros((1, 17, 64, 32), dtype=np.float32)
    mask[:, 0] = 1.0  # the first frame alone is latent frame 0
    mask[:, 1:9, :32] = 0.5  # latent frame 1, top half
    pooled = np.array(latent_mask(mx.array(mask), (3, 2, 1)))
    np.testing.assert_allclose(pooled, [[1, 1, 0.5, 0, 0, 0]])


def test_grow_attention_blocks() -> None:
    existing = mx.full((1, 3, 3), 0.5)  # 2 clip tokens + 1 earlier conditioning token
    grown = np.array(grow_attention(existing, 3, 2, mx.array([[0.25, 0.75]])))
    assert grown.shape == (1, 5, 5)
    np.testing.assert_allclose(grown[0, :3, :3], 0.5)
    np.testing.assert_allclose(grown[0, :2, 3:], [[0.25, 0.75]] * 2)
    np.testing.assert_allclose(grown[0, 3:, :2], [[0.25, 0.25], [0.75, 0.75]])
    np.testing.assert_allclose(grown[0, 2, 3:], 0)
    np.testing.assert_allclose(grown[0, 3:, 2], 0)
    np.testing.assert_allclose(grown[0, 3:, 3:], 1)


def _lora(path: Path, factor: str | None) -> Path:
    save_file({"a.lora_A.weight": np.zeros((1, 2), np.float32)}, str(path), None if factor is None else {
        "reference_downscale_factor": factor
    })  # fmt: skip
    return path


def test_reference_downscale_factor_from_metadata(tmp_path: Path) -> None:
    plain, half, third = (_lora(tmp_path / f"{n}.safetensors", f) for n, f in (("p", None), ("h", "2"), ("t", "3")))
    assert reference_downscale_factor([plain]) == 1
    assert reference_downscale_factor([plain, half]) == 2
    with pytest.raises(LoraError, match="disagree"):
        reference_downscale_factor([half, third])
    with pytest.raises(LoraError, match="whole number"):
        reference_downscale_factor([_lora(tmp_path / "bad.safetensors", "two")])
