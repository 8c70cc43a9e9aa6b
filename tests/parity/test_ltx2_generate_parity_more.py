"""The rest of the LTX-2 flows through our real `Pipeline.generate`, against ltx-pipelines 1.0.0, in float32.

As test_ltx2_generate_parity: the reference pipelines' own `__call__` on the tiny stack with the seams of
ltx2_pipeline_reference (replayed noise, given prompt embeddings), ours a request through
`Pipeline(model).generate` over the same modules; each stage's video and audio latents are compared
(ours read from the stage checkpoints). Files (clips made with ffmpeg: H.264 picture, AAC sound) are
decoded once with our reader and the same uint8 frames go to both sides, each through its own resize and
centre crop; their sound goes to both sides as the same mel spectrogram, encoded by each side's encoder.

The transformer holds bfloat16 values (a checkpoint's), so that ltx-core's own loader can build the
reference's LoRA-fused models from the same file and LoRA: the dev recipes' stage 2 (the distilled LoRA,
ours fused by `LTX2Models.stage_2_transformer` from the model's `distilled_lora` file) and IC-LoRA's
stage 1 (the request's LoRA).

What a request can express decides the reference each flow is compared with: images at frame 0 replace
the first latents and images elsewhere are appended (`combined_image_conditionings`), so keyframe images
at the first and last frames match the distilled and dev two-stage pipelines given those images. The
reference's KeyframeInterpolationPipeline appends the frame-0 image as a guiding keyframe too: a request
asks for that with `keyframes=True` (`--keyframes`).

Measured (CPU, mlx 0.32.4, torch 2.13), max relative error over every stage's video and audio latents
(two-stage: stage 1 and stage 2; one-stage and retake: the one stage):
  keyframes at frames 0 and 16 (150x100 photos), distilled 7.4e-7; dev two-stage guided 3.4e-6;
  keyframe interpolation (`keyframes=True`) against KeyframeInterpolationPipeline: 2.9e-6;
  extension by a 9-frame H.264 clip with AAC sound at frame 0 (distilled): 9.2e-7;
  dev two-stage, CFG + STG + modality + rescale on both streams, 3 steps, distilled LoRA in stage 2: 3.3e-6;
  dev one-stage, the same guidance: 2.4e-6;
  IC-LoRA from a control clip file (LoRA 0.8, control 0.9) + an image at frame 0: 1.7e-6;
  retake of [0.4, 0.6) s of a 25-frame clip with sound: distilled 1.1e-6, dev guided 2.4e-6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.parity.ltx2_generate_helpers import (
    FPS,
    SEED,
    AudioModels,
    StackComponents,
    bfloat16_stack,
    build_audio,
    fused_reference,
    generate,
    hold_reference_audio,
    reference_pixels,
    reference_sound,
    stage_errors,
    write_lora,
)
from tests.parity.ltx2_pipeline_reference import PIPELINE_LTX23, Stack, install, make_pipeline, random_prompt

# isort: split
import ltx_pipelines.distilled as distilled_module
import ltx_pipelines.ic_lora as ic_lora_module
import ltx_pipelines.keyframe_interpolation as keyframe_module
import ltx_pipelines.retake as retake_module
import ltx_pipelines.ti2vid_one_stage as one_stage_module
import ltx_pipelines.ti2vid_two_stages as two_stage_module
from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.conditioning import VideoConditionByLatentIndex
from ltx_core.types import Audio
from ltx_pipelines.utils.args import ImageConditioningInput

from ltx_mlx_core.pipeline.media import crf_compress
from ltx_mlx_core.pipeline.request import ConditioningItem, LoraRef
from ltx_mlx_core.video.audio import read_audio
from ltx_mlx_core.video.io import read_frames
from tests.sound_clips import sound_clip

BOUND = 1e-4
FRAMES, HEIGHT, WIDTH = 17, 128, 64
AUDIO_FRAMES = 18  # round(17 / 24 * 25)
# Every guidance term on both streams, STG inside the tiny transformer's 3 blocks.
VIDEO_GUIDANCE = dict(cfg_scale=3.0, stg_scale=1.0, stg_blocks=[1], rescale_scale=0.7, modality_scale=3.0)
AUDIO_GUIDANCE = dict(cfg_scale=7.0, stg_scale=0.5, stg_blocks=[0, 2], rescale_scale=0.5, modality_scale=2.0)
DEV_STEPS = 3
DEV_OVERRIDES = {"steps": DEV_STEPS, "video_guidance": VIDEO_GUIDANCE, "audio_guidance": AUDIO_GUIDANCE}
IC_LORA_STRENGTH = 0.8
LINEAR = "transformer_blocks.0.attn1.to_q.weight"


@dataclass
class Models:
    stack: Stack  # the reference's transformers: [plain]
    audio: AudioModels
    checkpoint: Path
    distilled_lora: Path
    stage_2: torch.nn.Module  # the plain transformer with the distilled LoRA fused by ltx-core

    def dev_stack(self) -> Stack:
        return replace(self.stack, reference_transformers=[self.stack.reference_transformers[0], self.stage_2])

    def distilled(self) -> StackComponents:
        return StackComponents(self.stack, self.audio)

    def dev(self) -> StackComponents:
        return StackComponents(self.stack, self.audio, variant="dev", distilled_lora=self.distilled_lora)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Models:
    folder = tmp_path_factory.mktemp("models")
    stack, checkpoint = bfloat16_stack(folder)
    audio = build_audio(folder)
    plain = stack.reference_transformers[0]
    lora = write_lora(plain, folder / "distilled_lora.safetensors", seed=11)
    stage_2 = fused_reference(checkpoint, lora, 1.0)
    # The LoRA changes the model (a stage 2 without it could not match).
    assert not torch.equal(plain.state_dict()[LINEAR], stage_2.state_dict()[LINEAR])
    return Models(stack, audio, checkpoint, lora, stage_2)


def guiders() -> dict[str, MultiModalGuiderParams]:
    return {
        "video_guider_params": MultiModalGuiderParams(**VIDEO_GUIDANCE),
        "audio_guider_params": MultiModalGuiderParams(**AUDIO_GUIDANCE),
    }


def clip(path: Path, frames: int, size: tuple[int, int], sound: bool = True) -> tuple[Path, np.ndarray]:
    """A moving test picture (H.264) with a tone (AAC) or silent; its frames as our reader decodes them."""
    sound_clip(path, seconds=frames / FPS, fps=FPS, size=size, pattern="testsrc2", frequency=440.0 if sound else None)
    decoded = read_frames(str(path), 0, None)
    assert decoded.shape[0] == frames, decoded.shape
    return path, decoded


def photos(seed: int, names: tuple[str, ...]) -> tuple[dict[str, np.ndarray], dict]:
    """150x100 random photos (ours) and, for the reference, the same pixels after our CRF 33 preparation."""
    generator = np.random.default_rng(seed)
    ours = {name: generator.integers(0, 256, (150, 100, 3), dtype=np.uint8) for name in names}
    reference = {name: reference_pixels(crf_compress(photo[None], 33)) for name, photo in ours.items()}
    return ours, reference


def check(name: str, measured: list[float]) -> None:
    assert max(measured) <= BOUND, (name, measured)


# ---------------------------------------------------------------------------------------------- keyframes


@pytest.mark.parametrize("variant", ["distilled", "dev"])
def test_keyframes_at_the_first_and_last_frame(monkeypatch, models, tmp_path, variant) -> None:
    """Images at frame 0 and at the last frame: the distilled recipe, and the dev two-stage one guided."""
    specs = [("first.png", 0, 1.0), ("last.png", FRAMES - 1, 1.0)]
    ours_photos, reference_images = photos(3, tuple(p for p, _, _ in specs))
    prompt, negative = random_prompt(PIPELINE_LTX23, 5), random_prompt(PIPELINE_LTX23, 6)
    images = [ImageConditioningInput(p, f, s) for p, f, s in specs]
    common = dict(seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES, frame_rate=FPS, images=images)
    if variant == "distilled":
        stack, components, prompts = models.stack, models.distilled(), [prompt]
        recorder = install(monkeypatch, distilled_module, stack, prompts, SEED, images=reference_images)
        with torch.no_grad():
            make_pipeline(distilled_module.DistilledPipeline, stack)(prompt="", **common)
    else:
        stack, components, prompts = models.dev_stack(), models.dev(), [prompt, negative]
        recorder = install(monkeypatch, two_stage_module, stack, prompts, SEED, images=reference_images)
        with torch.no_grad():
            make_pipeline(two_stage_module.TI2VidTwoStagesPipeline, stack)(
                prompt="", negative_prompt="", num_inference_steps=DEV_STEPS, **guiders(), **common
            )
    items = [ConditioningItem(frames=ours_photos[p][None], frame=f, strength=s) for p, f, s in specs]
    stages, _ = generate(
        components, tmp_path / "job", prompt.ours, None if variant == "distilled" else negative.ours,
        overrides=None if variant == "distilled" else DEV_OVERRIDES,
        width=WIDTH, height=HEIGHT, num_frames=FRAMES, conditioning=items, with_audio=False,
    )  # fmt: skip
    check(f"keyframes {variant}", stage_errors(stages, recorder.stages))


def test_keyframe_interpolation(monkeypatch, models, tmp_path) -> None:
    """`keyframes=True`: every image guides as an appended keyframe, frame 0 included, as the reference's
    KeyframeInterpolationPipeline (dev, guided stage 1, distilled LoRA in stage 2)."""
    specs = [("first.png", 0, 1.0), ("last.png", FRAMES - 1, 0.9)]
    ours_photos, reference_images = photos(4, tuple(p for p, _, _ in specs))
    prompt, negative = random_prompt(PIPELINE_LTX23, 5), random_prompt(PIPELINE_LTX23, 6)
    stack = models.dev_stack()
    recorder = install(monkeypatch, keyframe_module, stack, [prompt, negative], SEED, images=reference_images)
    with torch.no_grad():
        make_pipeline(keyframe_module.KeyframeInterpolationPipeline, stack)(
            prompt="", negative_prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES,
            frame_rate=FPS, num_inference_steps=DEV_STEPS, **guiders(),
            images=[ImageConditioningInput(p, f, s) for p, f, s in specs],
        )  # fmt: skip
    items = [ConditioningItem(frames=ours_photos[p][None], frame=f, strength=s) for p, f, s in specs]
    stages, _ = generate(
        models.dev(), tmp_path / "job", prompt.ours, negative.ours, overrides=DEV_OVERRIDES,
        width=WIDTH, height=HEIGHT, num_frames=FRAMES, conditioning=items, keyframes=True, with_audio=False,
    )  # fmt: skip
    check("keyframe interpolation", stage_errors(stages, recorder.stages))


# ---------------------------------------------------------------------------------------------- extension


def test_extension_continues_picture_and_sound(monkeypatch, models, tmp_path) -> None:
    """A 9-frame clip with sound at frame 0: its picture replaces the first latents, its sound is held (distilled)."""
    path, decoded = clip(tmp_path / "previous.mp4", 9, (96, 160))
    rate = models.audio.audio_vae.config.sampling_rate
    # The clip's sound over the 9 frames it pins, as our request reads it.
    samples = read_audio(str(path), rate=rate, channels=2)[: round(9 / FPS * rate)]
    held = hold_reference_audio(monkeypatch, reference_sound(models.audio, samples, rate), AUDIO_FRAMES)
    prompt = random_prompt(PIPELINE_LTX23, 5)
    recorder = install(monkeypatch, distilled_module, models.stack, [prompt], SEED)
    pixels = reference_pixels(decoded)

    def tail_conditioning(images, height, width, video_encoder, dtype, device):
        return [VideoConditionByLatentIndex(video_encoder(pixels(height, width)), 1.0, 0)]

    monkeypatch.setattr(distilled_module, "combined_image_conditionings", tail_conditioning)
    with torch.no_grad():
        make_pipeline(distilled_module.DistilledPipeline, models.stack)(
            prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES, frame_rate=FPS, images=[]
        )
    stages, result = generate(
        models.distilled(), tmp_path / "job", prompt.ours, width=WIDTH, height=HEIGHT, num_frames=FRAMES,
        conditioning=[ConditioningItem(path=str(path), frame=0)],
    )  # fmt: skip
    check("extension", stage_errors(stages, recorder.stages))
    assert 0 < held < AUDIO_FRAMES and len(result.audio[0]) > 0


# ---------------------------------------------------------------------------------------------- dev recipes


def test_dev_two_stage_with_every_guidance_term(monkeypatch, models, tmp_path) -> None:
    prompts = [random_prompt(PIPELINE_LTX23, 5), random_prompt(PIPELINE_LTX23, 6)]
    stack = models.dev_stack()
    recorder = install(monkeypatch, two_stage_module, stack, prompts, SEED)
    with torch.no_grad():
        make_pipeline(two_stage_module.TI2VidTwoStagesPipeline, stack)(
            prompt="", negative_prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES,
            frame_rate=FPS, num_inference_steps=DEV_STEPS, images=[], **guiders(),
        )  # fmt: skip
    components = models.dev()
    stages, _ = generate(
        components, tmp_path / "job", prompts[0].ours, prompts[1].ours, overrides=DEV_OVERRIDES,
        width=WIDTH, height=HEIGHT, num_frames=FRAMES, with_audio=False,
    )  # fmt: skip
    check("dev two-stage", stage_errors(stages, recorder.stages))


def test_dev_one_stage_with_every_guidance_term(monkeypatch, models, tmp_path) -> None:
    prompts = [random_prompt(PIPELINE_LTX23, 5), random_prompt(PIPELINE_LTX23, 6)]
    recorder = install(monkeypatch, one_stage_module, models.stack, prompts, SEED, stages=(0,))
    with torch.no_grad():
        make_pipeline(one_stage_module.TI2VidOneStagePipeline, models.stack)(
            prompt="", negative_prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES,
            frame_rate=FPS, num_inference_steps=DEV_STEPS, images=[], **guiders(),
        )  # fmt: skip
    stages, _ = generate(
        models.dev(), tmp_path / "job", prompts[0].ours, prompts[1].ours, stages=("denoise",),
        overrides={**DEV_OVERRIDES, "pipeline": "dev_one_stage"},
        width=WIDTH, height=HEIGHT, num_frames=FRAMES, with_audio=False,
    )  # fmt: skip
    check("dev one-stage", stage_errors(stages, recorder.stages))


# ---------------------------------------------------------------------------------------------- IC-LoRA


def test_ic_lora_control_from_a_file(monkeypatch, models, tmp_path) -> None:
    """A control clip file and its IC-LoRA (strength 0.8), control strength 0.9, an image at frame 0."""
    plain = models.stack.reference_transformers[0]
    lora = write_lora(plain, tmp_path / "ic_lora.safetensors", seed=9, metadata={"reference_downscale_factor": "1"})
    stack = replace(
        models.stack, reference_transformers=[fused_reference(models.checkpoint, lora, IC_LORA_STRENGTH), plain]
    )
    control, decoded = clip(tmp_path / "control.mp4", FRAMES, (96, 160), sound=False)
    ours_photos, reference_images = photos(4, ("first.png",))
    prompt = random_prompt(PIPELINE_LTX23, 5)
    recorder = install(monkeypatch, ic_lora_module, stack, [prompt], SEED, images=reference_images)

    def load_control(video_path, height, width, frame_cap, dtype, device):
        assert video_path == "control.mp4" and frame_cap == FRAMES
        return reference_pixels(decoded[:frame_cap])(height, width)

    monkeypatch.setattr(ic_lora_module, "load_video_conditioning", load_control)
    pipeline = make_pipeline(ic_lora_module.ICLoraPipeline, stack)
    pipeline.reference_downscale_factor = ic_lora_module._read_lora_reference_downscale_factor(str(lora))
    with torch.no_grad():
        pipeline(
            prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES, frame_rate=FPS,
            images=[ImageConditioningInput("first.png", 0, 1.0)], video_conditioning=[("control.mp4", 0.9)],
        )  # fmt: skip
    stages, _ = generate(
        models.distilled(), tmp_path / "job", prompt.ours, width=WIDTH, height=HEIGHT, num_frames=FRAMES,
        conditioning=[ConditioningItem(frames=ours_photos["first.png"][None], frame=0)],
        control_path=str(control), control_strength=0.9, loras=[LoraRef(str(lora), IC_LORA_STRENGTH)],
        with_audio=False,
    )  # fmt: skip
    check("IC-LoRA", stage_errors(stages, recorder.stages))


# ---------------------------------------------------------------------------------------------- retake

RETAKE_FRAMES = 25
START, END = 0.4, 0.6


@pytest.mark.parametrize("variant", ["distilled", "dev"])
def test_retake_of_a_clip_with_sound(monkeypatch, models, tmp_path, variant) -> None:
    """Retake [0.4, 0.6) s of a 25-frame clip with sound (one stage; dev: guided, 3 steps)."""
    path, decoded = clip(tmp_path / "take.mp4", RETAKE_FRAMES, (WIDTH, HEIGHT))
    rate = models.audio.audio_vae.config.sampling_rate
    samples = read_audio(str(path), rate=rate, channels=2)[: math.ceil(RETAKE_FRAMES / FPS * rate)]
    sound = reference_sound(models.audio, samples, rate)
    distilled = variant == "distilled"
    prompts = [random_prompt(PIPELINE_LTX23, 5)] + ([] if distilled else [random_prompt(PIPELINE_LTX23, 6)])
    recorder = install(monkeypatch, retake_module, models.stack, prompts, SEED, stages=(0,))
    decoded_audio: dict[str, torch.Tensor] = {}
    monkeypatch.setattr(
        retake_module, "get_videostream_metadata", lambda video_path: (FPS, RETAKE_FRAMES, WIDTH, HEIGHT)
    )
    monkeypatch.setattr(
        retake_module, "load_video_conditioning", lambda video_path, height, width, frame_cap, dtype, device: (
            reference_pixels(decoded[:frame_cap])(height, width)
        ),
    )  # fmt: skip
    monkeypatch.setattr(retake_module, "decode_audio_from_file", lambda *a: Audio(torch.zeros(1, 2, 1600), rate))
    monkeypatch.setattr(retake_module, "vae_encode_audio", lambda *a, **k: sound)
    monkeypatch.setattr(
        retake_module, "vae_decode_audio", lambda latent, *a, **k: decoded_audio.setdefault("latent", latent)
    )
    with torch.no_grad():
        make_pipeline(retake_module.RetakePipeline, models.stack)(
            video_path="take.mp4", prompt="", start_time=START, end_time=END, seed=SEED, distilled=distilled,
            num_inference_steps=DEV_STEPS, **({} if distilled else guiders()),
        )  # fmt: skip
    stages, result = generate(
        models.distilled() if distilled else models.dev(), tmp_path / "job", prompts[0].ours,
        None if distilled else prompts[1].ours, stages=("retake",), overrides=None if distilled else DEV_OVERRIDES,
        width=WIDTH, height=HEIGHT, num_frames=RETAKE_FRAMES, retake_path=str(path), retake_start=START,
        retake_end=END,
    )  # fmt: skip
    check(f"retake {variant}", stage_errors(stages, [(recorder.final_video, decoded_audio["latent"])]))
    assert len(result.audio[0]) > 0
