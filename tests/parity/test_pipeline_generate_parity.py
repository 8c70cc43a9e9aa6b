"""End to end: our `Pipeline.generate` reproduces the reference multi-scale pipeline as its CLI drives it.

Unlike test_pipeline_flows_parity.py, nothing of our flow is rebuilt here: a tiny random model
is written to disk (the reference's torch modules in the official single-file layout, next to
`make-tiny`'s T5, tokenizer and manifest), our `Pipeline.generate` runs a request from files
(images and a clip on disk, a pipeline YAML), and the reference `LTXMultiScalePipeline` runs the
same YAML with conditioning items made by the reference CLI's own functions from the same files
(`inference.prepare_conditioning`: crop to the target aspect at the source resolution, blur,
CRF; the pipeline then resizes them bilinearly for each pass). The clip placed mid-video is all
prefix (9 frames: 2 latents), run once as the reference pipeline handles it ("concat") and once
with the YAML's `prefix_latents_mode: soft` (the reference's helper patched to that mode).

Held equal on purpose: the CRF codec is off on both sides (PyAV, which the reference's needs, is
not installed; the reference's CRF 0 returns the blurred frames as they are, and so do we); the
reference gets our T5 embeddings (its pipeline takes embeddings, so T5 is not compared here); the
same noise is replayed (tests/parity/pipeline_helpers.py): the draws of our denoising passes and
decode, not those initialising modules or fitting the preview colours;
the reference VAE encodes with its posterior mean, as ours does.

Compared: the latents after each pass (our stage checkpoints in `request.job_dir`, the
reference's at the end of each of its passes) and the decoded video resized to the requested
size, as floats before our uint8 conversion and as the uint8 frames we return.

Measured (CPU, float32, max|ours - ref| / max|ref|, bound 1e-4): concat prefix: first pass
3.8e-7, second pass 5.2e-7, decoded video 3.6e-6; soft prefix: 4.1e-7, 5.1e-7, 3.9e-6; our
uint8 frames within half a level of the reference's floats (we round, its CLI truncates).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import mlx.core as mx
import numpy as np
import pytest
import torch
import yaml
from ltx_video.pipelines import pipeline_ltx_video as reference_module
from ltx_video.utils.skip_layer_strategy import SkipLayerStrategy as ReferenceSkipLayerStrategy
from PIL import Image
from safetensors.torch import save_file

from ltx_mlx_core.pipeline import decode, media
from ltx_mlx_core.pipeline.checkpoints import StageCheckpoints
from ltx_mlx_core.pipeline.events import Finished
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.request import ConditioningItem, GenerationRequest
from ltx_mlx_core.pipeline.stage_runner import StageRunner
from ltx_mlx_core.weights.tiny import TEXT_WIDTH, write_tiny_model
from tests.parity.conftest import TRANSFORMER_PREFIX, VAE_PREFIX, relative_max_error, save_official_checkpoint
from tests.parity.pipeline_helpers import (
    DISTILLED_FIRST_PASS,
    DISTILLED_SECOND_PASS,
    IMAGE_COND_NOISE_SCALE,
    NoiseTape,
    reference_transformer,
    reference_video_pipeline,
    use_reference_prefix_mode,
)
from tests.parity.reference_media import compress_at_crf_zero, reference_cli
from tests.parity.vae_helpers import (
    TINY_UPSAMPLER_CONFIG,
    TINY_VAE_CONFIG,
    reference_upsampler,
    reference_vae,
    reference_vae_state,
    to_channels_first,
)

FLOAT32_BOUND = 1e-4
WIDTH, HEIGHT, FRAMES, FPS, SEED = 160, 96, 17, 25.0, 5

PIPELINE_YAML: dict[str, Any] = {
    "pipeline_type": "multi-scale",
    "downscale_factor": 0.6666666,
    "stg_mode": "attention_values",
    "decode_timestep": 0.05,
    "decode_noise_scale": 0.025,
    "precision": "float32",
    "sampler": "from_checkpoint",
    "stochastic_sampling": False,
    "text_encoder_max_tokens": 16,
    "first_pass": {
        "timesteps": DISTILLED_FIRST_PASS,
        "guidance_scale": 1,
        "stg_scale": 0,
        "rescaling_scale": 1,
        "skip_block_list": [1],
    },
    "second_pass": {
        "timesteps": DISTILLED_SECOND_PASS,
        "guidance_scale": 1,
        "stg_scale": 0,
        "rescaling_scale": 1,
        "skip_block_list": [1],
        "tone_map_compression_ratio": 0.6,
    },
}


@pytest.fixture(scope="module")
def reference_models() -> dict[str, Any]:
    return {
        "transformer": reference_transformer(caption_channels=TEXT_WIDTH),
        "vae": reference_vae(TINY_VAE_CONFIG, seed=0),
        "upsampler": reference_upsampler(TINY_UPSAMPLER_CONFIG, seed=0),
    }


def write_model(folder: Path, models: dict[str, Any]):
    """`make-tiny`'s folder (T5, tokenizer, manifest) with the reference's modules as its checkpoints."""
    folder.mkdir()
    files = write_tiny_model(folder)
    transformer, vae, upsampler = models["transformer"], models["vae"], models["upsampler"]
    save_official_checkpoint(
        {TRANSFORMER_PREFIX: transformer.state_dict(), VAE_PREFIX: reference_vae_state(vae)},
        {"transformer": dict(transformer.config), "vae": TINY_VAE_CONFIG},
        files.checkpoint,
    )
    state = {key: value.contiguous() for key, value in upsampler.state_dict().items()}
    save_file(state, str(files.upsampler), metadata={"config": json.dumps(TINY_UPSAMPLER_CONFIG)})
    return files


def smooth_frames(count: int, height: int, width: int, seed: int) -> np.ndarray:
    """uint8 frames with structure at several scales, so cropping and resizing both show."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, height // 8 + 2, width // 8 + 2, 3)).astype(np.uint8)
    frames = [np.asarray(Image.fromarray(frame).resize((width, height), Image.BICUBIC)) for frame in coarse]
    noise = rng.normal(0, 6, (count, height, width, 3))
    return np.clip(np.stack(frames) + noise, 0, 255).astype(np.uint8)


def write_media(folder: Path) -> list[tuple[Path, int, float]]:
    """(path, frame, strength): a first frame, a clip in the middle, a last-frame keyframe, at odd sizes."""
    first, last = folder / "first.png", folder / "last.png"
    Image.fromarray(smooth_frames(1, 77, 123, seed=1)[0]).save(first)
    Image.fromarray(smooth_frames(1, 130, 150, seed=2)[0]).save(last)
    clip = folder / "clip.mp4"
    frames = smooth_frames(9, 72, 136, seed=3)
    writer = imageio_ffmpeg.write_frames(
        str(clip), (136, 72), fps=FPS, codec="libx264", macro_block_size=1, output_params=["-crf", "18"]
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return [(first, 0, 1.0), (clip, 8, 0.9), (last, FRAMES - 1, 0.8)]


def record_only_denoising_and_decoding(monkeypatch: pytest.MonkeyPatch) -> NoiseTape:
    """A tape of the draws the reference makes too: not those initialising modules or fitting preview colours."""
    tape = NoiseTape(monkeypatch)
    tape.recording = False
    stage_steps, prepare_for_decode = StageRunner.stage_steps, decode.prepare_latents_for_decode

    def recorded_steps(self, stage, *args, **kwargs):
        steps = stage_steps(self, stage, *args, **kwargs)
        while True:
            with tape.recording_only(stage != "upsample"):
                latents = next(steps, None)
            if latents is None:
                return
            yield latents

    def recorded_decode_noise(*args, **kwargs):
        with tape.recording_only():
            return prepare_for_decode(*args, **kwargs)

    monkeypatch.setattr(StageRunner, "stage_steps", recorded_steps)
    monkeypatch.setattr(decode, "prepare_latents_for_decode", recorded_decode_noise)
    return tape


def run_ours(files, yaml_path: Path, items, job_dir: Path, monkeypatch) -> dict[str, Any]:
    captured: dict[str, Any] = {}
    encode_text, finish_pixels = StageRunner.encode_text, StageRunner.finish_pixels

    def keep_text(self):
        captured["text"] = encode_text(self)
        return captured["text"]

    def keep_pixels(self, pixels):
        captured["pixels"] = finish_pixels(self, pixels)
        return captured["pixels"]

    monkeypatch.setattr(StageRunner, "encode_text", keep_text)
    monkeypatch.setattr(StageRunner, "finish_pixels", keep_pixels)
    request = GenerationRequest(
        prompt="a lighthouse at dusk, waves",
        model="tiny",
        width=WIDTH,
        height=HEIGHT,
        num_frames=FRAMES,
        fps=FPS,
        seeds=[SEED],
        pipeline_config=str(yaml_path),
        job_dir=str(job_dir),
        conditioning=[
            ConditioningItem(path=str(path), frame=frame, strength=strength) for path, frame, strength in items
        ],
    )
    events = list(Pipeline(files).generate(request))
    assert isinstance(events[-1], Finished)
    captured["video"] = events[-1].result.videos[0]
    stages = StageCheckpoints(job_dir, "")
    for stage in ("first_pass", "second_pass"):
        captured[stage] = mx.load(str(stages.latents_path(SEED, stage)))["latents"]
    return captured


def run_reference(models: dict[str, Any], text, items, tape: NoiseTape, monkeypatch) -> dict[str, Any]:
    """The reference CLI's `infer` from its conditioning step on, for our YAML and embeddings."""
    pipeline = reference_module.LTXMultiScalePipeline(
        reference_video_pipeline(models["transformer"], models["vae"]), models["upsampler"]
    )
    cli = reference_cli(compress_at_crf_zero)
    conditioning = cli.prepare_conditioning(
        conditioning_media_paths=[str(path) for path, _, _ in items],
        conditioning_strengths=[strength for _, _, strength in items],
        conditioning_start_frames=[frame for _, frame, _ in items],
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        padding=(0, 0, 0, 0),
        pipeline=pipeline,
    )
    passes: list[torch.Tensor] = []
    patchifier = pipeline.video_pipeline.patchifier
    unpatchify = patchifier.unpatchify

    def keep_latents(*args, **kwargs):
        passes.append(unpatchify(*args, **kwargs))
        return passes[-1]

    monkeypatch.setattr(patchifier, "unpatchify", keep_latents)
    monkeypatch.setattr(torch, "randn_like", tape.replay_like)  # the decode noise
    settings = {
        k: v
        for k, v in PIPELINE_YAML.items()
        if k
        in (
            "downscale_factor",
            "first_pass",
            "second_pass",
            "decode_timestep",
            "decode_noise_scale",
            "stochastic_sampling",
        )
    }
    embeds = torch.from_numpy(np.array(text.embeds))
    mask = torch.from_numpy(np.array(text.mask)).to(torch.int64)
    with torch.no_grad():
        images = pipeline(
            **settings,
            skip_layer_strategy=ReferenceSkipLayerStrategy.AttentionValues,
            generator=None,
            output_type="pt",
            height=HEIGHT,
            width=WIDTH,
            num_frames=FRAMES,
            frame_rate=FPS,
            prompt=None,
            prompt_embeds=embeds,
            prompt_attention_mask=mask,
            negative_prompt=None,
            negative_prompt_embeds=torch.zeros_like(embeds),
            negative_prompt_attention_mask=torch.zeros_like(mask),
            media_items=None,
            conditioning_items=conditioning,
            is_video=True,
            vae_per_channel_normalize=True,
            image_cond_noise_scale=IMAGE_COND_NOISE_SCALE,
            mixed_precision=False,
            offload_to_cpu=False,
            enhance_prompt=False,
        ).images
    return {"first_pass": passes[0], "second_pass": passes[1], "video": images[0].permute(1, 2, 3, 0)}


@pytest.mark.parametrize("prefix_mode", ["concat", "soft"])
def test_generate_matches_the_reference_multiscale_pipeline_with_conditioning(
    prefix_mode: str, reference_models: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_model(tmp_path / "model", reference_models)
    yaml_path = tmp_path / "pipeline.yaml"
    yaml_path.write_text(yaml.safe_dump({**PIPELINE_YAML, "prefix_latents_mode": prefix_mode}))
    items = write_media(tmp_path)
    monkeypatch.setattr(media, "CONDITIONING_CRF", 0)
    tape = record_only_denoising_and_decoding(monkeypatch)
    use_reference_prefix_mode(monkeypatch, prefix_mode)

    ours = run_ours(files, yaml_path, items, tmp_path / "job", monkeypatch)
    expected = run_reference(reference_models, ours["text"], items, tape, monkeypatch)

    assert tape.replayed == len(tape.draws), "we drew noise the reference never used"
    errors = {
        stage: relative_max_error(to_channels_first(ours[stage]), expected[stage])
        for stage in ("first_pass", "second_pass")
    }
    pixels = (ours["pixels"].astype(mx.float32) + 1.0) / 2.0  # ours in [-1, 1], the reference's in [0, 1]
    errors["video"] = relative_max_error(pixels, expected["video"])
    levels = np.abs(ours["video"].astype(np.float64) - expected["video"].double().numpy() * 255.0)
    print(
        f"[generate parity float32] prefix {prefix_mode}: "
        + ", ".join(f"{name} {error:.2e}" for name, error in errors.items())
        + f", uint8 video within {levels.max():.3f} levels"
    )
    assert ours["video"].shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert all(error <= FLOAT32_BOUND for error in errors.values()), errors
    # We round to the nearest level (the reference CLI truncates; compared here with its floats):
    # at most half a level apart, plus the float bound.
    assert levels.max() <= 0.5 + 255 * FLOAT32_BOUND
