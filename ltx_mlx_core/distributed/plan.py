"""Tensor or sequence parallel for one request: a simple rule, and a record of the choice.

- Memory-bound (this host could not hold the whole transformer beside the pass's activations):
  tensor parallel, the only mode that splits the weights.
- Otherwise, a long sequence (at least SEQUENCE_MIN_TOKENS video tokens in the largest pass):
  sequence parallel, which moves keys and values once per attention rather than the activations
  after every projection.
- Otherwise tensor parallel (short clips: its traffic is small, and it halves the weights anyway).

A step cache (TeaCache-like) compares the transformer's input between steps; under sequence
parallel each rank would see only its tokens and could decide differently, so a request with a
step cache runs tensor parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ltx_mlx_core.errors import InvalidRequest

# 768x512x121 makes 6144 video tokens (runs tensor parallel); 1216x704x121 makes 13376 (sequence).
SEQUENCE_MIN_TOKENS = 8192


class ParallelMode(Enum):
    TENSOR = "tensor"
    SEQUENCE = "sequence"


@dataclass(frozen=True)
class ParallelPlan:
    mode: ParallelMode
    size: int
    reason: str

    def describe(self) -> str:
        return f"{self.mode.value} parallel over {self.size} processes ({self.reason})"


def choose_plan(
    size: int,
    requested: str,
    transformer_bytes: int,
    activation_bytes: int,
    memory_per_host: int,
    video_tokens: int,
    uses_step_cache: bool,
) -> ParallelPlan:
    """`requested`: "auto", "tensor" or "sequence"."""
    if requested not in ("auto", "tensor", "sequence"):
        raise InvalidRequest(f"--parallel must be auto, tensor or sequence, not {requested!r}.")
    if requested == "sequence" and uses_step_cache:
        raise InvalidRequest(
            "A step cache cannot run sequence parallel (ranks would decide apart); use --parallel tensor."
        )
    if requested != "auto":
        return ParallelPlan(ParallelMode(requested), size, "asked for")
    if uses_step_cache:
        return ParallelPlan(ParallelMode.TENSOR, size, "the step cache needs every token on every rank")
    if transformer_bytes + activation_bytes > memory_per_host:
        return ParallelPlan(
            ParallelMode.TENSOR,
            size,
            f"the transformer ({transformer_bytes / 2**30:.1f} GiB) and activations do not fit "
            f"{memory_per_host / 2**30:.1f} GiB per host",
        )
    if video_tokens >= SEQUENCE_MIN_TOKENS:
        return ParallelPlan(ParallelMode.SEQUENCE, size, f"{video_tokens} video tokens")
    return ParallelPlan(ParallelMode.TENSOR, size, f"a short sequence ({video_tokens} video tokens)")
