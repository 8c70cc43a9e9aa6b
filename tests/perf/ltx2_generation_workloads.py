"""Our whole LTX-2.3 distilled two-stage generation on random weights (the LTX-2 benchmark's `gen` stages).

It runs the real `Pipeline.generate` (pipeline/ltx2/generation.py) on `RandomLTX2Components`: Gemma
and the text connectors, stage 1 at half size, the x2 upsampler, stage 2, the video decode and the
sound decode, with the pipeline's own memory plan. Each run is timed as a whole (wall clock,
everything evaluated) beside the pipeline's stage timings; the peak is MLX's, which the pipeline
resets at its start. The prompt cache is cleared before every run so each one encodes its prompt.
`--tiny` builds the tiny LTX-2 model's shapes (weights/tiny_ltx2.py) for a CPU smoke run.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import time
from typing import Any

import mlx.core as mx

from ltx_mlx_core.bench.generation import run_once
from ltx_mlx_core.bench.random_model_ltx2 import RandomLTX2Components, with_layers
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.vocoder_config import vocoder_config_from_dict
from ltx_mlx_core.pipeline.ltx2.prompt_cache import PROMPT_CACHE
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.ltx2_full_size import FullSize
from ltx_mlx_core.weights.tiny_ltx2 import TINY_UPSAMPLERS, LTX2ModelShapes
from tests.perf.build_clock import BuildClock, GcClock

MODEL_ID = "ltx-2.3-22b-distilled"
# The components' methods that build a module (each with random weights, evaluated).
LOADERS = (
    "load_transformer", "load_vae", "load_upsampler", "load_text_encoder", "load_embeddings_processor",
    "load_audio_vae", "load_vocoder",
)  # fmt: skip
PROMPT = "a red boat moves slowly on a calm blue sea at sunset, waves and gulls, camera pans"
# Our stage names -> the report's (the pipeline's "decode" is the video's).
STAGE_NAMES = {
    "text_encode": "text_encode",
    "first_pass": "stage_1",
    "upsample": "upsample",
    "second_pass": "stage_2",
    "decode": "decode_video",
    "decode_sound": "decode_audio",
}


def tiny_sizes() -> FullSize:
    """The tiny LTX-2 model's configs (LTX-2.3's structure at toy widths), as a FullSize, with the
    release's latent widths (128 video channels; 8 audio channels x 16 mel bins; ltx-pipelines
    draws its noise in those widths whatever the model), three dilations per vocoder block and
    128 channels into each vocoder (all ltx-core builds), so both sides' smoke runs share them."""
    shapes = LTX2ModelShapes()
    transformer = dict(shapes.transformer, in_channels=128, out_channels=128)
    transformer.update(audio_in_channels=128, audio_out_channels=128)
    audio_vae = copy.deepcopy(shapes.audio_vae)
    audio_vae["model"]["params"]["ddconfig"].update(ch=128, ch_mult=[1, 1, 1], z_channels=8, mel_bins=64)
    vocoder = copy.deepcopy(shapes.vocoder)
    vocoder["vocoder"]["in_channels"] = 2 * 64
    for part in ("vocoder", "bwe"):  # ltx-core's AMP blocks take three dilations
        vocoder[part]["resblock_dilation_sizes"] = [[1, 3, 5], [1, 3, 5]]
    vocoder["bwe"].update(num_mels=64, in_channels=2 * 64)  # ltx-core's vocoders take 128 channels in
    return FullSize(
        transformer=LTX2Config.from_dict(transformer),
        text_path=transformer,
        gemma=shapes.gemma,
        video_vae=dict(shapes.vae, latent_channels=128),
        audio_vae=AudioVAEConfig.from_dict(audio_vae),
        vocoder=vocoder_config_from_dict(vocoder),
        upsampler=dataclasses.replace(TINY_UPSAMPLERS["spatial"], in_channels=128),
    )


def random_components(tiny: bool, layers: int | None) -> RandomLTX2Components:
    components = (
        RandomLTX2Components(MODEL_ID, tiny_sizes(), "2.3") if tiny else RandomLTX2Components.for_model(MODEL_ID)
    )
    return with_layers(components, layers) if layers else components


def generation_request(width: int, height: int, frames: int, fps: float, dtype: mx.Dtype, step_cache: str = "off"):
    return GenerationRequest(
        prompt=PROMPT,
        model=MODEL_ID,
        width=width,
        height=height,
        num_frames=frames,
        fps=fps,
        config_overrides={"compute_dtype": "bfloat16" if dtype == mx.bfloat16 else "float32"},
        step_cache=step_cache,
    )


def time_generation(
    components: RandomLTX2Components, request: GenerationRequest, repeats: int, warmup: int
) -> dict[str, Any]:
    """Median wall seconds of whole generations, per-stage medians, steps, the largest peak and the
    seconds spent building the modules' random weights (`build_s`)."""
    components = copy.copy(components)  # the clock wraps this copy's loaders, not the caller's
    clock = BuildClock(components, LOADERS, mx.synchronize)
    collector = GcClock()
    pipeline = Pipeline(components)
    runs = []
    for index in range(warmup + repeats):
        PROMPT_CACHE.clear()
        clock.start()
        collector.start()
        start = time.perf_counter()
        run = run_once(pipeline, request)
        elapsed = time.perf_counter() - start
        collector.stop()
        clock.stop()
        if index >= warmup:
            runs.append((elapsed, run))
    walls = [wall for wall, _ in runs]
    stages = {
        ours: statistics.median(run.timings[name] for _, run in runs)
        for name, ours in STAGE_NAMES.items()
        if name in runs[0][1].timings
    }
    last = runs[-1][1]
    return {
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "repeats": len(walls),
        "peak_memory_bytes": max(run.peak_memory_bytes for _, run in runs),
        "stages_s": stages,
        # Where the peak is: each stage's own (the largest over the timed runs); "load" builds the modules.
        "stage_peaks_bytes": {
            STAGE_NAMES.get(name, name): max(run.stage_peaks.get(name, 0) for _, run in runs)
            for name in last.stage_peaks
        },
        "load_s": statistics.median(run.timings.get("load", 0.0) for _, run in runs),
        # Wall seconds outside the pipeline's own clock (planning before it, freeing the models after).
        "outside_pipeline_s": statistics.median(wall - run.timings["total"] for wall, run in runs),
        "gc_s": collector.median_of_last(repeats),
        "build_s": clock.median_of_last(repeats),
        "build_by_module_s": {name: round(seconds, 4) for name, seconds in clock.by_module.items()},
        "steps": {STAGE_NAMES[name]: count for name, count in last.steps.items() if name in STAGE_NAMES},
        "skipped_steps": {STAGE_NAMES[name]: n for name, n in last.skipped.items() if n and name in STAGE_NAMES},
        "residency": last.residency,
    }
