"""The process group `mlx.launch` started this process in, and what a lost peer looks like."""

from __future__ import annotations

import logging
import os

import mlx.core as mx

from ltx_mlx_core.errors import GenerationError

log = logging.getLogger(__name__)

# What MLX's backends say when a peer process is gone (ring: a closed socket; others: similar).
_PEER_LOST_MARKERS = ("connection to a peer was lost", "closed by the peer", "[ring]", "[jaccl]", "[nccl]")


class HostLost(GenerationError):
    """A process of the group stopped answering mid-generation."""


def launched_group() -> mx.distributed.Group | None:
    """The group of a multi-process launch (`mlx.launch`), or None when this process runs alone."""
    if "MLX_RANK" not in os.environ or not mx.distributed.is_available():
        return None
    group = mx.distributed.init()
    if group.size() < 2:
        return None
    log.info("rank %d of a group of %d", group.rank(), group.size())
    return group


def is_peer_loss(error: BaseException) -> bool:
    """Whether an error (or what caused it) is a distributed backend losing a peer."""
    while error is not None:
        if isinstance(error, RuntimeError) and any(m in str(error) for m in _PEER_LOST_MARKERS):
            return True
        error = error.__cause__
    return False


def host_lost_message(rank: int, size: int, job_dir: str | None) -> str:
    resume = (
        f"The stages finished so far are saved in '{job_dir}': run the same command on one machine "
        "(without mlx.launch) to resume from them."
        if job_dir
        else "Pass --job-dir next time so that finished stages are kept and a run can resume on one machine."
    )
    return (
        f"Another machine of the group stopped answering (this is rank {rank} of {size}), so the generation "
        f"was stopped. {resume}"
    )
