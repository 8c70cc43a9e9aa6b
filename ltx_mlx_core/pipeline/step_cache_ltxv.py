"""The step cache around the LTX-Video 0.9.x transformer: one denoising step's velocity.

Where each rule's residual starts and ends (as its published implementation has it):
  TeaCache          from the embedded input to the output norm's modulated result (proj_out's input);
                    the probe is the first block's modulated self-attention input.
  first-block cache from the first block's output to the last block's; the first block always runs.
  MagCache          from the embedded input to the last block's output.

With the cache streaming blocks from disk, a step whose branches all reuse their residual reads
no block's weights (TeaCache: only the first block's modulation table, for its probe; the
first-block cache: the first block).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import mlx.core as mx

from ltx_mlx_core.models.common.attention import SkipLayerStrategy
from ltx_mlx_core.models.ltxv.transformer import AfterBlock, LTXVideoTransformer
from ltx_mlx_core.pipeline.step_cache import StepCache, StepRecord, branch_rows, run_branches
from ltx_mlx_core.pipeline.step_cache_rules import CacheRule


def cached_transformer_call(
    transformer: LTXVideoTransformer,
    cache: StepCache,
    step: int,
    branches: Sequence[Hashable],
    latents: mx.array,
    indices_grid: mx.array,
    text_embeds: mx.array,
    text_mask: mx.array | None,
    timestep: mx.array,
    skip_layer_mask: mx.array | None = None,
    skip_layer_strategy: SkipLayerStrategy | None = None,
    after_block: AfterBlock | None = None,
) -> tuple[mx.array, StepRecord]:
    """`transformer(...)` for step `step` (0-based) of the cache's pass, and what the step reused.

    The batch holds one equal group of entries per branch, in the order of `branches` (as the
    guidance batch stacks [uncond, text, perturbed]); each branch decides and caches on its own.
    `after_block` goes to every block run (the pipeline's evaluation at block boundaries).
    """
    hidden, inputs = transformer.embed(
        latents, indices_grid, text_embeds, text_mask, timestep, skip_layer_mask, skip_layer_strategy
    )
    rows = branch_rows(branches, hidden.shape[0])
    layers = len(transformer.transformer_blocks)
    cache.begin_step(step, branches)
    rule = cache.settings.rule

    def rows_of(batch_rows: list[int] | None):
        return inputs if batch_rows is None else inputs.entries(batch_rows)

    if rule is CacheRule.TEACACHE:
        probe = transformer.first_block_modulated_input(hidden, inputs)
        decisions = cache.decide({key: (probe[part],) for key, part in rows.items()})

        def run_rest(x, batch_rows):
            selected = rows_of(batch_rows)
            return (
                transformer.output_features(transformer.run_blocks(x[0], selected, after_block=after_block), selected),
            )

        (features,) = run_branches(cache, decisions, rows, (hidden,), run_rest)
    else:
        first = 0
        start = hidden
        if rule is CacheRule.FIRST_BLOCK:
            first = 1
            start = transformer.run_blocks(hidden, inputs, 0, 1, after_block)
            residual = start - hidden
            decisions = cache.decide({key: (residual[part],) for key, part in rows.items()})
        else:
            decisions = cache.decide()

        def run_rest(x, batch_rows):
            return (transformer.run_blocks(x[0], rows_of(batch_rows), first, layers, after_block),)

        (last,) = run_branches(cache, decisions, rows, (start,), run_rest)
        features = transformer.output_features(last, inputs)
    return transformer.project_out(features), cache.end_step()
