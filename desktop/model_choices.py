"""What the app offers to generate with: every model, grouped by family, with what each can do.

The model picker and the model manager both show these rows. A row says which family release it
belongs to (LTX-Video 0.9.8, LTX-2, LTX-2.3, LTX-2.5, or the test models), its approximate size,
whether it is on this machine, and the options it has: whether it makes sound and follows a sound
file, which size multiple its recipe needs, and whether the LTX-Video schedules and guidance
settings apply to it. The widgets disable (with this module's reasons) what a model does not have,
so no option is ever silently ignored. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ltx_mlx_core.pipeline.request import makes_sound
from ltx_mlx_core.weights.catalog import CATALOG
from ltx_mlx_core.weights.registry import LTX2, LTXV, list_models

TEST_GROUP = "Test models (random weights)"
VERSION_GROUPS = {"0.9.8": "LTX-Video 0.9.8", "2": "LTX-2", "2.3": "LTX-2.3", "2.5": "LTX-2.5"}
GROUP_ORDER = (*VERSION_GROUPS.values(), TEST_GROUP)
OTHER_GROUP = "Other models"

SILENT_REASON = "LTX-Video 0.9.x models make silent video; choose an LTX-2 model (LTX-2, 2.3, 2.5) for sound"
NO_AUDIO_INPUT_REASON = (
    "LTX-Video 0.9.x models cannot follow a sound; choose an LTX-2 model (LTX-2, 2.3, 2.5) to make video to it"
)
NO_LORA_REASON = (
    "LoRAs work with LTX-2 models (LTX-2, 2.3, 2.5); choose one to use LoRAs (LTX-Video 0.9.x models take none here)"
)
NO_CONTROL_REASON = (
    "An IC-LoRA control clip works with distilled LTX-2 models only (LTX-Video 0.9.x models take none); "
    "choose a distilled LTX-2 model"
)
DEV_CONTROL_REASON = (
    "IC-LoRA control runs on distilled weights (as the reference pipeline); this is a dev model: "
    "choose a distilled LTX-2 model"
)
OWN_RECIPE_REASON = (
    "LTX-2 models run their family's own recipe (its steps and guidance); the LTX-Video schedules and "
    "guidance settings do not apply to them"
)


@dataclass(frozen=True)
class ModelChoice:
    """One model as the app offers it."""

    model_id: str
    label: str
    group: str
    approx_bytes: int
    installed: bool
    family: str = LTXV
    is_test_model: bool = False
    # Width and height must be multiples of this (LTX-2's two-stage recipes halve the size first).
    side_multiple: int = 32
    # Distilled weights (the IC-LoRA control recipe runs on these only); dev weights are not.
    distilled: bool = True

    @property
    def makes_sound(self) -> bool:
        return self.family == LTX2

    @property
    def follows_sound(self) -> bool:
        """Whether a sound file can guide it (audio to video)."""
        return self.family == LTX2

    @property
    def uses_pipeline_configs(self) -> bool:
        """Whether the LTX-Video pipeline YAMLs (step schedules) and guidance overrides apply."""
        return self.family == LTXV

    @property
    def takes_loras(self) -> bool:
        return self.family == LTX2

    @property
    def control_unavailable(self) -> str | None:
        """Why an IC-LoRA control clip cannot guide it, or None when one can."""
        if self.family != LTX2:
            return NO_CONTROL_REASON
        return None if self.distilled else DEV_CONTROL_REASON

    @property
    def abilities(self) -> str:
        """What it can do, in a line: 'video with sound · from text, images, clips or a sound'."""
        if self.makes_sound:
            what = "video with sound · from text, images, clips or a sound"
        else:
            what = "silent video · from text, images or clips"
        return f"{what} · noise only (a test model)" if self.is_test_model else what


def human_size(num_bytes: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if num_bytes >= size:
            return f"{num_bytes / size:.1f} {unit}"
    return f"{num_bytes} B"


def _side_multiple(model_id: str, family: str) -> int:
    """64 for LTX-2's two-stage recipes (distilled, or dev with its distilled LoRA), else 32."""
    if family != LTX2:
        return 32
    entry = CATALOG.get(model_id)
    one_stage = entry is not None and entry.variant == "dev" and entry.distilled_lora is None
    return 32 if one_stage else 64


def side_multiple(model_id: str) -> int:
    """The multiple of pixels a model's width and height need, by its id (a catalog id, a test model, a folder)."""
    return _side_multiple(Path(model_id).name, LTX2 if makes_sound(model_id) else LTXV)


def _distilled(model_id: str) -> bool:
    """Whether a model has distilled weights: by the catalog; the test models and unknown folders are
    taken as distilled (the engine refuses a control clip on dev weights with its own sentence)."""
    entry = CATALOG.get(model_id)
    return entry is None or entry.variant == "distilled"


def _group(model_id: str, is_test_model: bool) -> str:
    if is_test_model:
        return TEST_GROUP
    entry = CATALOG.get(model_id)
    return VERSION_GROUPS.get(entry.version, OTHER_GROUP) if entry is not None else OTHER_GROUP


def model_choices() -> list[ModelChoice]:
    """Every model the app knows, in family order (releases oldest first, the test models last)."""
    rows = [
        ModelChoice(
            status.model_id,
            status.label,
            _group(status.model_id, status.is_test_model),
            status.approx_bytes,
            status.installed,
            status.family,
            status.is_test_model,
            _side_multiple(status.model_id, status.family),
            _distilled(status.model_id),
        )
        for status in list_models()
    ]
    order = {group: index for index, group in enumerate(GROUP_ORDER)}
    return sorted(rows, key=lambda row: order.get(row.group, len(order)))  # stable: catalog order within


def choice_for(model_id: str, choices: list[ModelChoice] | None = None) -> ModelChoice:
    """The row of `model_id`; for a model folder or file the app does not list, one made from its name."""
    for choice in choices if choices is not None else model_choices():
        if choice.model_id == model_id:
            return choice
    family = LTX2 if makes_sound(model_id) else LTXV
    return ModelChoice(
        model_id,
        Path(model_id).name,
        OTHER_GROUP,
        0,
        True,
        family,
        False,
        side_multiple(model_id),
        _distilled(Path(model_id).name),
    )
