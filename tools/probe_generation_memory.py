"""Where an LTX-2.3 22B generation's memory goes (random weights, 768x512x121 with sound, bf16): MLX's
active, peak and cached memory at every stage event, every step and around every module build, and
each garbage-collector pass over 5 ms, the seconds since the line before, and the sound decode
piece by piece. Two runs; the second is warm.

    python tools/probe_generation_memory.py   # on the GPU machine: tests/perf/device_run.sh gen-memory
"""

import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ltx_mlx_core.gpu_commands  # noqa: E402, F401  (before MLX starts: its ops per command buffer)

# isort: split
import mlx.core as mx  # noqa: E402

from ltx_mlx_core.pipeline.events import Finished, StageStarted, StepDone  # noqa: E402
from ltx_mlx_core.pipeline.ltx2 import decode_outputs  # noqa: E402
from ltx_mlx_core.pipeline.ltx2.prompt_cache import PROMPT_CACHE  # noqa: E402
from ltx_mlx_core.pipeline.pipeline import Pipeline  # noqa: E402
from tests.perf import ltx2_generation_workloads as generation  # noqa: E402

GIB = 1 << 30
_gc_started = [0.0]
_last_shown = [time.perf_counter()]


def show(label: str) -> None:
    now = time.perf_counter()
    print(
        f"    {label:40s} active {mx.get_active_memory() / GIB:7.2f}  peak {mx.get_peak_memory() / GIB:7.2f}"
        f"  cache {mx.get_cache_memory() / GIB:6.2f}  +{now - _last_shown[0]:.3f} s",
        flush=True,
    )
    _last_shown[0] = now


def _timed_sound_pieces() -> None:
    """Each sound piece's graph building and evaluation timed apart (the decode inside a generation
    took 0.28 s against 0.10 s alone)."""
    pieces = decode_outputs.evaluated_sound_pieces

    def timed(vae, vocoder, latents, num_samples, every=None):
        mx.synchronize()
        show(f"sound: latents {latents.dtype} {tuple(latents.shape)}")
        for piece in pieces(vae, vocoder, latents, num_samples, every):
            mx.synchronize()
            show(f"sound: piece {tuple(piece.shape)} {piece.dtype}")
            yield piece
        # The same decode again inside the generation: a first-call cost, or this process's state?
        for label in ("again", "again", "again after clearing the cache"):
            if label.endswith("cache"):
                mx.clear_cache()
            show(f"sound: before decoding {label}")
            for _piece in pieces(vae, vocoder, latents, num_samples, every):
                mx.synchronize()
            show(f"sound: decoded {label}")

    decode_outputs.evaluated_sound_pieces = timed


def _gc_pass(phase: str, info: dict) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    elif (seconds := time.perf_counter() - _gc_started[0]) > 0.005:
        print(f"    gc gen{info['generation']} {seconds:.3f} s collected {info['collected']}", flush=True)


def _watched(components, name: str) -> None:
    build = getattr(components, name)

    def watched(*args, **kwargs):
        show(f"before {name}")
        module = build(*args, **kwargs)
        mx.synchronize()
        show(f"after {name}")
        return module

    setattr(components, name, watched)


def main() -> None:
    gc.callbacks.append(_gc_pass)
    _timed_sound_pieces()
    components = generation.random_components(False, None)
    for name in generation.LOADERS:
        _watched(components, name)
    request = generation.generation_request(768, 512, 121, 24.0, mx.bfloat16)
    pipeline = Pipeline(components)
    for run in range(2):
        PROMPT_CACHE.clear()
        print("run", run, flush=True)
        start = time.perf_counter()
        for event in pipeline.generate(request):
            if isinstance(event, (StageStarted, Finished)):
                show(f"event {getattr(event, 'name', 'finished')}")
                mx.reset_peak_memory()
            elif isinstance(event, StepDone):
                show(f"  step {event.stage} {event.step}")
        show("after generator")
        print(f"  wall {time.perf_counter() - start:.3f}", flush=True)


if __name__ == "__main__":
    main()
