"""The LTX-2.3 sound decode (5 s, float32) cold against warm: a new vocoder with MLX's cache cleared,
again, a new one with the cache kept, with a cache full of other sizes, with no cache at all.
Its first call in a process includes compiling the kernels.

    python tools/probe_sound_decode_cold.py   # on the GPU machine: tests/perf/device_run.sh sound-cold
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ltx_mlx_core.gpu_commands  # noqa: E402, F401  (before MLX starts: its ops per command buffer)

# isort: split
import mlx.core as mx  # noqa: E402

from ltx_mlx_core.bench.workloads_ltx2 import AVShape  # noqa: E402
from tests.perf.ltx2_decode_workloads import ours_audio_decode  # noqa: E402

GIB = 1 << 30


def timed(label: str, decode) -> None:
    mx.synchronize()
    start = time.perf_counter()
    decode()
    mx.synchronize()
    print(f"{label:56s} {time.perf_counter() - start:.4f} s  cache {mx.get_cache_memory() / GIB:.2f} GiB", flush=True)


def main() -> None:
    shape = AVShape()
    for run in range(3):
        decode, _ = ours_audio_decode(shape)
        mx.clear_cache()
        timed(f"audio round {run}: new instance, cache cleared", decode)
        timed(f"audio round {run}: again", decode)
        timed(f"audio round {run}: again", decode)
        timed(f"audio round {run}: new instance, cache kept", ours_audio_decode(shape)[0])
    other_sizes = [mx.zeros((int(n),), dtype=mx.uint8) for n in (2e9, 1.5e9, 1e9, 7e8, 3e8)]
    mx.eval(other_sizes)
    other_sizes = None
    timed("audio: new instance, cache holds 5.5 GB of other sizes", ours_audio_decode(shape)[0])
    mx.set_cache_limit(0)
    mx.clear_cache()
    decode, _ = ours_audio_decode(shape)
    timed("audio: no cache at all (cache limit 0)", decode)
    timed("audio: no cache at all, again", decode)


if __name__ == "__main__":
    main()
