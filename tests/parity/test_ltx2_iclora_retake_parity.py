"""IC-LoRA control and retake reproduce ltx-pipelines 1.0.0's `ICLoraPipeline` and `RetakePipeline`, in float32.

The reference pipelines' own `__call__` runs on the tiny stack of test_ltx2_pipeline_parity (same seams:
ledger stand-in, given prompt embeddings, a noiser replaying our noise), with these media seams: the
control clip, the clip to retake and its audio latents are given pixels / latents instead of files.
For IC-LoRA the reference's stage-1 transformer is the IC-LoRA fused by ltx-core's own loader into a
bfloat16 checkpoint (its `SingleGPUModelBuilder`, as its ledger does); ours reads the same checkpoint and
LoRA file and fuses it for stage 1 only. Error = max|ours - reference| / max|reference| per stream.

Measured (CPU, mlx 0.32.4, torch 2.13), max over video and audio, stage 1 / stage 2:
  IC-LoRA, reference downscale 2 (from the LoRA's metadata) + an image at frame 0: 2.0e-6 / 1.0e-6;
  IC-LoRA, downscale 1, strength 0.9, attention 0.6 x a pixel mask: 1.6e-6 / 7.6e-7;
  retake against RetakePipeline (distilled 1.1e-6, dev guided 2.4e-6) is proven end to end through
      `Pipeline.generate` in test_ltx2_generate_parity_more.py; here, what retake holds and what the VAE
      round trip does outside the region.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
import torch
from mlx.utils import tree_flatten

from tests.parity.ltx2_generate_helpers import bfloat16_stack, fused_reference, write_lora
from tests.parity.ltx2_pipeline_reference import (
    PIPELINE_LTX23,
    Stack,
    build_stack,
    install,
    make_pipeline,
    pixels_at,
    random_image,
    random_prompt,
    video_channels_first,
)

# isort: split
import ltx_pipelines.ic_lora as ic_lora_module
from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_pipelines.utils.args import ImageConditioningInput

from ltx_mlx_core.pipeline.decode import TilingConfig, decode_video, encode_video
from ltx_mlx_core.pipeline.ltx2.guidance import GuiderParams
from ltx_mlx_core.pipeline.ltx2.ic_lora import ControlVideo, ICLoraControl, iter_ic_lora
from ltx_mlx_core.pipeline.ltx2.job import LTX2Job, VisualCondition
from ltx_mlx_core.pipeline.ltx2.retake import Retake, iter_retake, regenerated_frames, retake_plan
from ltx_mlx_core.pipeline.ltx2.stages import LTX2Latents, StageFinished
from ltx_mlx_core.weights.lora_mapping import LoraSpec
from tests.parity.conftest import relative_max_error

BOUND = 1e-4
SEED = 7
FPS = 24.0
LORA_STRENGTH = 0.8


def stage_results(events) -> list[LTX2Latents]:
    return [e.latents for e in events if isinstance(e, StageFinished) and e.name != "upsample"]


def errors(ours: list[LTX2Latents], reference: list[tuple[torch.Tensor, torch.Tensor | None]]) -> list[float]:
    assert len(ours) == len(reference)
    measured = []
    for mine, (video, audio) in zip(ours, reference):
        measured.append(relative_max_error(video_channels_first(mine.video), video))
        if audio is not None:
            measured.append(relative_max_error(np.array(mine.audio), audio))
    return measured


# ---------------------------------------------------------------------------------------------- IC-LoRA


def ic_lora_stack(folder: Path, downscale: int) -> tuple[Stack, Path]:
    """The pipeline stack on bfloat16-valued transformer weights; the reference's stage 1 model has the IC-LoRA
    fused by ltx-core's loader, its stage 2 model is the plain one; ours is the plain one (fused by the recipe)."""
    stack, checkpoint = bfloat16_stack(folder)
    plain = stack.reference_transformers[0]
    # An IC-LoRA (rank 4) on every linear layer, its reference factor in the metadata.
    lora = write_lora(
        plain, folder / "ic_lora.safetensors", seed=9, metadata={"reference_downscale_factor": str(downscale)}
    )
    stack.reference_transformers = [fused_reference(checkpoint, lora, LORA_STRENGTH), plain]
    return stack, lora


def _mask_pixels(frames: int, height: int, width: int) -> np.ndarray:
    """Attention weights [frames, H, W] in [0, 1]: a ramp across the width times a per-frame level."""
    ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, None, :]
    levels = np.linspace(1.0, 0.3, frames, dtype=np.float32)[:, None, None]
    return np.broadcast_to(ramp * levels, (frames, height, width)).astype(np.float32)


@pytest.mark.parametrize(
    "downscale, strength, attention, masked, with_image",
    [(2, 1.0, 1.0, False, True), (1, 0.9, 0.6, True, False)],
    ids=["downscale2-image", "attention-mask"],
)
def test_ic_lora_control_matches_reference(monkeypatch, tmp_path, downscale, strength, attention, masked, with_image):
    frames, height, width = 17, 256, 128
    stack, lora = ic_lora_stack(tmp_path, downscale)
    control_reference, control_ours = pixels_at(random_image(50, frames, height, width))
    image_reference, image_ours = pixels_at(random_image(51, 1, height, width))
    prompt = random_prompt(PIPELINE_LTX23, 5)
    images = {"first.png": image_reference} if with_image else None
    recorder = install(monkeypatch, ic_lora_module, stack, [prompt], SEED, images=images)

    def load_control(video_path, height, width, frame_cap, dtype, device):
        assert video_path == "control.mp4" and frame_cap == frames
        return control_reference(height, width)

    monkeypatch.setattr(ic_lora_module, "load_video_conditioning", load_control)
    stage_1_h, stage_1_w = height // 2, width // 2
    mask = _mask_pixels(frames, stage_1_h // downscale, stage_1_w // downscale) if masked else None
    pipeline = make_pipeline(ic_lora_module.ICLoraPipeline, stack)
    pipeline.reference_downscale_factor = ic_lora_module._read_lora_reference_downscale_factor(str(lora))
    assert pipeline.reference_downscale_factor == downscale
    with torch.no_grad():
        pipeline(
            prompt="", seed=SEED, height=height, width=width, num_frames=frames, frame_rate=FPS,
            images=[ImageConditioningInput("first.png", 0, 1.0)] if with_image else [],
            video_conditioning=[("control.mp4", strength)], conditioning_attention_strength=attention,
            conditioning_attention_mask=None if mask is None else torch.from_numpy(mask)[None, None],
        )  # fmt: skip

    def mask_source(h: int, w: int) -> mx.array:
        assert (h, w) == mask.shape[1:]
        return mx.array(mask[None])

    control = ICLoraControl.from_files(
        [ControlVideo(control_ours, strength, attention, mask_source if masked else None)],
        [LoraSpec(lora, LORA_STRENGTH)],
    )
    assert control.downscale == downscale
    visual = (VisualCondition(image_ours, 0),) if with_image else ()
    job = LTX2Job(frames, height, width, FPS, SEED, prompt.ours, visual=visual)
    transformer = stack.transformers[0]
    before = {k: np.array(v) for k, v in _flat(transformer).items()}
    ours = stage_results(iter_ic_lora(job, control, stack.provider(0), stack.media()))
    measured = errors(ours, recorder.stages)
    assert max(measured) <= BOUND, measured
    # The IC-LoRA is gone from the model after stage 1: every weight is back, bit for bit.
    after = _flat(transformer)
    assert all(np.array_equal(before[k], np.array(after[k])) for k in before)


def _flat(model) -> dict[str, mx.array]:
    return dict(tree_flatten(model.parameters()))


# ---------------------------------------------------------------------------------------------- retake

RETAKE_FRAMES, RETAKE_H, RETAKE_W = 25, 128, 64
RETAKE_AUDIO_FRAMES = 26  # round(25 / 24 * 25)
START, END = 0.4, 0.6
RETAKE_PIXEL_BOUND = 1.0  # provisional: measured below  # latent frame 2 (pixel frames 9-16), audio latent frames 10-15
GUIDANCE = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=[1], rescale_scale=0.7, modality_scale=2.0)
AUDIO_GUIDANCE = MultiModalGuiderParams(cfg_scale=5.0, rescale_scale=0.5)


def _params(p: MultiModalGuiderParams) -> GuiderParams:
    return GuiderParams(p.cfg_scale, p.stg_scale, tuple(p.stg_blocks), p.rescale_scale, p.modality_scale, p.skip_step)


@pytest.fixture(scope="module")
def retake_stack() -> Stack:
    return build_stack(PIPELINE_LTX23)


def test_retake_keeps_latents_outside_the_region_exactly(retake_stack) -> None:
    """Outside [start, end) the latents come back exactly as encoded (video and audio), inside they change."""
    _, clip_ours = pixels_at(random_image(60, RETAKE_FRAMES, RETAKE_H, RETAKE_W))
    sound = mx.random.normal((1, 8, RETAKE_AUDIO_FRAMES, 16), key=mx.random.key(61))
    job = LTX2Job(RETAKE_FRAMES, RETAKE_H, RETAKE_W, FPS, SEED, random_prompt(PIPELINE_LTX23, 5).ours)
    plan = retake_plan(job, retake_stack.provider(0))
    (ours,) = stage_results(iter_retake(job, Retake(clip_ours, START, END, sound), plan, retake_stack.media()))
    encoded = np.array(encode_video(retake_stack.vae, clip_ours(RETAKE_H, RETAKE_W), tiling=TilingConfig.untiled()))
    video = np.array(ours.video)
    assert np.array_equal(video[:, [0, 1, 3]], encoded[:, [0, 1, 3]])
    assert np.abs(video[:, 2] - encoded[:, 2]).max() > 0.1
    audio, given = np.array(ours.audio), np.array(sound)
    held = [i for i in range(RETAKE_AUDIO_FRAMES) if not 10 <= i <= 15]
    assert np.array_equal(audio[:, :, held], given[:, :, held])
    assert (np.abs(audio[:, :, 10:16] - given[:, :, 10:16]).max(axis=(0, 1, 3)) > 0.1).all()
    assert regenerated_frames(job, START, END) == (9, 17)


def test_retake_pixels_outside_the_region_after_the_vae_round_trip(retake_stack) -> None:
    """Decoded, the retake's frames outside the regenerated latent frame differ from the round-tripped clip only
    through the decoder's temporal reach (it is not causal): the difference falls off away from the region.

    Measured (65 frames, latent frame 4 = pixel frames 25-32 regenerated, tiny random VAE, pixels in [-1, 1]):
    max |difference| outside the region 2.23 (1.58 / 1.59 on the frames next to it, 1.13 / 0.55 at the clip's
    first / last frame), inside it 1.97. The tiny random decoder reaches past 8 latent frames in time and amplifies, so no frame of this
    clip is beyond its reach; the latents outside the region are exact (test above), and a real decoder's
    narrower reach bounds how far the change spreads. The reference's retake decodes the same way."""
    frames, size = 65, 64
    _, clip_ours = pixels_at(random_image(62, frames, size, size))
    start, end = 26 / FPS, 30 / FPS
    job = LTX2Job(frames, size, size, FPS, SEED, random_prompt(PIPELINE_LTX23, 5).ours)
    plan = retake_plan(job, retake_stack.provider(0))
    (ours,) = stage_results(iter_retake(job, Retake(clip_ours, start, end), plan, retake_stack.media()))
    first, stop = regenerated_frames(job, start, end)
    assert (first, stop) == (25, 33)
    tiling = TilingConfig.untiled()
    encoded = encode_video(retake_stack.vae, clip_ours(size, size), tiling=tiling)
    assert np.array_equal(
        np.array(ours.video)[:, [0, 1, 2, 3, 5, 6, 7, 8]], np.array(encoded)[:, [0, 1, 2, 3, 5, 6, 7, 8]]
    )
    retaken = np.array(decode_video(retake_stack.vae, ours.video, tiling=tiling))
    round_trip = np.array(decode_video(retake_stack.vae, encoded, tiling=tiling))
    per_frame = np.abs(retaken - round_trip).max(axis=(0, 2, 3, 4))
    assert per_frame[[0, -1]].max() < min(per_frame[first - 1], per_frame[stop])
