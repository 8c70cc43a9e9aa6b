"""LTX-2 generation through the real `Pipeline.generate` on the tiny random-weight LTX-2 model: events,
the sound track in the MP4 (read back with ffmpeg), the prompt cache, Gemma freed before the
transformer, resuming from a stage checkpoint, audio to video, no-sound requests and refusals."""

from __future__ import annotations

import gc
import json
import weakref
from dataclasses import replace

import numpy as np
import pytest

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.events import Finished, Preview, StageStarted, StepDone
from ltx_mlx_core.pipeline.ltx2.prompt_cache import PROMPT_CACHE
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.pipeline.results import write_result
from ltx_mlx_core.video.audio import read_audio
from ltx_mlx_core.video.probe import probe_media
from ltx_mlx_core.weights.components import FileComponents
from ltx_mlx_core.weights.tiny_ltx2 import write_tiny_ltx2_model
from tests.sound_clips import stream_duration, tone_file

FPS = 24.0


class WatchedComponents(FileComponents):
    """The tiny model's files, recording each load and whether Gemma was still alive at transformer load."""

    def __init__(self, files):
        super().__init__(files)
        self.loads: list[str] = []
        self.gemma_alive_at_transformer: list[bool] = []
        self._gemma = None

    def load_text_encoder(self, dtype, quantize_bits):
        self.loads.append("text_encoder")
        tokenizer, gemma = super().load_text_encoder(dtype, quantize_bits)
        self._gemma = weakref.ref(gemma)
        return tokenizer, gemma

    def load_transformer(self, dtype, quantize_bits, residency):
        gc.collect()
        self.gemma_alive_at_transformer.append(self._gemma is not None and self._gemma() is not None)
        self.loads.append("transformer")
        return super().load_transformer(dtype, quantize_bits, residency)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-ltx2")
    return write_tiny_ltx2_model(folder)


def request(**changes) -> GenerationRequest:
    base = GenerationRequest(prompt="a drum", model="tiny-ltx2", width=128, height=128, num_frames=17, fps=FPS)
    return replace(base, **changes)


def run(components, req: GenerationRequest):
    events = list(Pipeline(components).generate(req))
    return events, events[-1].result


def test_text_to_video_with_sound_writes_an_mp4_whose_streams_agree(files, tmp_path) -> None:
    PROMPT_CACHE.clear()
    components = WatchedComponents(files)
    events, result = run(components, request())
    started = [e.name for e in events if isinstance(e, StageStarted)]
    assert started == ["load", "text_encode", "first_pass", "upsample", "second_pass", "decode", "decode_sound"]
    assert [e.index for e in events if isinstance(e, StageStarted)] == list(range(1, 8))
    steps = [e for e in events if isinstance(e, StepDone) and e.stage == "first_pass"]
    assert [e.step for e in steps] == list(range(1, 9))
    assert sum(isinstance(e, Preview) and e.kind == "latent" for e in events) == 8 + 3
    assert any(isinstance(e, Preview) and e.kind == "decoded" for e in events)
    assert isinstance(events[-1], Finished)
    # Gemma is loaded, used and freed before the transformer loads.
    assert components.loads == ["text_encoder", "transformer"]
    assert components.gemma_alive_at_transformer == [False]

    video, sound = result.videos[0], result.audio[0]
    assert video.shape == (17, 128, 128, 3) and video.dtype == np.uint8
    assert result.audio_rate == 48000 and sound.shape == (round(17 / FPS * 48000), 2)
    assert np.isfinite(sound).all() and np.abs(sound).max() > 0
    (path,) = write_result(result, tmp_path / "clip.mp4")
    info = probe_media(path)
    assert info.frames == 17 and "aac" in info.audio_codec
    # Read back by ffmpeg: the counted frames and the decoded samples (AAC's priming trimmed) last as long.
    video_seconds = info.frames / info.fps
    audio_seconds = len(read_audio(path, rate=48000)) / 48000
    assert abs(video_seconds - audio_seconds) <= 1 / FPS, (video_seconds, audio_seconds)
    # The packets' own clocks agree too, within a frame and the encoder's reordering delay.
    assert abs(stream_duration(path, "a") - audio_seconds) <= 1 / FPS


class UncollectedComponents(FileComponents):
    """Records whether Gemma was alive at transformer load without collecting first."""

    def __init__(self, files):
        super().__init__(files)
        self.gemma_alive_at_transformer: list[bool] = []
        self.frozen_at_transformer: list[int] = []
        self.video_encoder_alive_at_transformer: list[bool] = []
        self.decoders_alive_at_transformer: list[tuple[bool, bool]] = []
        self.vae_loads = 0
        self._gemma = self._video_encoder = self._video_decoder = self._audio_vae = None

    def load_text_encoder(self, dtype, quantize_bits):
        tokenizer, gemma = super().load_text_encoder(dtype, quantize_bits)
        self._gemma = weakref.ref(gemma)
        return tokenizer, gemma

    def load_vae(self, dtype):
        vae = super().load_vae(dtype)
        self._video_encoder = weakref.ref(vae.encoder)
        self._video_decoder = weakref.ref(vae.decoder)
        self.vae_loads += 1
        return vae

    def load_audio_vae(self, dtype, encoder=True, decoder=True):
        vae = super().load_audio_vae(dtype, encoder, decoder)
        self._audio_vae = weakref.ref(vae)
        return vae

    def load_transformer(self, dtype, quantize_bits, residency):
        self.gemma_alive_at_transformer.append(self._gemma() is not None)
        self.video_encoder_alive_at_transformer.append(self._video_encoder() is not None)
        self.decoders_alive_at_transformer.append((self._video_decoder() is not None, self._audio_vae() is not None))
        self.frozen_at_transformer.append(gc.get_freeze_count())
        return super().load_transformer(dtype, quantize_bits, residency)


def test_models_and_the_unused_video_encoder_are_freed_without_a_full_collection(files, monkeypatch) -> None:
    # A full collection walks every object in the process (0.2 s a pass on the GPU machine).
    PROMPT_CACHE.clear()
    calls = []
    real = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(a) or real(*a))
    components = UncollectedComponents(files)
    frozen_by_the_process = gc.get_freeze_count()  # an app (or an earlier test) may have frozen its heap
    gc.unfreeze()
    gc.disable()  # nothing may be freed by an automatic pass either
    try:
        run(components, request(num_frames=9))
        after = gc.get_freeze_count()
    finally:
        gc.enable()
        if frozen_by_the_process:
            gc.freeze()
    assert components.gemma_alive_at_transformer == [False]
    assert components.video_encoder_alive_at_transformer == [False]  # text to video encodes no media
    # Neither VAE waits beside the transformer (the plan here is 'resident'): the video VAE loads
    # again to decode, keeping only its latent statistics for the upsampler meanwhile.
    assert components.decoders_alive_at_transformer == [(False, False)]
    assert components.vae_loads == 2
    assert calls == []
    # What existed before the run was left out of the collector's passes while it ran, and only then.
    assert components.frozen_at_transformer[0] > 0
    assert after == 0


def test_the_same_prompt_again_skips_gemma(files) -> None:
    PROMPT_CACHE.clear()
    components = WatchedComponents(files)
    _, first = run(components, request(seeds=[1]))
    _, second = run(components, request(seeds=[1], num_frames=9))
    assert components.loads.count("text_encoder") == 1
    assert PROMPT_CACHE.hits >= 1
    _, third = run(components, request(seeds=[1], prompt="a bell"))
    assert components.loads.count("text_encoder") == 2
    assert first.videos[0].shape[0] == 17 and second.videos[0].shape[0] == 9


def test_a_checkpointed_run_resumes_after_its_first_stage(files, tmp_path) -> None:
    components = FileComponents(files)
    req = request(seeds=[4], job_dir=str(tmp_path / "job"))
    _, whole = run(components, replace(req, job_dir=None))
    stream = Pipeline(components).generate(req)
    for event in stream:
        if isinstance(event, StageStarted) and event.name == "upsample":
            break
    stream.close()  # cancelled after the first stage's checkpoint
    events, resumed = run(components, req)
    started = [e.name for e in events if isinstance(e, StageStarted)]
    assert "first_pass" not in started and "second_pass" in started
    assert np.array_equal(resumed.videos[0], whole.videos[0])
    assert np.array_equal(resumed.audio[0], whole.audio[0])


def test_audio_to_video_keeps_the_given_sound(files, tmp_path) -> None:
    tone = tone_file(tmp_path / "tone.wav", seconds=2.0)
    _, result = run(FileComponents(files), request(audio_path=str(tone), audio_start=0.25))
    given = read_audio(tone, rate=48000, channels=2)
    start = round(0.25 * 48000)
    expected = given[start : start + len(result.audio[0])]
    assert np.abs(result.audio[0] - expected).max() < 1e-6


def test_a_request_without_sound_writes_a_silent_mp4(files, tmp_path) -> None:
    events, result = run(FileComponents(files), request(with_audio=False, num_frames=9))
    assert "decode_sound" not in [e.name for e in events if isinstance(e, StageStarted)]
    assert result.audio == []
    (path,) = write_result(result, tmp_path / "silent.mp4")
    assert probe_media(path).audio_codec in ("", None)


def test_sizes_the_two_stage_recipe_cannot_make_are_refused_before_anything_loads(files) -> None:
    components = WatchedComponents(files)
    with pytest.raises(InvalidRequest, match="multiples of 64"):
        Pipeline(components).generate(request(width=96))
    with pytest.raises(InvalidRequest, match="take only these settings"):
        Pipeline(components).generate(request(config_overrides={"guidance_scale": 3}))
    assert components.loads == []


def test_the_step_cache_skips_steps_and_the_sidecar_says_how_many(files, tmp_path) -> None:
    events, result = run(FileComponents(files), request(step_cache="1.0", num_frames=9))
    summary = result.step_cache[0]
    assert summary["setting"] == "1.0" and summary["steps_skipped"] > 0
    assert set(summary["stages"]) == {"first_pass", "second_pass"}
    cached = [e for e in events if isinstance(e, StepDone) and e.cached]
    assert len(cached) == summary["steps_skipped"]
    (path,) = write_result(result, tmp_path / "cached.mp4")
    assert json.loads(path.with_suffix(".json").read_text())["step_cache"]["steps_skipped"] == len(cached)


def test_a_cancelled_run_collects_what_its_frames_held(files, monkeypatch) -> None:
    """Cancelling mid-denoise leaves arrays in the frames the exception holds in cycles; the run
    collects them at once (a finished run does not need to: see the test above)."""
    import mlx.core as mx

    PROMPT_CACHE.clear()
    calls = []
    real = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(a) or real(*a))
    baseline = mx.get_active_memory()
    events = Pipeline(FileComponents(files)).generate(request(num_frames=9))
    for event in events:
        if isinstance(event, StepDone) and event.stage == "first_pass":
            break
    events.close()
    assert calls, "a cancelled run collects its cycles"
    PROMPT_CACHE.clear()  # the encoded prompt is kept for the next run on purpose
    assert mx.get_active_memory() <= baseline + 64 * 1024
