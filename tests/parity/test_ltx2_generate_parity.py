"""Our real `Pipeline.generate` against ltx-pipelines 1.0.0's pipelines, end to end, in float32.

The reference pipelines run as in test_ltx2_pipeline_parity (same tiny models, same replayed
noise); ours is `Pipeline(model).generate(request)` over the same modules handed out as an
installed model's components, with the prompt's embeddings in the prompt cache. Compared: each
stage's video and audio latents (read from our stage checkpoints), the decoded sound (PCM, against
ltx-core's `decode_audio` with the same audio decoder and vocoder) and the decoded frames (ours are
uint8: against the reference decoder's frames rounded the same way). Images go through our
preparation on both sides up to the codec (ours, CRF 33), then through each side's own resize and
centre crop; for audio to video both sides encode the same mel spectrogram (the reference's own front
end needs torchaudio).

Measured (CPU, mlx 0.32.4, torch 2.13), max relative error over the stages' video and audio latents,
then of the decoded sound:
  distilled text to video+audio: 9.2e-7, decoded sound 4.3e-6, frames at most 1 of 255 apart;
  distilled image to video (150x100 photos at frame 0 and at frame 8 with strength 0.8): 8.5e-7;
  audio to video (distilled): 2.0e-6, the given sound in the output as given (< 1e-6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.parity.ltx2_generate_helpers import (
    FPS,
    SEED,
    StackComponents,
    build_audio,
    generate,
    hold_reference_audio,
    reference_sound,
    stage_errors,
)
from tests.parity.ltx2_pipeline_reference import (
    PIPELINE_LTX23,
    build_stack,
    install,
    make_pipeline,
    random_prompt,
)

# isort: split
import ltx_pipelines.distilled as distilled_module
from ltx_core.model.audio_vae import decode_audio as reference_decode_audio
from ltx_pipelines.utils.args import ImageConditioningInput
from ltx_pipelines.utils.media_io import normalize_latent, resize_and_center_crop

from ltx_mlx_core.pipeline.media import crf_compress
from ltx_mlx_core.pipeline.request import ConditioningItem
from tests.parity.conftest import relative_max_error

BOUND = 1e-4
FRAMES, HEIGHT, WIDTH = 17, 128, 64


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    stack = build_stack(PIPELINE_LTX23)
    audio = build_audio(tmp_path_factory.mktemp("audio"))
    return stack, audio


def ours(components: StackComponents, job_dir: Path, prompt, **changes):
    return generate(components, job_dir, prompt.ours, width=WIDTH, height=HEIGHT, num_frames=FRAMES, **changes)


def record_sound(monkeypatch, audio, into: dict) -> None:
    def decode(latent, *args, **kwargs):
        into["sound"] = reference_decode_audio(latent, audio.reference_decoder, audio.reference_vocoder)
        return into["sound"]

    monkeypatch.setattr(distilled_module, "vae_decode_audio", decode)


def test_distilled_text_to_video_and_audio(monkeypatch, models, tmp_path) -> None:
    stack, audio = models
    prompt = random_prompt(PIPELINE_LTX23, 5)
    recorder = install(monkeypatch, distilled_module, stack, [prompt], SEED)
    sound: dict = {}
    record_sound(monkeypatch, audio, sound)
    with torch.no_grad():
        make_pipeline(distilled_module.DistilledPipeline, stack)(
            prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES, frame_rate=FPS, images=[]
        )
    stages, result = ours(StackComponents(stack, audio), tmp_path / "job", prompt)
    measured = stage_errors(stages, recorder.stages)
    assert max(measured) <= BOUND, measured

    reference_wave = sound["sound"].waveform.numpy().T  # [samples, 2]
    assert result.audio_rate == sound["sound"].sampling_rate
    ours_wave = result.audio[0]
    # 18 latent frames decode to 69 mel frames (4n - 3): the reference's sound ends 0.018 s before the
    # picture; ours is the clip's length, the rest silence.
    count = len(reference_wave)
    assert len(ours_wave) == round(FRAMES / FPS * result.audio_rate) and count <= len(ours_wave)
    sound_error = relative_max_error(ours_wave[:count], reference_wave[:count])
    assert sound_error <= BOUND, sound_error

    with torch.no_grad():
        frames = stack.decoder(recorder.final_video)[0].permute(1, 2, 3, 0).numpy()
    expected = np.clip((frames + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    difference = np.abs(result.videos[0].astype(int) - expected.astype(int)).max()
    assert difference <= 1, difference


def test_distilled_image_to_video_from_photos(monkeypatch, models, tmp_path) -> None:
    stack, audio = models
    generator = np.random.default_rng(3)
    photos = {name: generator.integers(0, 256, (150, 100, 3), dtype=np.uint8) for name in ("a.png", "b.png")}
    compressed = {name: crf_compress(photo[None], 33)[0] for name, photo in photos.items()}

    def reference_image(name: str):
        def at(height: int, width: int) -> torch.Tensor:
            pixels = resize_and_center_crop(torch.tensor(compressed[name], dtype=torch.float32), height, width)
            return normalize_latent(pixels, torch.device("cpu"), torch.float32)

        return at

    specs = [("a.png", 0, 1.0), ("b.png", 8, 0.8)]
    prompt = random_prompt(PIPELINE_LTX23, 5)
    images = {name: reference_image(name) for name, _, _ in specs}
    recorder = install(monkeypatch, distilled_module, stack, [prompt], SEED, images=images)
    with torch.no_grad():
        make_pipeline(distilled_module.DistilledPipeline, stack)(
            prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES, frame_rate=FPS,
            images=[ImageConditioningInput(p, f, s) for p, f, s in specs],
        )  # fmt: skip
    items = [ConditioningItem(frames=photos[p][None], frame=f, strength=s) for p, f, s in specs]
    stages, _ = ours(StackComponents(stack, audio), tmp_path / "job", prompt, conditioning=items, with_audio=False)
    measured = stage_errors(stages, recorder.stages)
    assert max(measured) <= BOUND, measured


def test_audio_to_video_holds_the_given_sound(monkeypatch, models, tmp_path) -> None:
    """A sound file drives the distilled recipe: both sides hold the same encoded latents (from the same mel)."""
    from ltx_mlx_core.video.audio import read_audio
    from tests.sound_clips import tone_file

    stack, audio = models
    tone = tone_file(tmp_path / "tone.wav", seconds=1.5)
    # The clip's length of sound, as ours reads it (audio to video keeps what the clip lasts).
    samples = read_audio(tone, rate=16000, channels=2)[: int(np.ceil(FRAMES / FPS * 16000))]
    hold_reference_audio(monkeypatch, reference_sound(audio, samples, 16000), round(FRAMES / FPS * 25))
    prompt = random_prompt(PIPELINE_LTX23, 5)
    recorder = install(monkeypatch, distilled_module, stack, [prompt], SEED)
    with torch.no_grad():
        make_pipeline(distilled_module.DistilledPipeline, stack)(
            prompt="", seed=SEED, height=HEIGHT, width=WIDTH, num_frames=FRAMES, frame_rate=FPS, images=[]
        )
    stages, result = ours(StackComponents(stack, audio), tmp_path / "job", prompt, audio_path=str(tone))
    measured = stage_errors(stages, recorder.stages)
    assert max(measured) <= BOUND, measured
    given = read_audio(tone, rate=result.audio_rate, channels=2)
    assert np.abs(result.audio[0] - given[: len(result.audio[0])]).max() < 1e-6
