"""Events yielded by `Pipeline.generate` (the mlx-lm `stream_generate` shape).

Small dataclasses only: the desktop worker turns each into a Qt signal, the CLI
into a progress bar, and tests assert on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ltx_mlx_core.pipeline.request import GenerationRequest


@dataclass(frozen=True)
class StageStarted:
    """A named stage began: 'load', 'text_encode', 'first_pass', 'upsample',
    'second_pass', 'denoise' (single scale), 'decode'."""

    name: str
    index: int
    total: int
    detail: str = ""


@dataclass(frozen=True)
class StepDone:
    """One denoising step (or decoded tile) finished; the progress point."""

    stage: str
    step: int  # 1-based
    total: int
    elapsed: float  # seconds since the stage started
    eta: float  # seconds left in this stage, estimated
    cached: bool = False  # the step cache reused the transformer blocks' residual for this step
    skipped: int = 0  # steps of this stage the step cache skipped so far


@dataclass(frozen=True)
class Preview:
    """Small RGB frames, uint8 [F, H, W, 3]: a latent projection during
    denoising ('latent') or the first decoded frames ('decoded')."""

    frames: np.ndarray = field(repr=False)
    kind: str  # "latent" | "decoded"
    step: int | None = None


@dataclass
class VideoResult:
    """Finished video(s): one uint8 [F, H, W, 3] array per seed (and its sound, for the LTX-2 family)."""

    videos: list[np.ndarray] = field(repr=False)
    seeds: list[int]
    fps: float
    request: GenerationRequest
    timings: dict[str, float] = field(default_factory=dict)
    peak_memory_bytes: int = 0
    # The residency mode in effect (the request's may be 'auto'); "" where no pipeline ran.
    residency: str = ""
    # Per seed, what the step cache did (StepCache.summary per stage, with totals); absent when off.
    step_cache: dict[int, dict] = field(default_factory=dict)
    # The sound track of each video (LTX-2 family): float32 PCM [samples, 2] at `audio_rate`, as
    # long as the frames last; empty for silent models or a request without sound.
    audio: list[np.ndarray] = field(default_factory=list, repr=False)
    audio_rate: int = 0
    # How several processes shared the work (ltx_mlx_core.distributed); empty for one process.
    parallel: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    result: VideoResult


Event = StageStarted | StepDone | Preview | Finished
