"""`ltx-mlx generate` under `mlx.launch`: every rank generates, rank 0 alone prints and writes.

    mlx.launch --hostfile hosts.json -- ltx-mlx generate --model ... --output clip.mp4

Every rank builds the same request, resolves the same model (each machine needs it installed)
and runs the same pipeline with the transformer split (plan.py chooses how; --parallel forces it).
Stage checkpoints: rank 0 keeps them in --job-dir itself, the others in rank-numbered folders
inside it, so that after a machine drops out the run resumes on one machine from rank 0's.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import mlx.core as mx

from ltx_mlx_core.distributed.components import DistributedComponents
from ltx_mlx_core.distributed.group import HostLost, host_lost_message, is_peer_loss
from ltx_mlx_core.distributed.plan import ParallelPlan, choose_plan
from ltx_mlx_core.distributed.watchdog import StallWatchdog
from ltx_mlx_core.errors import GenerationError
from ltx_mlx_core.pipeline.cli_driven import json_progress
from ltx_mlx_core.pipeline.cli_generate import run_generate
from ltx_mlx_core.pipeline.events import Event, Finished
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.memory_estimate import available_memory, compute_dtype_bytes, estimate_memory
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights.components import ModelComponents, components_of
from ltx_mlx_core.weights.registry import resolve_model

log = logging.getLogger(__name__)


def plan_for_request(
    request: GenerationRequest, components: ModelComponents, group: mx.distributed.Group, requested: str
) -> ParallelPlan:
    dtype_bytes = compute_dtype_bytes(request, components)
    estimate = estimate_memory(request, components, dtype_bytes=dtype_bytes)
    return choose_plan(
        size=group.size(),
        requested=requested,
        transformer_bytes=estimate.transformer,
        activation_bytes=estimate.activations,
        memory_per_host=available_memory(),
        video_tokens=math.prod(latent_grid(request.num_frames, request.height, request.width)),
        uses_step_cache=request.step_cache != "off",
    )


def rank_request(request: GenerationRequest, rank: int) -> GenerationRequest:
    """Rank 0 checkpoints into the job folder; the others into their own folders inside it."""
    if rank == 0 or not request.job_dir:
        return request
    return dataclasses.replace(request, job_dir=str(Path(request.job_dir) / f"rank{rank}"))


def group_events(
    request: GenerationRequest,
    group: mx.distributed.Group,
    requested: str,
    on_stall: Callable[[HostLost], None] | None = None,
) -> Iterator[Event]:
    """The pipeline's events with the transformer split over `group`; a lost peer ends it with HostLost.

    A peer lost inside a collective may leave this process waiting in MLX, where no error can be
    raised: the watchdog (watchdog.py) then calls `on_stall` with the HostLost to report, from its
    own thread (default: say it on stderr and exit 1).
    """
    components = components_of(resolve_model(request.model))
    plan = plan_for_request(request, components, group, requested)
    log.info("%s", plan.describe())
    shared = DistributedComponents(components, group, plan)
    pipeline = Pipeline(shared)
    lost = host_lost_message(group.rank(), group.size(), request.job_dir)
    report = on_stall or exit_with
    watchdog = StallWatchdog(lambda waited: report(HostLost(f"No step finished for {waited:.0f} s. {lost}")))
    events = pipeline.generate(rank_request(request, group.rank()))
    try:
        for event in events:
            watchdog.observe(event)
            if isinstance(event, Finished):
                event.result.parallel = {
                    "mode": plan.mode.value,
                    "processes": plan.size,
                    "reason": plan.reason,
                    "transformer_bytes_rank0": shared.transformer_bytes,
                }
            yield event
    except GenerationError as error:
        if is_peer_loss(error):
            raise HostLost(lost) from error
        raise
    finally:
        watchdog.stop()
        events.close()


def exit_with(error: HostLost) -> None:
    """Say `error` the way `ltx-mlx` says a caught one, then end the process: its main thread is
    waiting inside MLX and cannot be unwound."""
    print(f"ltx-mlx: {error}", file=sys.stderr, flush=True)
    os._exit(1)


def handle_generate_on_group(args: argparse.Namespace, group: mx.distributed.Group) -> int:
    rank = group.rank()

    def stalled(error: HostLost) -> None:
        progress = json_progress(args) if rank == 0 else None
        if progress is not None:
            progress.failed(error)
        exit_with(error)

    code = run_generate(args, lambda request: group_events(request, group, args.parallel, stalled), writes=rank == 0)
    # Every rank waits for rank 0's files, so no launcher stops it while it writes.
    mx.eval(mx.distributed.all_sum(mx.array(1.0), group=group))
    return code
