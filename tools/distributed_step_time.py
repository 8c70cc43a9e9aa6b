"""Time one transformer forward (a denoising step's work) in one process or split over an mlx.launch group.

    python tools/distributed_step_time.py single
    mlx.launch --backend ring -n 2 -- python tools/distributed_step_time.py tensor|sequence

A random LTX-Video 0.9.x transformer of WIDTH channels and LAYERS blocks on TOKENS video tokens,
float32 on the CPU; prints the median of REPEATS timed forwards after one warm-up (rank 0).
"""

from __future__ import annotations

import statistics
import sys
import time

import mlx.core as mx

from ltx_mlx_core.distributed.sequence_parallel import SequenceParallelLTXV
from ltx_mlx_core.distributed.tensor_parallel import materialise_one_by_one, shard_transformer
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, TransformerConfig

HEADS, HEAD_DIM, LAYERS, TOKENS, TEXT, REPEATS = 8, 32, 2, 256, 32, 5


def main() -> None:
    mode = sys.argv[1]
    mx.set_default_device(mx.cpu)
    group = mx.distributed.init()
    mx.random.seed(0)
    config = TransformerConfig(
        num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, num_layers=LAYERS,
        cross_attention_dim=HEADS * HEAD_DIM, caption_channels=128,
    )  # fmt: skip
    model = LTXVideoTransformer(config)
    if mode == "tensor":
        shard_transformer(model, group)
    materialise_one_by_one(model)
    run = SequenceParallelLTXV(model, group) if mode == "sequence" else model
    latents = mx.random.normal((1, TOKENS, 128))
    grid = mx.random.uniform(shape=(1, 3, TOKENS)) * 32
    text = mx.random.normal((1, TEXT, 128))
    times = []
    for repeat in range(REPEATS + 1):
        started = time.perf_counter()
        mx.eval(run(latents, grid, text, None, mx.array([0.5])))
        if repeat:
            times.append(time.perf_counter() - started)
    if group.rank() == 0:
        print(f"{mode} x{group.size()}: {statistics.median(times) * 1000:.0f} ms per forward "
              f"(width {HEADS * HEAD_DIM}, {LAYERS} blocks, {TOKENS} tokens)")  # fmt: skip


if __name__ == "__main__":
    main()
