"""Our LTX-2 stage recipes reproduce ltx-pipelines 1.0.0's pipelines, stage by stage, in float32.

Each case runs a reference pipeline's own `__call__` on tiny random models (ltx-core's
transformer at the pipelines' 128-channel latent sizes, a 128-channel LTX-2.3-layout VAE, an
x2 upsampler), fed the same prompt embeddings and, through a replaying noiser, the same noise
our stages draw from the seed; ours runs the same flow from the same weights copied through
our key maps. The video and audio latents after each denoising stage are compared:
error = max|ours - reference| / max|reference| (bound 1e-4).

The LTX-2.3 flows a request can ask for (text, images, keyframes, extension, dev two- and one-stage,
IC-LoRA, retake) are proven end to end through `Pipeline.generate` (test_ltx2_generate_parity*.py);
what stays here is what those do not reach: the LTX-2 (19B) layout, the dev audio-to-video pipeline
(`A2VidPipelineTwoStage`) and guidance that changes with sigma.

Measured (CPU, mlx 0.32.4, torch 2.13), max over video and audio of stage 1 / stage 2:
  distilled text to video+audio, LTX-2 4.3e-7 / 4.8e-7 (its final video decoded by our VAE: 2.8e-6 from
      the reference decoder's frames);
  audio to video (dev; video only, the audio comes back bit-exact) 2.5e-6 / 8.2e-7;
  dev one-stage with sigma-binned guidance and skipped steps 1.9e-6.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch

from tests.parity.ltx2_pipeline_reference import (
    PIPELINE_LTX2,
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
import ltx_pipelines.a2vid_two_stage as a2vid_module
import ltx_pipelines.distilled as distilled_module
import ltx_pipelines.ti2vid_one_stage as one_stage_module
from ltx_core.components.guiders import MultiModalGuiderFactory, MultiModalGuiderParams
from ltx_core.types import Audio
from ltx_pipelines.utils.args import ImageConditioningInput

from ltx_mlx_core.pipeline.decode import TilingConfig, decode_video
from ltx_mlx_core.pipeline.ltx2.guidance import UNGUIDED, DevGuidance, GuidanceSchedule, GuiderParams
from ltx_mlx_core.pipeline.ltx2.job import AudioCondition, LTX2Job, VisualCondition
from ltx_mlx_core.pipeline.ltx2.stages import (
    LTX2Latents,
    StageFinished,
    dev_one_stage_plan,
    dev_plans,
    distilled_plans,
    iter_one_stage,
    iter_two_stage,
)
from tests.parity.conftest import relative_max_error

BOUND = 1e-4
SEED = 7
FRAMES, HEIGHT, WIDTH, FPS = 17, 128, 64, 24.0
AUDIO_FRAMES = 18  # round(17 / 24 * 25)

VIDEO_GUIDANCE = MultiModalGuiderParams(
    cfg_scale=3.0, stg_scale=1.0, stg_blocks=[1], rescale_scale=0.7, modality_scale=3.0
)
AUDIO_GUIDANCE = MultiModalGuiderParams(
    cfg_scale=7.0, stg_scale=0.5, stg_blocks=[0, 2], rescale_scale=0.5, modality_scale=2.0
)


def ours_params(params: MultiModalGuiderParams) -> GuiderParams:
    return GuiderParams(
        params.cfg_scale, params.stg_scale, tuple(params.stg_blocks), params.rescale_scale,
        params.modality_scale, params.skip_step,
    )  # fmt: skip


def stage_results(events) -> list[LTX2Latents]:
    """Latents of each denoising stage (the upsample stage's are left out)."""
    return [e.latents for e in events if isinstance(e, StageFinished) and e.name != "upsample"]


def errors(ours: list[LTX2Latents], reference: list[tuple[torch.Tensor, torch.Tensor | None]]) -> list[float]:
    assert len(ours) == len(reference)
    measured = []
    for mine, (video, audio) in zip(ours, reference):
        measured.append(relative_max_error(video_channels_first(mine.video), video))
        if audio is not None:
            measured.append(relative_max_error(np.array(mine.audio), audio))
    return measured


@pytest.fixture(scope="module")
def ltx23_stack() -> Stack:
    return build_stack(PIPELINE_LTX23, transformers=2)


def _images(specs: list[tuple[str, int]]):
    """Random images (one frame each) for both sides, keyed by a stand-in path."""
    reference, ours = {}, {}
    for index, (path, _) in enumerate(specs):
        reference[path], ours[path] = pixels_at(random_image(20 + index, 1, HEIGHT, WIDTH))
    return reference, ours


@pytest.mark.parametrize("config", [PIPELINE_LTX2], ids=["ltx2"])
def test_distilled_text_to_video_and_audio(monkeypatch, config) -> None:
    stack = build_stack(config)
    prompt = random_prompt(config, 5)
    recorder = install(monkeypatch, distilled_module, stack, [prompt], SEED)
    with torch.no_grad():
        make_pipeline(distilled_module.DistilledPipeline, stack)(
            prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES, frame_rate=FPS, images=[]
        )
    job = LTX2Job(FRAMES, HEIGHT, WIDTH, FPS, SEED, prompt.ours)
    ours = stage_results(iter_two_stage(job, *distilled_plans(job, stack.provider(0)), stack.media()))
    measured = errors(ours, recorder.stages)
    assert max(measured) <= BOUND, measured
    assert ours[-1].audio.shape == (1, 8, AUDIO_FRAMES, 16)
    # The final latents decode to the same frames with our VAE as with the reference decoder.
    with torch.no_grad():
        expected = stack.decoder(recorder.final_video)
    frames = decode_video(stack.vae, ours[-1].video, tiling=TilingConfig.untiled())
    decoded = relative_max_error(np.array(frames).transpose(0, 4, 1, 2, 3), expected)
    assert decoded <= BOUND, decoded


def test_audio_to_video_keeps_the_given_audio(monkeypatch, ltx23_stack) -> None:
    reference_images, our_images = _images([("first.png", 0)])
    given = mx.random.normal((1, 8, AUDIO_FRAMES + 7, 16), key=mx.random.key(40))  # longer: trimmed to the clip
    prompts = [random_prompt(PIPELINE_LTX23, 5), random_prompt(PIPELINE_LTX23, 6)]
    recorder = install(monkeypatch, a2vid_module, ltx23_stack, prompts, SEED, images=reference_images)
    monkeypatch.setattr(a2vid_module, "decode_audio_from_file", lambda *a, **k: Audio(torch.zeros(1, 2, 160), 16000))
    monkeypatch.setattr(a2vid_module, "vae_encode_audio", lambda *a, **k: torch.from_numpy(np.array(given)))
    with torch.no_grad():
        make_pipeline(a2vid_module.A2VidPipelineTwoStage, ltx23_stack)(
            prompt="", negative_prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES,
            frame_rate=FPS, num_inference_steps=2, video_guider_params=VIDEO_GUIDANCE,
            images=[ImageConditioningInput("first.png", 0, 1.0)], audio_path="given.wav",
        )  # fmt: skip
    # The audio guider of the reference has no negative context: its unconditional pass keeps the positive one.
    negative = type(prompts[1].ours)(prompts[1].ours.video)
    job = LTX2Job(
        FRAMES, HEIGHT, WIDTH, FPS, SEED, prompts[0].ours, negative,
        visual=(VisualCondition(our_images["first.png"], 0),), audio=(AudioCondition(given),),
    )  # fmt: skip
    guidance = DevGuidance.constant(ours_params(VIDEO_GUIDANCE), UNGUIDED)
    plans = dev_plans(job, ltx23_stack.provider(0), ltx23_stack.provider(1), 2, guidance)
    ours = stage_results(iter_two_stage(job, *plans, ltx23_stack.media()))
    measured = errors(ours, recorder.stages)
    assert max(measured) <= BOUND, measured
    for stage in ours:
        assert np.array_equal(np.array(stage.audio), np.array(given[:, :, :AUDIO_FRAMES]))


def test_dev_one_stage_with_sigma_bins_and_skipped_steps(monkeypatch, ltx23_stack) -> None:
    """Guidance that changes with sigma, and a video guider computing every other step only."""
    video_bins = {
        1.0: MultiModalGuiderParams(cfg_scale=4.0, stg_scale=1.0, stg_blocks=[2], rescale_scale=0.7, skip_step=1),
        0.5: MultiModalGuiderParams(cfg_scale=2.0, modality_scale=2.0, skip_step=1),
    }
    audio = MultiModalGuiderParams(cfg_scale=5.0, rescale_scale=0.3)
    prompts = [random_prompt(PIPELINE_LTX23, 5), random_prompt(PIPELINE_LTX23, 6)]
    recorder = install(monkeypatch, one_stage_module, ltx23_stack, prompts, SEED, stages=(0,))
    with torch.no_grad():
        make_pipeline(one_stage_module.TI2VidOneStagePipeline, ltx23_stack)(
            prompt="", negative_prompt="", seed=SEED, height=64, width=64, num_frames=FRAMES, frame_rate=FPS,
            num_inference_steps=4, video_guider_params=MultiModalGuiderFactory.from_dict(video_bins),
            audio_guider_params=audio, images=[],
        )  # fmt: skip
    job = LTX2Job(FRAMES, 64, 64, FPS, SEED, prompts[0].ours, prompts[1].ours)
    guidance = DevGuidance(
        GuidanceSchedule.by_sigma({s: ours_params(p) for s, p in video_bins.items()}),
        GuidanceSchedule.constant(ours_params(audio)),
    )
    ours = stage_results(iter_one_stage(job, dev_one_stage_plan(job, ltx23_stack.provider(0), 4, guidance), None))
    measured = errors(ours, recorder.stages)
    assert max(measured) <= BOUND, measured
