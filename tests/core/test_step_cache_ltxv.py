"""The LTX-Video 0.9.x transformer's step-cache hooks: the split forward is the forward; sub-batches are rows."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

from ltx_mlx_core.models.common.attention import SkipLayerStrategy
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, TransformerConfig
from ltx_mlx_core.pipeline.step_cache import StepCache
from ltx_mlx_core.pipeline.step_cache_ltxv import cached_transformer_call
from ltx_mlx_core.pipeline.step_cache_rules import CacheRule, StepCacheSettings

CONFIG = dict(num_attention_heads=2, attention_head_dim=8, in_channels=8, out_channels=8, num_layers=3,
              cross_attention_dim=16, caption_channels=12)  # fmt: skip


def _model(**changes) -> LTXVideoTransformer:
    model = LTXVideoTransformer(TransformerConfig(**{**CONFIG, **changes}))
    parameters = tree_flatten(model.parameters())
    keys = mx.random.split(mx.random.key(0), len(parameters))
    model.update(tree_unflatten([
        (name, value + 0.2 * mx.random.normal(value.shape, key=k)) for (name, value), k in zip(parameters, keys)
    ]))  # fmt: skip
    mx.eval(model.parameters())
    return model


def _inputs(batch: int, per_token: bool = False, seed: int = 1):
    keys = mx.random.split(mx.random.key(seed), 3)
    tokens, length = 12, 5
    coords = mx.broadcast_to(mx.random.uniform(0, 64, (1, 3, tokens), key=keys[0]), (batch, 3, tokens))
    mask = mx.array(np.array([[1, 1, 1, 0, 0]] * batch))
    timestep = mx.random.uniform(0, 1, (batch, tokens if per_token else 1), key=keys[2])
    latents = mx.random.normal((batch, tokens, 8), key=keys[1])
    text = mx.random.normal((batch, length, 12), key=keys[2])
    return latents, coords, text, mask, timestep


@pytest.mark.parametrize("strategy", [None, *SkipLayerStrategy], ids=lambda s: getattr(s, "name", "none"))
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {
            "adaptive_norm": "single_scale",
            "standardization_norm": "layer_norm",
            "norm_elementwise_affine": True,
        },
    ],
    ids=["ltxv", "single_scale_affine"],
)
def test_split_forward_is_bit_identical_to_the_forward(strategy, changes):
    model = _model(**changes)
    latents, coords, text, mask, timestep = _inputs(3, per_token=True)
    skip = None if strategy is None else model.create_skip_layer_mask(1, 3, 2, [1])
    plain = model(latents, coords, text, mask, timestep, skip, strategy)
    hidden, inputs = model.embed(latents, coords, text, mask, timestep, skip, strategy)
    first = model.run_blocks(hidden, inputs, 0, 1)
    split = model.project_out(model.output_features(model.run_blocks(first, inputs, 1), inputs))
    assert np.array_equal(np.array(plain), np.array(split))
    # TeaCache's probe is the first block's own modulated input.
    probe = model.first_block_modulated_input(hidden, inputs)
    assert probe.shape == hidden.shape and not np.array_equal(np.array(probe), np.array(hidden))


def test_a_sub_batch_of_entries_is_those_rows_of_the_batch():
    model = _model()
    latents, coords, text, mask, timestep = _inputs(3, per_token=True)
    skip = model.create_skip_layer_mask(1, 3, 2, [0, 2])
    strategy = SkipLayerStrategy.AttentionValues
    whole = model(latents, coords, text, mask, timestep, skip, strategy)
    hidden, inputs = model.embed(latents, coords, text, mask, timestep, skip, strategy)
    rows = [2, 0]
    selected = inputs.entries(rows)
    part = model.project_out(model.output_features(model.run_blocks(hidden[mx.array(rows)], selected), selected))
    np.testing.assert_allclose(np.array(part), np.array(whole)[rows], rtol=1e-5, atol=1e-5)


def test_a_branch_that_must_compute_runs_alone_with_its_stg_mask():
    """Uncond and text reuse (no change); the perturbed branch, new this step, computes alone."""
    model = _model()
    cache = StepCache(StepCacheSettings(CacheRule.FIRST_BLOCK, 1e6, compute_last_step=False), 5)
    latents, coords, text, mask, timestep = _inputs(1)
    two = [mx.concatenate([x] * 2) for x in (latents, coords, text, mask, timestep)]
    cached_transformer_call(model, cache, 0, ["uncond", "text"], *two)
    three = [mx.concatenate([x] * 3) for x in (latents, coords, text, mask, timestep)]
    skip = model.create_skip_layer_mask(1, 3, 2, [1])
    strategy = SkipLayerStrategy.AttentionValues
    out, record = cached_transformer_call(model, cache, 1, ["uncond", "text", "perturbed@1"], *three, skip, strategy)
    assert record.computed == ("perturbed@1",) and record.reused == ("uncond", "text")
    plain = model(*three, skip, strategy)
    # The same inputs as step 0: reusing is exact up to rounding, and the perturbed row is its own.
    np.testing.assert_allclose(np.array(out), np.array(plain), rtol=1e-5, atol=1e-5)
    assert not np.allclose(np.array(plain)[2], np.array(plain)[1], atol=1e-3)
