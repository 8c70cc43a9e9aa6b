"""Which attentions a guidance pass switches off, per batch entry and block.

Spatio-temporal guidance (STG) runs a pass whose chosen blocks skip self-attention: the
attention output is replaced by the value projection (gating and the output projection still
apply). Modality-isolation guidance runs a pass with the audio-to-video and video-to-audio
cross-attentions off in every block. Entries of one batch may differ (e.g. a conditional,
an STG and an isolated pass stacked together), as in the reference's batched configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import mlx.core as mx


class Skip(Enum):
    VIDEO_SELF_ATTENTION = "skip_video_self_attn"
    AUDIO_SELF_ATTENTION = "skip_audio_self_attn"
    AUDIO_TO_VIDEO = "skip_a2v_cross_attn"
    VIDEO_TO_AUDIO = "skip_v2a_cross_attn"


@dataclass(frozen=True)
class Perturbation:
    skip: Skip
    # None: every block.
    blocks: frozenset[int] | None = None

    def applies(self, skip: Skip, block: int) -> bool:
        return self.skip is skip and (self.blocks is None or block in self.blocks)


def stg(blocks: Iterable[int], video: bool = True, audio: bool = True) -> tuple[Perturbation, ...]:
    """Self-attention skipped in `blocks`, for the video stream, the audio stream or both."""
    chosen = frozenset(blocks)
    kinds = [Skip.VIDEO_SELF_ATTENTION] * video + [Skip.AUDIO_SELF_ATTENTION] * audio
    return tuple(Perturbation(kind, chosen) for kind in kinds)


# Audio and video denoised without seeing each other (modality-isolation guidance).
ISOLATE_MODALITIES = (Perturbation(Skip.AUDIO_TO_VIDEO), Perturbation(Skip.VIDEO_TO_AUDIO))


@dataclass(frozen=True)
class Perturbations:
    """One tuple of perturbations per batch entry."""

    per_entry: tuple[tuple[Perturbation, ...], ...]

    @classmethod
    def none(cls, batch: int) -> Perturbations:
        return cls(((),) * batch)

    @classmethod
    def uniform(cls, batch: int, perturbations: Iterable[Perturbation]) -> Perturbations:
        """The same perturbations for every entry."""
        return cls((tuple(perturbations),) * batch)

    def _skipped(self, skip: Skip, block: int) -> list[bool]:
        return [any(p.applies(skip, block) for p in entry) for entry in self.per_entry]

    def all_skipped(self, skip: Skip, block: int) -> bool:
        return all(self._skipped(skip, block))

    def keep_mask(self, skip: Skip, block: int, dtype: mx.Dtype) -> mx.array | None:
        """[B, 1, 1]: 1 where the entry keeps the attention, 0 where it skips; None if none skips."""
        skipped = self._skipped(skip, block)
        if not any(skipped):
            return None
        return mx.array([0.0 if s else 1.0 for s in skipped], dtype=dtype).reshape(-1, 1, 1)

    def check_batch(self, batch: int) -> None:
        if len(self.per_entry) != batch:
            raise ValueError(f"perturbations are given for {len(self.per_entry)} entries, the batch has {batch}")
