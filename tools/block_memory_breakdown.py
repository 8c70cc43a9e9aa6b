"""Where one transformer block's activation memory goes, part by part (a CPU tool).

    python tools/block_memory_breakdown.py --model ltxv-2b --frames 9 --fused
    python tools/block_memory_breakdown.py --model ltx-2.3-22b --frames 1 --fused --ff-chunks 4

One block of the model's exact width with random weights, on inputs of the clip's token count; for
the whole block and for each part of it (attention, text cross-attention, the audio-video exchange,
the feed-forward), the peak allocated above its inputs while it evaluates, in MiB. Activations
grow linearly with the tokens, so a clip of few frames (the CPU is slow) is measured, with the
prompt's tokens cut in proportion, and scaled to `--scale-to-frames`' token count.

How far MLX queues work ahead of its completion decides how many intermediates are allocated at
once (each operation's output is allocated when it is queued, its inputs freed when it completes).
By default the tool sets MLX's memory limit below what is allocated, so MLX waits for the queue
after each operation: about what a GPU with one operation per command buffer holds, and what
PyTorch's free-on-last-use gives. `--run-ahead` lets the CPU queue its usual ~100 operations
(a GPU with 2 per buffer queues about 20), the other bound.

Attention on the CPU materialises its [heads, T, T] scores and the CPU's norms hold float32
copies, which the GPUs' fused kernels never do, so both are replaced by stand-ins that allocate
only the kernels' outputs (`--real-attention`, `--real-norms` keep them). `--fused` takes the
models' GPU paths (elementwise chains fused with mx.compile, the LTX-Video block compiled whole);
`--ff-chunks` sets the feed-forward's token chunks (models/common/token_chunks.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mlx.core as mx  # noqa: E402

from ltx_mlx_core.bench.step_memory import STEP_MODELS, random_step_model  # noqa: E402
from ltx_mlx_core.bench.workloads import VideoShape, transformer_step_inputs  # noqa: E402
from ltx_mlx_core.bench.workloads_ltx2 import CONTEXT_TOKENS, AVShape, ltx2_step_inputs  # noqa: E402
from ltx_mlx_core.models.common.adaln import gated_residual, modulate  # noqa: E402
from ltx_mlx_core.models.common.token_chunks import in_token_chunks  # noqa: E402
from ltx_mlx_core.models.ltx2.perturbations import Skip  # noqa: E402
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer  # noqa: E402
from ltx_mlx_core.models.ltxv import transformer_blocks  # noqa: E402
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer  # noqa: E402

MIB = 1 << 20


def stand_in_attention(queries, keys, values, scale, mask=None):
    """The fused attention's output shape and allocation, reading k and v so they stay live until it runs."""
    return queries + (keys[:, :, :1] + values[:, :, :1]) * 0.0


def stand_in_norm(x, weight=None, *rest, **kwargs):
    """A GPU norm kernel's allocation (its output alone); the CPU's composed norms hold float32 copies."""
    return x * 1.0


class _GpuDevice:
    type = mx.gpu


def pretend_gpu() -> None:
    """Make the models take their GPU paths (fused elementwise kernels, compiled blocks) on the CPU."""
    mx.default_device = lambda: _GpuDevice()


def peak_above_inputs(run: Callable[[], object]) -> int:
    mx.synchronize()
    mx.clear_cache()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    out = run()
    mx.eval(out)
    mx.synchronize()
    peak = mx.get_peak_memory()
    del out
    return int(peak - before)


def ltxv_parts(model: LTXVideoTransformer, frames: int, scale: float) -> tuple[dict[str, Callable], int]:
    inputs = transformer_step_inputs(model, VideoShape(768, 512, frames))
    hidden, block_inputs = model.embed(*inputs)
    mx.eval(hidden, block_inputs.timestep, block_inputs.context, block_inputs.rotary)
    block = model.transformer_blocks[0]
    b = block_inputs
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = block._modulation(b.timestep)
    mx.eval(shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp)

    def attention():
        attended = block.attn1(modulate(block.norm1(hidden), scale_msa, shift_msa), rotary=b.rotary)
        return gated_residual(hidden, gate_msa, attended)

    parts = {
        "block": lambda: block(
            hidden, b.timestep, b.context, b.context_mask, b.rotary, None, None, model.feed_forward_chunks
        ),
        "self-attention": attention,
        "text attention": lambda: hidden + block.attn2(hidden, context=b.context, mask=b.context_mask),
        "feed-forward": lambda: in_token_chunks(
            block._feed_forward, model.feed_forward_chunks, hidden, shift_mlp, scale_mlp, gate_mlp
        ),
    }
    return parts, hidden.shape[1]


def ltx2_parts(model: LTX2Transformer, frames: int, scale: float) -> tuple[dict[str, Callable], int]:
    # The prompt's tokens shrink with the clip's, so that scaling back counts them once.
    context_tokens = max(8, round(CONTEXT_TOKENS / scale))
    video, audio = ltx2_step_inputs(model, AVShape(768, 512, frames), context_tokens=context_tokens)
    prepared = model.prepare(video, audio)
    v, a = prepared.video, prepared.audio
    mx.eval([dataclasses.astuple(s) for s in (v, a) if s is not None])
    block = model.transformer_blocks[0]
    p = prepared.perturbations
    parts = {
        "block": lambda: block(v, a, p),
        "video attention + text": lambda: block._attend(v.x, v, ("", Skip.VIDEO_SELF_ATTENTION), p),
        "audio attention + text": lambda: block._attend(a.x, a, ("audio_", Skip.AUDIO_SELF_ATTENTION), p),
        "audio-video exchange": lambda: block._exchange(v.x, a.x, v, a, True, True, p),
        "video feed-forward": lambda: block._feed_forward(v.x, v, ""),
        "audio feed-forward": lambda: block._feed_forward(a.x, a, "audio_"),
    }
    return parts, v.x.shape[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(STEP_MODELS), default="ltxv-2b")
    parser.add_argument("--frames", type=int, default=9, help="clip frames measured (768x512)")
    parser.add_argument("--scale-to-frames", type=int, default=None, help="default: 97 (LTX-Video), 121 (LTX-2)")
    parser.add_argument("--fused", action="store_true", help="fuse elementwise chains as on a GPU")
    parser.add_argument("--ff-chunks", type=int, default=1, help="feed-forward token chunks")
    parser.add_argument("--real-attention", action="store_true")
    parser.add_argument(
        "--run-ahead", action="store_true", help="let MLX queue ~100 CPU operations ahead (default: a few)"
    )
    parser.add_argument("--uncompiled-block", action="store_true", help="LTX-Video: no whole-block mx.compile")
    parser.add_argument("--real-norms", action="store_true", help="the CPU's composed norms, not stand-ins")
    parser.add_argument("--parts", default=None, help="comma-separated part names (default: all)")
    args = parser.parse_args(argv)

    if not args.real_attention:
        mx.fast.scaled_dot_product_attention = stand_in_attention
    if not args.real_norms:
        mx.fast.rms_norm = stand_in_norm
        mx.fast.layer_norm = stand_in_norm
    if args.fused:
        pretend_gpu()
    if not args.run_ahead:
        # Over the memory limit MLX waits for queued work after each operation: the CPU then runs
        # about as far ahead as a GPU with one or two operations per command buffer.
        mx.set_memory_limit(1)
    transformer_blocks.COMPILE_BLOCKS_ON_GPU = not args.uncompiled_block
    family, model = random_step_model(args.model, 1, mx.bfloat16)
    config = model.config
    model.feed_forward_chunks = args.ff_chunks
    full_frames = args.scale_to_frames or (97 if family == "ltxv" else 121)
    full_tokens = VideoShape(768, 512, full_frames).tokens
    factor = full_tokens / VideoShape(768, 512, args.frames).tokens
    parts, tokens = (ltxv_parts if family == "ltxv" else ltx2_parts)(model, args.frames, factor)
    dim = config.inner_dim
    print(
        f"{args.model}: {tokens} video tokens measured, scaled x{factor:.2f} to {full_tokens}; "
        f"one [T, D] bf16 tensor at full size = {full_tokens * dim * 2 / MIB:.1f} MiB; "
        f"fused={args.fused} ff_chunks={args.ff_chunks}",
        flush=True,
    )
    chosen = args.parts.split(",") if args.parts else list(parts)
    for name in chosen:
        peak = peak_above_inputs(parts[name])
        print(f"  {name:24s} {peak / MIB:9.2f} MiB measured  {peak * factor / MIB:9.1f} MiB scaled", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
