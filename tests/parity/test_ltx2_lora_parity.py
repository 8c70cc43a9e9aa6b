"""A LoRA'd LTX-2 transformer matches ltx-core's, fused by ltx-core's own loader from the same files.

The reference: a tiny random `LTXModel` saved as an official single-file checkpoint (bfloat16,
since ltx-core fuses only into bfloat16 or fp8 weights), two LoRA files in the official naming
(`diffusion_model.<path>.lora_A/B.weight`; one on every linear layer, video, audio and the
audio-video cross-attentions and AdaLN tables, one on a subset with another rank), fused by
ltx-core's `SingleGPUModelBuilder(...).lora(...)` into float32 weights (its `apply_loras`:
float32 deltas + the bfloat16 weights). Ours: the same checkpoint through our key map in float32
(the bfloat16 values held exactly), the same files through our reader and fusion. Error =
max|ours - reference| / max|reference|, per stream (video, audio).

Measured on the CPU backend (mlx 0.32.4, torch 2.13 CPU):
  fused weights (worst linear layer): LTX-2 2.0e-7, LTX-2.3 1.8e-7 (ltx-core sums the scaled
      products before adding the weight, we add them to the weight one by one);
  velocities, video / audio: LTX-2 4.2e-6 / 3.3e-6, LTX-2.3 5.1e-6 / 2.8e-6.
  The LoRAs move the velocities by 1.1 / 1.05 (LTX-2) and 1.9 / 1.6 (LTX-2.3) of their scale,
  so what matches is the LoRAs' effect, not an unchanged model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlx.core as mx
import pytest
import torch
from mlx.utils import tree_flatten
from safetensors.torch import save_file

# The torchaudio stand-in goes in before anything of ltx_core is imported.
from tests.parity import ltx2_reference  # noqa: F401

# isort: split
from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps, SingleGPUModelBuilder
from ltx_core.model.transformer import LTXV_MODEL_COMFY_RENAMING_MAP, LTXModelConfigurator

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.keys import load_transformer, sanitize
from ltx_mlx_core.weights.lora_mapping import LoraSpec, lora_files_applied, ltx2_transformer_component
from tests.parity.conftest import relative_max_error
from tests.parity.ltx2_transformer_helpers import (
    OFFICIAL_PREFIX,
    TINY_LTX2,
    TINY_LTX23,
    audio_bounds,
    build_reference,
    official_weights,
    stream_inputs,
    video_bounds,
)

BOUND = 1e-4
STRENGTHS = (0.8, -0.6)
_PROBE = mx.zeros((0,))


def _linear_modules(model: torch.nn.Module) -> dict[str, torch.nn.Linear]:
    return {name: module for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


def _write_loras(reference: torch.nn.Module, folder: Path) -> list[Path]:
    """One LoRA on every linear layer (rank 4), one on every third, audio ones included (rank 2)."""
    generator = torch.Generator().manual_seed(7)
    linears = _linear_modules(reference)
    subsets = [list(linears), [name for name in linears if "audio" in name or "av_ca" in name][::3]]
    paths = []
    for index, (names, rank) in enumerate(zip(subsets, (4, 2))):
        tensors = {}
        for name in names:
            out_features, in_features = linears[name].weight.shape
            down = torch.randn(rank, in_features, generator=generator) * in_features**-0.5
            up = torch.randn(out_features, rank, generator=generator) * rank**-0.5
            tensors[f"diffusion_model.{name}.lora_A.weight"] = down.contiguous()
            tensors[f"diffusion_model.{name}.lora_B.weight"] = up.contiguous()
        paths.append(folder / f"lora_{index}.safetensors")
        save_file(tensors, str(paths[-1]))
    assert any("audio_to_video_attn" in name for name in subsets[1]) and any("audio_ff" in name for name in subsets[1])
    return paths


def _inputs(config: dict[str, Any]):
    generator = torch.Generator().manual_seed(1)
    separate_text = config.get("caption_proj_before_connector", False)
    video = stream_inputs(
        generator,
        video_bounds(2, 2, 3, 4, fps=24.0),
        config["in_channels"],
        config["cross_attention_dim"] if separate_text else config["caption_channels"],
        torch.tensor([0.7, 0.3]),
        per_token=True,
        text_mask=True,
    )
    audio = stream_inputs(
        generator,
        audio_bounds(2, 7),
        config["audio_in_channels"],
        config["audio_cross_attention_dim"] if separate_text else config["caption_channels"],
        torch.tensor([0.6, 0.2]),
        per_token=False,
        text_mask=True,
    )
    return video, audio


@pytest.mark.parametrize("config", [TINY_LTX2, TINY_LTX23], ids=["ltx2", "ltx23"])
def test_fused_transformer_matches_ltx_core_fusion(config: dict[str, Any], tmp_path: Path) -> None:
    state = {name: tensor.to(torch.bfloat16) for name, tensor in build_reference(config).state_dict().items()}
    checkpoint = tmp_path / "model.safetensors"
    save_file(
        {OFFICIAL_PREFIX + name: tensor.contiguous() for name, tensor in state.items()},
        str(checkpoint),
        metadata={"config": json.dumps({"transformer": config})},
    )
    plain_reference = build_reference(config)
    plain_reference.load_state_dict({name: tensor.float() for name, tensor in state.items()})
    lora_files = _write_loras(plain_reference, tmp_path)

    builder = SingleGPUModelBuilder(
        model_class_configurator=LTXModelConfigurator,
        model_path=str(checkpoint),
        model_sd_ops=LTXV_MODEL_COMFY_RENAMING_MAP,
        loras=tuple(
            LoraPathStrengthAndSDOps(str(path), strength, LTXV_LORA_COMFY_RENAMING_MAP)
            for path, strength in zip(lora_files, STRENGTHS)
        ),
    )
    # With its default registry ltx-core leaves the tensors no LoRA touches in the file's bfloat16;
    # the cast to float32 is exact and leaves the fused float32 weights as they are.
    reference = builder.build(device=torch.device("cpu"), dtype=torch.float32).to(torch.float32).eval()

    ours = load_transformer(official_weights(state), LTX2Config.from_dict({"transformer": config}), dtype=mx.float32)
    video, audio = _inputs(config)
    with torch.no_grad():
        expected = reference(video.reference, audio.reference, None)
        unadapted = plain_reference(video.reference, audio.reference, None)
    specs = [LoraSpec(path, strength) for path, strength in zip(lora_files, STRENGTHS)]
    with lora_files_applied(specs, [ltx2_transformer_component(ours)]) as applied:
        assert applied.layers == len(_linear_modules(plain_reference))
        fused = dict(tree_flatten(ours.parameters()))
        reference_state = reference.state_dict()
        weight_errors = []
        for name in _linear_modules(plain_reference):
            (ours_name,) = sanitize({f"{OFFICIAL_PREFIX}{name}.weight": _PROBE})
            weight_errors.append(relative_max_error(fused[ours_name], reference_state[f"{name}.weight"]))
        assert max(weight_errors) <= 1e-6, max(weight_errors)
        result = ours(video.ours, audio.ours)
    errors = [relative_max_error(mine, theirs) for mine, theirs in zip(result, expected)]
    assert max(errors) <= BOUND, errors
    effects = [relative_max_error(theirs, plain) for theirs, plain in zip(expected, unadapted)]
    assert min(effects) > 0.3, effects
