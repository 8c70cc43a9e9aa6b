"""Pipeline settings read from the official YAMLs in configs/.

The official files mix settings we use (passes, guidance, decode noise) with
ones for tools we do not ship (prompt enhancer); `from_dict` keeps the first
and ignores the rest. A `base` (single-scale) config keeps its denoising keys
at the top level; a `multi-scale` one under `first_pass`/`second_pass`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.paths import configs_dir

PIPELINE_TYPES = ("multi-scale", "base")
STG_MODES = ("attention_values", "attention_skip", "residual", "transformer_block")
# How a conditioning video placed after frame 0 uses its first two latents (see conditioning.py).
PREFIX_LATENTS_MODES = ("concat", "soft", "drop")

# precision key -> the dtype we compute in (FP8 checkpoints are dequantised on load).
COMPUTE_DTYPES = {
    "bfloat16": "bfloat16",
    "float16": "float16",
    "float32": "float32",
    "mixed_precision": "bfloat16",
    "float8_e4m3fn": "bfloat16",
}

ScaleSchedule = float | list[float]


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class PassConfig:
    """One denoising pass: which timesteps and how to guide each step.

    Guidance values are a number or a list indexed through `guidance_timesteps`
    (each step uses the first entry whose timestep is <= the step's timestep,
    as the reference does).
    """

    timesteps: list[float] | None = None
    num_inference_steps: int = 20
    skip_initial_inference_steps: int = 0
    skip_final_inference_steps: int = 0
    guidance_scale: ScaleSchedule = 1.0
    stg_scale: ScaleSchedule = 0.0
    rescaling_scale: ScaleSchedule = 1.0
    guidance_timesteps: list[float] | None = None
    skip_block_list: list | None = None
    cfg_star_rescale: bool = False
    tone_map_compression_ratio: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PassConfig:
        return cls(**_known_fields(cls, data))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}

    def uses_cfg(self) -> bool:
        """True when any step has classifier-free guidance (and so needs the negative prompt)."""
        scales = self.guidance_scale if isinstance(self.guidance_scale, list) else [self.guidance_scale]
        return any(float(s) > 1.0 for s in scales)

    def check(self, name: str) -> None:
        if self.timesteps is not None:
            if not self.timesteps:
                raise InvalidRequest(f"{name}: timesteps must not be empty.")
            if any(not 0.0 < float(t) <= 1.0 for t in self.timesteps):
                raise InvalidRequest(f"{name}: timesteps must lie in (0, 1]; got {self.timesteps}.")
            if any(a <= b for a, b in zip(self.timesteps, self.timesteps[1:])):
                raise InvalidRequest(f"{name}: timesteps must be strictly decreasing; got {self.timesteps}.")
        elif self.num_inference_steps < 1:
            raise InvalidRequest(f"{name}: num_inference_steps must be at least 1.")
        for key in ("guidance_scale", "stg_scale", "rescaling_scale"):
            value = getattr(self, key)
            if isinstance(value, list) and self.guidance_timesteps is None and len(value) != 1:
                raise InvalidRequest(f"{name}: a list of {key} needs guidance_timesteps of the same length.")
            if (
                isinstance(value, list)
                and self.guidance_timesteps is not None
                and len(value) != len(self.guidance_timesteps)
            ):
                raise InvalidRequest(
                    f"{name}: {key} has {len(value)} entries but guidance_timesteps has {len(self.guidance_timesteps)}."
                )


@dataclass
class PipelineConfig:
    """Everything a pipeline YAML says about how to generate."""

    pipeline_type: str = "multi-scale"
    downscale_factor: float = 0.6666666
    stg_mode: str = "attention_values"
    decode_timestep: float = 0.05
    decode_noise_scale: float = 0.025
    precision: str = "bfloat16"
    sampler: str = "from_checkpoint"
    stochastic_sampling: bool = False
    text_encoder_max_tokens: int = 256  # the reference pipeline's default
    # The reference's `prefix_latents_mode` and `prefix_soft_conditioning_strength` (its pipeline uses "concat").
    prefix_latents_mode: str = "concat"
    prefix_soft_conditioning_strength: float = 0.15
    checkpoint_path: str | None = None
    spatial_upscaler_model_path: str | None = None
    text_encoder_model_name_or_path: str | None = None
    first_pass: PassConfig = field(default_factory=PassConfig)
    second_pass: PassConfig = field(default_factory=PassConfig)
    # `base` pipelines: the single pass, read from the top-level keys.
    single_pass: PassConfig = field(default_factory=PassConfig)
    name: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any], name: str = "") -> PipelineConfig:
        kwargs = _known_fields(cls, data)
        kwargs["first_pass"] = PassConfig.from_dict(data.get("first_pass") or {})
        kwargs["second_pass"] = PassConfig.from_dict(data.get("second_pass") or {})
        kwargs["single_pass"] = PassConfig.from_dict(data.get("single_pass") or data)
        kwargs["name"] = name or str(data.get("name", ""))
        config = cls(**kwargs)
        config.check()
        return config

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.to_dict() if isinstance(value, PassConfig) else copy.deepcopy(value)
        return data

    @property
    def compute_dtype(self) -> str:
        """'bfloat16', 'float16' or 'float32': what the models run in."""
        return COMPUTE_DTYPES[self.precision]

    @property
    def is_multiscale(self) -> bool:
        return self.pipeline_type == "multi-scale"

    def passes(self) -> list[tuple[str, PassConfig]]:
        """The denoising stages in order, by stage name."""
        if self.is_multiscale:
            return [("first_pass", self.first_pass), ("second_pass", self.second_pass)]
        return [("denoise", self.single_pass)]

    def uses_cfg(self) -> bool:
        return any(p.uses_cfg() for _, p in self.passes())

    def check(self) -> None:
        if self.pipeline_type not in PIPELINE_TYPES:
            raise InvalidRequest(
                f"pipeline_type must be one of {', '.join(PIPELINE_TYPES)}; got '{self.pipeline_type}'."
            )
        if self.stg_mode not in STG_MODES:
            raise InvalidRequest(f"stg_mode must be one of {', '.join(STG_MODES)}; got '{self.stg_mode}'.")
        if self.is_multiscale and not 0.0 < self.downscale_factor <= 1.0:
            raise InvalidRequest(f"downscale_factor must be in (0, 1]; got {self.downscale_factor}.")
        if self.prefix_latents_mode not in PREFIX_LATENTS_MODES:
            raise InvalidRequest(
                f"prefix_latents_mode must be one of {', '.join(PREFIX_LATENTS_MODES)}; "
                f"got '{self.prefix_latents_mode}'. It sets how a conditioning video placed after frame 0 "
                "uses its first latents: as extra tokens (concat), softly blended in place (soft), or not at all (drop)."
            )
        strength = self.prefix_soft_conditioning_strength
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
            raise InvalidRequest(f"prefix_soft_conditioning_strength must be a number from 0 to 1; got {strength!r}.")
        if self.precision not in COMPUTE_DTYPES:
            raise InvalidRequest(f"precision must be one of {', '.join(COMPUTE_DTYPES)}; got '{self.precision}'.")
        for stage, pass_config in self.passes():
            pass_config.check(stage)


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied; nested dicts merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def find_config_file(name_or_path: str | Path) -> Path:
    """A YAML path as given, or a config name looked up in configs/ (with or without .yaml)."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    name = candidate.name if candidate.suffix in (".yaml", ".yml") else f"{candidate.name}.yaml"
    in_configs = configs_dir() / name
    if in_configs.is_file():
        return in_configs
    available = ", ".join(sorted(p.stem for p in configs_dir().glob("*.yaml")))
    raise InvalidRequest(
        f"pipeline config '{name_or_path}' was not found: give a YAML file path or one of: {available}."
    )


def read_config_dict(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InvalidRequest(f"pipeline config '{path}' could not be read: {error}") from error
    if not isinstance(data, dict):
        raise InvalidRequest(f"pipeline config '{path}' must be a YAML mapping of settings.")
    return data


def load_pipeline_config(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read a pipeline YAML (by path or by name under configs/) and apply per-request overrides."""
    path = find_config_file(name_or_path)
    data = deep_merge(read_config_dict(path), overrides or {})
    try:
        return PipelineConfig.from_dict(data, name=path.stem)
    except TypeError as error:
        raise InvalidRequest(f"pipeline config '{path}' has a malformed setting: {error}") from error
