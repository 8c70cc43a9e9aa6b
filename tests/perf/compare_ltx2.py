"""LTX-2.3 22B side by side in one run on one device: ours, ltx-core 1.0.0 (PyTorch), mlx-video-with-audio.

    python tests/perf/compare_ltx2.py --json out.json                         # GPU, 768x512x121 with audio
    python tests/perf/compare_ltx2.py --tiny --layers 2 --width 64 --height 64 --frames 17 \
        --stages reference,ours,q4,q4-stream --repeats 2                        # CPU smoke (toy widths)
    python tests/perf/compare_ltx2.py --tiny --layers 2 --width 64 --height 64 --frames 17 \
        --stages ref-audio,audio,gen,ref-gen --repeats 1                        # CPU smoke, whole generations
    bash tests/perf/device_run.sh ltx2      # on the lent GPU: .whl carries ltx-core and mlx-video-with-audio

Random weights of the release's exact shapes (ltx_mlx_core/weights/ltx2_full_size.py), bf16.
Stages (run in the order of STAGES, each one's models freed before the next, so peaks do not overlap):
  reference   ltx-core's LTXModel: one distilled step over the video and audio tokens
  ref-vae     ltx-core's video decoder, the whole clip at once
  ours        our step (bench/workloads_ltx2.py: block evaluation as the denoise loop does it)
  vae         our video decode (tiling as the pipeline picks it for the device's memory)
  vae-peer-tiling  `vae` on peer-vae's tiles in latents (ltx2_peer_tiling.py): the one set against peer-vae
  audio       our audio decode + BWE vocoder as the pipeline runs it (decode_outputs.evaluated_sound_pieces:
              the vocoders evaluated after every residual pair), float32
  audio-graph the same, one graph per chunk of sound (how it ran before 2026-12-03 evening)
  ref-audio   ltx-core's decode_audio (audio VAE decoder + BWE vocoder) of the same latents, in bf16 as
              ltx-pipelines decodes sound (its ledger builds every module in bf16)
  peer        mlx-video-with-audio's LTXModel, one evaluation per step as its generate loop does
  peer-vae    its LTX-2 video decoder on the same latents as `vae`, tiled as its generate_av.py's default
              `--tiling auto` picks (TilingConfig.auto), one evaluation at the end
  peer-audio  its AudioDecoder then VocoderWithBWE on the same latents as `audio`, in bf16 (its weights'
              dtype), one evaluation after each as its generate_av.py does
  q8, q4      our step with 8-/4-bit weights, resident (Mac budgets: the GPU peak incl. weights)
  q4-stream   4-bit blocks streamed from a file every step (residency stream_blocks; the product reads
              them from its quantised cache, this stages the same with random weights)
  gen         our whole distilled two-stage generation through Pipeline.generate on random weights of
              every component (Gemma 3 12B + connectors, 22B, video VAE, audio VAE, vocoder + BWE,
              x2 upsampler; bench/random_model_ltx2.py): whole-run medians, per-stage medians (text
              encode, stage 1, upsample, stage 2, decode video, decode audio), the run's peak
  gen-sc      `gen` with the step cache's "faster" preset
  ref-gen     ltx-pipelines' DistilledPipeline (Gemma included) with a ledger that builds random modules
              (tests/perf/ltx2_reference_generation.py); peak from torch.cuda.max_memory_allocated
Each: warm-up, then timed repeats; median seconds and the peak memory while timing. `--tiny` runs the
whole generations and the sound decodes on the tiny LTX-2 model's shapes (weights/tiny_ltx2.py); the
video decodes keep the release's VAE at any size. The peer's decode rows also say the warm-up output's
shape and whether it was all finite.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import ltx_mlx_core.gpu_commands  # noqa: E402  (before MLX starts: sets its ops per command buffer)

# isort: split
import mlx.core as mx  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

from ltx_mlx_core.bench.timing import time_mlx  # noqa: E402
from ltx_mlx_core.bench.workloads_ltx2 import (  # noqa: E402
    AVShape,
    benchmark_config,
    ltx2_step_inputs,
    ltx2_step_workload,
    random_ltx2_transformer,
)
from ltx_mlx_core.models.ltx2.config import LTX2Config  # noqa: E402
from ltx_mlx_core.pipeline.block_eval import EVERY_ENV, IN_FLIGHT_ENV, POINTS_ENV  # noqa: E402
from ltx_mlx_core.weights.ltx2_full_size import full_size  # noqa: E402
from tests.perf import ltx2_generation_workloads as generation  # noqa: E402
from tests.perf.build_clock import GcClock  # noqa: E402
from tests.perf.ltx2_budgets import quantized_step, streamed_step  # noqa: E402
from tests.perf.ltx2_decode_workloads import (  # noqa: E402
    audio_latents,
    ours_audio_decode,
    ours_video_decode,
    video_latents,
    video_vae_config,
)
from tests.perf.ltx2_peer_tiling import peer_tile_plan  # noqa: E402
from tests.perf.stage_ratios import stage_ratios  # noqa: E402

GIB = 1 << 30
STAGES = (
    "reference", "ours", "q8", "q4", "q4-stream", "peer", "audio", "audio-graph", "ref-audio", "peer-audio", "vae",
    "vae-peer-tiling", "ref-vae", "peer-vae", "gen", "gen-sc", "ref-gen",
)  # fmt: skip
# (ours, other): "ours/other time" and "ours/other peak" in the report; our decodes set against the side
# that decodes the same way (vae: whole clip, as ref-vae; vae-peer-tiling: the peer's tiles, as peer-vae).
RATIOS = (
    ("ours", "reference"), ("ours", "peer"), ("vae", "ref-vae"), ("q4-stream", "q4"), ("gen", "ref-gen"),
    ("audio", "ref-audio"), ("audio", "audio-graph"), ("gen-sc", "gen"), ("vae-peer-tiling", "peer-vae"),
    ("audio", "peer-audio"),
)  # fmt: skip
DEFAULT_STAGES = ",".join(STAGES)
log = logging.getLogger("compare_ltx2")


def _free() -> None:
    gc.collect()
    mx.synchronize()
    mx.clear_cache()
    if "torch" in sys.modules:
        import torch  # noqa: PLC0415  (only when a reference stage loaded it)

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _row(stage: str, timing: dict[str, Any], **extra: Any) -> dict[str, Any]:
    row = {"stage": stage, **timing, **extra}
    print(
        f"{stage:10s} median {row['median_s']:.4f} s (min {row['min_s']:.4f}, max {row['max_s']:.4f}, "
        f"n={row['repeats']}), peak {row['peak_memory_bytes'] / GIB:.2f} GiB "
        + (f"build_s={row['build_s']:.3f} " if "build_s" in row else "")
        + " ".join(f"{k}={v}" for k, v in extra.items()),
        flush=True,
    )
    return row


@dataclass
class _Context:
    args: argparse.Namespace
    config: LTX2Config
    shape: AVShape
    dtype: mx.Dtype
    rows: list[dict[str, Any]]
    report: dict[str, Any]

    def timed(self, stage: str, fn, repeats: int | None = None, **extra: Any) -> None:
        timing = time_mlx(fn, repeats or self.args.repeats, self.args.warmup).to_dict()
        self.rows.append(_row(stage, timing, **extra))


def _torch_side(context: _Context):
    import torch  # noqa: PLC0415  (the reference stages alone need torch)

    from tests.perf import ltx2_reference_workloads as ref  # noqa: PLC0415

    device = ref.torch_device()
    context.report["torch_version"] = torch.__version__
    context.report["torch_device"] = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    return ref, device, torch.bfloat16 if device.type == "cuda" else torch.float32


def _reference(context: _Context) -> None:
    ref, device, torch_dtype = _torch_side(context)
    model = ref.reference_transformer(context.config, device, torch_dtype)
    video, audio = ltx2_step_inputs(
        _inputs_model(context.config, context.dtype), context.shape, per_token_timesteps=False
    )
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    fn = ref.reference_step(model, video, audio, torch_dtype)
    timing = ref.time_torch(fn, device, context.args.repeats, context.args.warmup)
    context.rows.append(_row("reference", timing, weights_bytes=weights))


def _reference_vae(context: _Context) -> None:
    ref, device, torch_dtype = _torch_side(context)
    decoder = ref.reference_video_decoder(video_vae_config(), device, torch_dtype)
    fn = ref.reference_decode(decoder, video_latents(context.shape, context.dtype), torch_dtype)
    context.rows.append(_row("ref-vae", ref.time_torch(fn, device, context.args.vae_repeats, 1)))


def _weights(model) -> int:
    return sum(v.nbytes for _, v in tree_flatten(model.parameters()))


def _ours(context: _Context) -> None:
    model = random_ltx2_transformer(context.config, context.dtype)
    context.timed("ours", ltx2_step_workload(model, context.shape), weights_bytes=_weights(model))


def _vae(context: _Context) -> None:
    context.timed("vae", ours_video_decode(context.shape, context.dtype), context.args.vae_repeats)


def _vae_peer_tiling(context: _Context) -> None:
    tiling, plan = peer_tile_plan(context.shape)
    fn = ours_video_decode(context.shape, context.dtype, tiling)
    context.timed("vae-peer-tiling", fn, context.args.vae_repeats, **plan)


def _sound_sizes(context: _Context):
    return generation.tiny_sizes() if context.args.tiny else full_size("2.3")


def _audio(stage: str, every: int | None):
    def run_stage(context: _Context) -> None:
        fn, samples = ours_audio_decode(context.shape, _sound_sizes(context), every)
        context.timed(stage, fn, samples=samples, dtype="float32")

    return run_stage


def _reference_audio(context: _Context) -> None:
    ref, device, _ = _torch_side(context)
    from tests.perf.ltx2_reference_generation import DTYPE, reference_audio_decode  # noqa: PLC0415  (torch)

    fn = reference_audio_decode(_sound_sizes(context), audio_latents(context.shape), device)
    timing = ref.time_torch(fn, device, context.args.repeats, context.args.warmup)
    context.rows.append(_row("ref-audio", timing, dtype=str(DTYPE).removeprefix("torch.")))


def _generation(stage: str, step_cache: str):
    def run_stage(context: _Context) -> None:
        args, shape = context.args, context.shape
        components = generation.random_components(args.tiny, args.layers)
        request = generation.generation_request(
            shape.width, shape.height, shape.frames, shape.fps, context.dtype, step_cache
        )
        timing = generation.time_generation(components, request, args.gen_repeats, args.gen_warmup)
        stages = {name: round(seconds, 4) for name, seconds in timing.pop("stages_s").items()}
        context.rows.append(_row(stage, timing, stages_s=stages))

    return run_stage


def _reference_generation(context: _Context) -> None:
    ref, _, _ = _torch_side(context)
    from tests.perf.ltx2_reference_generation import reference_generation  # noqa: PLC0415  (torch)

    args, shape = context.args, context.shape
    sizes = generation.random_components(args.tiny, args.layers).sizes
    fn, device, tokenizer, clock, stages = reference_generation(
        sizes, args.tiny, shape.width, shape.height, shape.frames, shape.fps, generation.PROMPT
    )
    collector = GcClock()
    with tokenizer:
        timing = ref.time_torch(collector.around(fn), device, args.gen_repeats, args.gen_warmup)
    timing["gc_s"] = collector.median_of_last(args.gen_repeats)
    timing["build_s"] = clock.median_of_last(args.gen_repeats)
    timing["build_by_module_s"] = {name: round(seconds, 4) for name, seconds in clock.by_module.items()}
    stages_s = {name: round(seconds, 4) for name, seconds in stages.medians_of_last(args.gen_repeats).items()}
    row = _row(
        "ref-gen", timing, dtype="bfloat16", text_encoder="gemma 3 (random, with vision tower)", stages_s=stages_s
    )
    context.rows.append(row)


def _peer(context: _Context) -> None:
    from tests.perf.ltx2_peer_workloads import peer_step, peer_transformer  # noqa: PLC0415

    model = peer_transformer(context.config, context.dtype)
    video, audio = ltx2_step_inputs(
        _inputs_model(context.config, context.dtype), context.shape, per_token_timesteps=False
    )
    context.timed("peer", peer_step(model, video, audio), weights_bytes=_weights(model))


def _peer_vae(context: _Context) -> None:
    from tests.perf import ltx2_peer_workloads as peer  # noqa: PLC0415  (the peer is not a dependency)

    decoder = peer.peer_video_decoder(video_vae_config(), context.dtype)
    fn, tiling = peer.peer_video_decode(decoder, video_latents(context.shape, context.dtype), context.shape)
    checked: dict[str, Any] = {}
    fn = peer.first_call_checked(fn, checked)
    timing = time_mlx(fn, context.args.vae_repeats, context.args.warmup).to_dict()
    context.rows.append(_row("peer-vae", timing, weights_bytes=_weights(decoder), tiling=tiling, **checked))


def _peer_audio(context: _Context) -> None:
    from tests.perf import ltx2_peer_workloads as peer  # noqa: PLC0415  (the peer is not a dependency)

    sizes = _sound_sizes(context)
    decoder, vocoder = peer.peer_audio_decoder(sizes.audio_vae), peer.peer_vocoder(sizes.vocoder)
    checked: dict[str, Any] = {}
    fn = peer.first_call_checked(peer.peer_audio_decode(decoder, vocoder, audio_latents(context.shape)), checked)
    timing = time_mlx(fn, context.args.repeats, context.args.warmup).to_dict()
    weights = _weights(decoder) + _weights(vocoder)
    dtype = str(peer.PEER_SOUND_DTYPE).removeprefix("mlx.core.")
    samples = checked["output_shape"][-1] if checked else None  # the whole decode: it trims none
    row = _row("peer-audio", timing, samples=samples, weights_bytes=weights, dtype=dtype, **checked)
    context.rows.append(row)


def _quantized(bits: int):
    def stage(context: _Context) -> None:
        model = quantized_step(context.config, context.dtype, bits)
        context.timed(f"q{bits}", ltx2_step_workload(model, context.shape), weights_bytes=_weights(model))

    return stage


def _q4_stream(context: _Context) -> None:
    model = quantized_step(context.config, context.dtype, 4)
    with tempfile.TemporaryDirectory(dir=context.args.scratch) as folder:
        model, file_bytes = streamed_step(model, Path(folder))
        _free()
        fn = ltx2_step_workload(model, context.shape)
        context.timed("q4-stream", fn, weights_bytes=_weights(model), streamed_bytes_per_step=file_bytes)
        del fn, model


STAGE_RUNNERS = {
    "reference": _reference,
    "ref-vae": _reference_vae,
    "ours": _ours,
    "vae": _vae,
    "vae-peer-tiling": _vae_peer_tiling,
    "audio": _audio("audio", None),
    "audio-graph": _audio("audio-graph", 0),
    "ref-audio": _reference_audio,
    "gen": _generation("gen", "off"),
    "gen-sc": _generation("gen-sc", "faster"),
    "ref-gen": _reference_generation,
    "peer": _peer,
    "peer-vae": _peer_vae,
    "peer-audio": _peer_audio,
    "q8": _quantized(8),
    "q4": _quantized(4),
    "q4-stream": _q4_stream,
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    on_gpu = mx.default_device().type == mx.gpu
    dtype = mx.bfloat16 if on_gpu else mx.float32
    config = benchmark_config(args.layers, toy_widths=args.tiny)  # --tiny: a CPU smoke
    shape = AVShape(args.width, args.height, args.frames)
    stages = args.stages.split(",")
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stages {sorted(unknown)}; known: {DEFAULT_STAGES}")
    report: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "mlx_version": mx.__version__,
        "mlx_device": str(mx.default_device()),
        "model": "ltx-2.3-22b (distilled step shapes)",
        "layers": config.num_layers,
        "video": f"{shape.width}x{shape.height}x{shape.frames}",
        "tokens": {"video": shape.video_tokens, "audio": shape.audio_tokens},
        "dtype": str(dtype),
        "mlx_max_ops_per_buffer": os.environ.get(ltx_mlx_core.gpu_commands.OPS_PER_BUFFER_ENV),
        "mlx_cuda_conv_cache_size": os.environ.get(ltx_mlx_core.gpu_commands.CONV_CACHE_ENV),
        "block_evaluation_env": {name: os.environ.get(name) for name in (EVERY_ENV, IN_FLIGHT_ENV, POINTS_ENV)},
        "rows": [],
    }
    rows = report["rows"]
    context = _Context(args, config, shape, dtype, rows, report)
    for stage in STAGES:
        if stage in stages:
            try:
                STAGE_RUNNERS[stage](context)
            except Exception as error:  # one stage's failure must not cost the others' numbers
                log.exception("stage %s failed", stage)
                rows.append({"stage": stage, "error": f"{type(error).__name__}: {error}"})
            _free()
            report["ratios"] = stage_ratios(report["rows"], RATIOS)
            if args.json:  # after every stage: a run cut short keeps what it measured
                args.json.write_text(json.dumps(report, indent=2))
    return report


def _inputs_model(config, dtype):
    """A one-block model of the same widths: the step's inputs depend only on the widths (same seeds)."""
    return random_ltx2_transformer(dataclasses.replace(config, num_layers=1), dtype)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default=DEFAULT_STAGES)
    parser.add_argument("--layers", type=int, default=None, help="keep this many blocks (default: all 48)")
    parser.add_argument("--tiny", action="store_true", help="toy widths (a CPU smoke run)")
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--vae-repeats", type=int, default=3)
    parser.add_argument("--gen-repeats", type=int, default=2, help="timed whole generations (gen, ref-gen)")
    parser.add_argument("--gen-warmup", type=int, default=1)
    parser.add_argument("--scratch", type=Path, default=None, help="folder for the streamed blocks' file")
    parser.add_argument("--json", type=Path, help="write the report here (rewritten after each stage)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run(args)
    for name, value in report["ratios"].items():
        print(f"{name}: {value:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
