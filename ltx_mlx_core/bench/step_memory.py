"""Measuring a transformer step's memory: the whole step against the same step with one block.

Both are peaks above what was allocated before (weights, inputs), read with MLX's peak counter.
A step that frees each block's intermediates before the next block's holds about what the
one-block step holds, however many blocks it has; tools/measure_step_memory.py reports both per
model, and the tests hold the ratio to a bound so that intermediates kept alive per block show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import mlx.core as mx

from ltx_mlx_core.bench.workloads import randomize_parameters
from ltx_mlx_core.models.ltx2.config import PRESETS as LTX2_PRESETS
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_config import PRESETS as LTXV_PRESETS

# The memory tools' model names: (family, preset).
STEP_MODELS = {
    "ltxv-2b": ("ltxv", "ltxv-2b-0.9.8"),
    "ltxv-13b": ("ltxv", "ltxv-13b-0.9.8"),
    "ltx-2.3-22b": ("ltx2", "ltx-2.3-22b"),
}


def random_step_model(
    name: str, layers: int | None, dtype: mx.Dtype
) -> tuple[str, LTXVideoTransformer | LTX2Transformer]:
    """(family, transformer) of STEP_MODELS[name]'s shapes with random weights, `layers` blocks if given."""
    family, preset = STEP_MODELS[name]
    config = (LTXV_PRESETS if family == "ltxv" else LTX2_PRESETS)[preset]
    if layers:
        config = dataclasses.replace(config, num_layers=layers)
    model = LTXVideoTransformer(config) if family == "ltxv" else LTX2Transformer(config)
    randomize_parameters(model, dtype)
    return family, model


def peak_above_resident(run: Callable[[], Any], warmup: int = 1) -> int:
    """Bytes `run`'s evaluation needs beyond what is allocated before it (after `warmup` untimed runs)."""
    for _ in range(warmup):
        mx.eval(run())
    mx.synchronize()
    mx.clear_cache()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    mx.eval(run())
    mx.synchronize()
    return int(mx.get_peak_memory() - before)


def one_block_step(model: LTXVideoTransformer | LTX2Transformer, inputs: tuple) -> Callable[[], Any]:
    """The step with its first block alone (embedding, one block, output projection): what a step
    would hold if no block's intermediates outlived the block. `inputs` are the model's positional
    arguments (the LTX-Video forward's, or (video, audio) for LTX-2)."""
    if isinstance(model, LTXVideoTransformer):

        def ltxv_step() -> mx.array:
            hidden, block_inputs = model.embed(*inputs)
            return model.project_out(model.output_features(model.run_blocks(hidden, block_inputs, 0, 1), block_inputs))

        return ltxv_step

    def ltx2_step() -> tuple[mx.array | None, mx.array | None]:
        prepared = model.prepare(*inputs)
        return model.outputs(prepared, *model.run_blocks(prepared, prepared.video_x, prepared.audio_x, 0, 1))

    return ltx2_step
