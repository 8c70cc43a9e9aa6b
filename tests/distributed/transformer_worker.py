"""One rank of the transformer-level parallel tests (run under `mlx.launch`, see test_transformer_parallel.py).

Every rank builds the same random tiny transformer (one seed), computes the single-process
output itself, then the tensor-parallel output (a copy with the attentions and feed-forwards
sharded over the group) and the sequence-parallel output (a copy run on its share of the tokens),
and writes its errors and parameter bytes as JSON to OUT_DIR/rank{r}.json.

    python transformer_worker.py ltxv|ltx2 OUT_DIR
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten

from ltx_mlx_core.distributed.sequence_parallel import SequenceParallelLTX2, SequenceParallelLTXV
from ltx_mlx_core.distributed.tensor_parallel import materialise_one_by_one, shard_transformer, transformer_bytes
from ltx_mlx_core.models.common.attention import SkipLayerStrategy
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer, ModalityInput
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer, TransformerConfig
from ltx_mlx_core.weights.tiny_ltx2 import TINY_LTX2_TRANSFORMER

# Token counts that do not divide by 2 (or 4): the sequence split pads the last rank.
LTXV_TOKENS = 45
LTX2_VIDEO_TOKENS, LTX2_AUDIO_TOKENS = 27, 8
LTXV_CONFIG = TransformerConfig(
    num_attention_heads=4, attention_head_dim=16, num_layers=2, cross_attention_dim=64, caption_channels=32
)


# The parameters tensor parallel splits (checkpoint-independent module names, both families).
SPLIT = re.compile(
    r".*(attn1|attn2|audio_to_video_attn|video_to_audio_attn)\.(to_[qkv]\.(weight|bias)|to_out\.weight|"
    r"[qk]_norm\.weight|to_gate_logits\.(weight|bias))$|.*ff\.(proj_in\.(weight|bias)|proj_out\.weight)$"
)


def split_bytes(model) -> int:
    return sum(p.nbytes for name, p in tree_flatten(model.parameters()) if SPLIT.fullmatch(name))


def relative_error(ours: mx.array, reference: mx.array) -> float:
    ours, reference = np.array(ours.astype(mx.float32)), np.array(reference.astype(mx.float32))
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def _ltxv_model():
    mx.random.seed(1)
    model = LTXVideoTransformer(LTXV_CONFIG)
    # The tables start at zero; random ones make every modulation path count.
    model.update({"scale_shift_table": mx.random.normal((2, 64)) * 0.1})
    for block in model.transformer_blocks:
        block.scale_shift_table = mx.random.normal(block.scale_shift_table.shape) * 0.1
    mx.eval(model.parameters())
    return model


def _ltxv_inputs():
    key = mx.random.key(2)
    k1, k2, k3 = mx.random.split(key, 3)
    batch, tokens = 2, LTXV_TOKENS
    latents = mx.random.normal((batch, tokens, 128), key=k1)
    grid = mx.stack(mx.meshgrid(mx.arange(5), mx.arange(3), mx.arange(3), indexing="ij")).reshape(1, 3, -1)
    grid = mx.broadcast_to(grid.astype(mx.float32) * mx.array([1 / 25, 32, 32])[None, :, None], (batch, 3, tokens))
    text = mx.random.normal((batch, 6, 32), key=k2)
    text_mask = mx.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    timestep = mx.where(mx.arange(tokens) < 9, 0.0, 0.7)[None].astype(mx.float32) * mx.ones((batch, 1))
    return latents, grid, text, text_mask, timestep


def run_ltxv(group) -> dict:
    reference_model = _ltxv_model()
    latents, grid, text, text_mask, timestep = _ltxv_inputs()
    skip = reference_model.create_skip_layer_mask(1, 2, 1, [1])  # STG on entry 1, block 1
    arguments = (latents, grid, text, text_mask, timestep, skip, SkipLayerStrategy.AttentionValues)
    reference = reference_model(*arguments)

    tensor_model = LTXVideoTransformer(LTXV_CONFIG)
    tensor_model.update(reference_model.parameters())
    shard_transformer(tensor_model, group)
    materialise_one_by_one(tensor_model)
    tensor = tensor_model(*arguments)

    sequence_model = LTXVideoTransformer(LTXV_CONFIG)
    sequence_model.update(reference_model.parameters())
    sequence = SequenceParallelLTXV(sequence_model, group)(*arguments)
    return {
        "tensor_error": relative_error(tensor, reference),
        "sequence_error": relative_error(sequence, reference),
        "full_bytes": transformer_bytes(reference_model),
        "split_bytes": split_bytes(reference_model),
        "rank_bytes": transformer_bytes(tensor_model),
    }


def _ltx2_model():
    mx.random.seed(3)
    model = LTX2Transformer(LTX2Config.from_dict({"transformer": TINY_LTX2_TRANSFORMER}))
    tables = {name: mx.random.normal(value.shape) * 0.1 for name, value in _tables(model)}
    model.load_weights(list(tables.items()), strict=False)
    mx.eval(model.parameters())
    return model


def _tables(model):
    return [(name, value) for name, value in tree_flatten(model.parameters()) if "scale_shift_table" in name]


def _ltx2_inputs() -> tuple[ModalityInput, ModalityInput]:
    k1, k2, k3, k4, k5 = mx.random.split(mx.random.key(4), 5)
    batch, tokens, audio_tokens = 1, LTX2_VIDEO_TOKENS, LTX2_AUDIO_TOKENS
    grid = mx.stack(mx.meshgrid(mx.arange(3), mx.arange(3), mx.arange(3), indexing="ij")).reshape(1, 3, -1, 1)
    starts = grid.astype(mx.float32) * mx.array([0.3, 32, 32])[None, :, None, None]
    video_positions = mx.concatenate([starts, starts + mx.array([0.3, 32, 32])[None, :, None, None]], axis=-1)
    audio_starts = (mx.arange(audio_tokens).astype(mx.float32) * 0.1).reshape(1, 1, -1, 1)
    audio_positions = mx.concatenate([audio_starts, audio_starts + 0.1], axis=-1)
    sigma = mx.array([0.6])
    strengths = mx.random.uniform(shape=(batch, tokens, tokens), key=k5)
    video = ModalityInput(
        latent=mx.random.normal((batch, tokens, 8), key=k1),
        sigma=sigma,
        timesteps=mx.where(mx.arange(tokens) < 9, 0.0, 0.6)[None].astype(mx.float32),
        positions=video_positions,
        context=mx.random.normal((batch, 5, 56), key=k2),
        context_mask=mx.array([[1, 1, 1, 0, 0]]),
        attention_mask=strengths,
    )
    audio = ModalityInput(
        latent=mx.random.normal((batch, audio_tokens, 16), key=k3),
        sigma=sigma,
        timesteps=mx.full((batch, audio_tokens), 0.6),
        positions=audio_positions,
        context=mx.random.normal((batch, 5, 32), key=k4),
    )
    return video, audio


def run_ltx2(group) -> dict:
    reference_model = _ltx2_model()
    video, audio = _ltx2_inputs()
    reference = reference_model(video, audio)

    tensor_model = LTX2Transformer(reference_model.config)
    tensor_model.update(reference_model.parameters())
    shard_transformer(tensor_model, group)
    materialise_one_by_one(tensor_model)
    tensor = tensor_model(video, audio)

    sequence_model = LTX2Transformer(reference_model.config)
    sequence_model.update(reference_model.parameters())
    sequence = SequenceParallelLTX2(sequence_model, group)(video, audio)
    return {
        "tensor_error": max(relative_error(t, r) for t, r in zip(tensor, reference)),
        "sequence_error": max(relative_error(s, r) for s, r in zip(sequence, reference)),
        "full_bytes": transformer_bytes(reference_model),
        "split_bytes": split_bytes(reference_model),
        "rank_bytes": transformer_bytes(tensor_model),
    }


def main() -> None:
    family, out_dir = sys.argv[1], Path(sys.argv[2])
    mx.set_default_device(mx.cpu)
    group = mx.distributed.init()
    report = run_ltxv(group) if family == "ltxv" else run_ltx2(group)
    report.update(rank=group.rank(), size=group.size())
    (out_dir / f"rank{group.rank()}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
