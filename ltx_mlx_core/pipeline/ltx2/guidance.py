"""Multi-modal guidance of the dev models, as ltx-core's `MultiModalGuider` computes it.

Each stream has its own scales. From the denoised (x0) predictions of up to four passes,
conditional, unconditional (the negative prompt), perturbed (STG: self-attention skipped in
chosen blocks) and isolated (audio and video blind to each other):

    x0 = cond + (cfg - 1)(cond - uncond) + stg (cond - perturbed) + (modality - 1)(cond - isolated)

then rescaled towards the conditional prediction's standard deviation by `rescale`. A pass
runs when either stream needs it; a stream whose scale does not use it ignores it. Every
`skip_step + 1`-th step is computed and the others reuse the stream's last prediction.
Params may change with the noise level (`GuidanceSchedule.by_sigma`, the reference's
`MultiModalGuiderFactory.from_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.perturbations import ISOLATE_MODALITIES, Perturbation, Skip


@dataclass(frozen=True)
class GuiderParams:
    """One stream's scales (field names as ltx-core's `MultiModalGuiderParams`)."""

    cfg_scale: float = 1.0
    stg_scale: float = 0.0
    stg_blocks: tuple[int, ...] = ()
    rescale_scale: float = 0.0
    modality_scale: float = 1.0
    skip_step: int = 0

    @property
    def uses_negative(self) -> bool:
        return not math.isclose(self.cfg_scale, 1.0)

    @property
    def uses_perturbed(self) -> bool:
        return not math.isclose(self.stg_scale, 0.0)

    @property
    def uses_isolated(self) -> bool:
        return not math.isclose(self.modality_scale, 1.0)

    def skips(self, step: int) -> bool:
        return self.skip_step != 0 and step % (self.skip_step + 1) != 0


UNGUIDED = GuiderParams()


@dataclass(frozen=True)
class GuidanceSchedule:
    """Params by noise level: bins (upper sigma bound, params), highest bound first."""

    bins: tuple[tuple[float, GuiderParams], ...] = field(default_factory=lambda: ((math.inf, UNGUIDED),))

    @classmethod
    def constant(cls, params: GuiderParams) -> GuidanceSchedule:
        return cls(((math.inf, params),))

    @classmethod
    def by_sigma(cls, params: Mapping[float, GuiderParams]) -> GuidanceSchedule:
        """`params[s]` applies to sigmas in (next lower bound, s]; sigmas above every bound take the highest's."""
        if not params:
            raise InvalidRequest("A sigma-dependent guidance needs at least one entry.")
        return cls(tuple(sorted(params.items(), key=lambda item: item[0], reverse=True)))

    def at(self, sigma: float) -> GuiderParams:
        bounds = [bound for bound, _ in self.bins if bound >= sigma]
        chosen = bounds[-1] if bounds else self.bins[0][0]
        return next(params for bound, params in self.bins if bound == chosen)


class Pass(Enum):
    CONDITIONAL = "conditional"
    UNCONDITIONAL = "unconditional"
    PERTURBED = "perturbed"
    ISOLATED = "isolated"


def passes_for(video: GuiderParams, audio: GuiderParams) -> list[Pass]:
    """The transformer passes a step of these two streams' params needs, conditional first."""
    passes = [Pass.CONDITIONAL]
    if video.uses_negative or audio.uses_negative:
        passes.append(Pass.UNCONDITIONAL)
    if video.uses_perturbed or audio.uses_perturbed:
        passes.append(Pass.PERTURBED)
    if video.uses_isolated or audio.uses_isolated:
        passes.append(Pass.ISOLATED)
    return passes


def pass_perturbations(kind: Pass, video: GuiderParams, audio: GuiderParams) -> tuple[Perturbation, ...]:
    """What a pass switches off in the transformer: STG skips the self-attention of each stream that asks."""
    if kind is Pass.PERTURBED:
        skips = [(Skip.VIDEO_SELF_ATTENTION, video), (Skip.AUDIO_SELF_ATTENTION, audio)]
        return tuple(
            Perturbation(skip, frozenset(params.stg_blocks)) for skip, params in skips if params.uses_perturbed
        )
    if kind is Pass.ISOLATED:
        return ISOLATE_MODALITIES
    return ()


def guide(predictions: Mapping[Pass, mx.array], params: GuiderParams) -> mx.array:
    """The guided x0 of one stream from its passes' x0 predictions (a pass it does not use may be absent)."""
    cond = predictions[Pass.CONDITIONAL]
    pred = cond
    # A term whose scale is exactly neutral adds an exact zero in the reference, so it is left out; a pass
    # that did not run stands as 0 there.
    if params.cfg_scale != 1.0:
        pred = pred + (params.cfg_scale - 1) * (cond - predictions.get(Pass.UNCONDITIONAL, 0.0))
    if params.stg_scale != 0.0:
        pred = pred + params.stg_scale * (cond - predictions.get(Pass.PERTURBED, 0.0))
    if params.modality_scale != 1.0:
        pred = pred + (params.modality_scale - 1) * (cond - predictions.get(Pass.ISOLATED, 0.0))
    if params.rescale_scale != 0.0:
        factor = _std(cond) / _std(pred)
        pred = pred * (params.rescale_scale * factor + (1 - params.rescale_scale))
    return pred


def _std(x: mx.array) -> mx.array:
    """Standard deviation over every element, with Bessel's correction (torch's default)."""
    return mx.std(x.astype(mx.float32).reshape(-1), ddof=1)


@dataclass(frozen=True)
class DevGuidance:
    """Guidance of both streams for a dev pass."""

    video: GuidanceSchedule
    audio: GuidanceSchedule

    @classmethod
    def constant(cls, video: GuiderParams, audio: GuiderParams) -> DevGuidance:
        return cls(GuidanceSchedule.constant(video), GuidanceSchedule.constant(audio))

    def uses_negative(self) -> bool:
        return any(p.uses_negative for schedule in (self.video, self.audio) for _, p in schedule.bins)


@dataclass(frozen=True)
class DevDefaults:
    """A dev model's own pipeline constants (ltx-pipelines' `PipelineParams`)."""

    num_inference_steps: int
    video: GuiderParams
    audio: GuiderParams

    def guidance(self) -> DevGuidance:
        return DevGuidance.constant(self.video, self.audio)


LTX2_DEV_DEFAULTS = DevDefaults(
    num_inference_steps=40,
    video=GuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(29,), rescale_scale=0.7, modality_scale=3.0),
    audio=GuiderParams(cfg_scale=7.0, stg_scale=1.0, stg_blocks=(29,), rescale_scale=0.7, modality_scale=3.0),
)
LTX23_DEV_DEFAULTS = DevDefaults(
    num_inference_steps=30,
    video=GuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(28,), rescale_scale=0.7, modality_scale=3.0),
    audio=GuiderParams(cfg_scale=7.0, stg_scale=1.0, stg_blocks=(28,), rescale_scale=0.7, modality_scale=3.0),
)
