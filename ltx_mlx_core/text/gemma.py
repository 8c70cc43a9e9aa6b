"""Gemma 3 / Gemma 4 text models from a Hugging Face folder, run for all their hidden states.

The model is mlx-lm's (`gemma3_text` / `gemma4_text`); this module only loads it and runs its
layers one by one, because the LTX feature extractors read every hidden state: the scaled token
embeddings, then each layer's output, the last one after the final norm (transformers'
`output_hidden_states=True`, which ties the last entry to the normed output).

Differences from mlx-lm's own forward, each to follow transformers as the references run it:
- the embedding scale sqrt(hidden) is cast to the weights' dtype (mlx-lm's Gemma 3 always rounds
  it through bfloat16: 62.0 instead of 61.97 for Gemma 3 12B in float32);
- prompts are left-padded to a fixed length, so the masks combine causality (or transformers'
  bidirectional "all" mode), the sliding window and the padding; a padded query row that sees no
  key gets a finite mask, so it stays finite instead of turning into NaN.
Positions run 0..L-1 over padding and tokens alike, as in the references.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.text.gemma_config import GemmaSpec, gemma_spec, mlx_lm_gemma

logger = logging.getLogger(__name__)

# LTX-2.5 ships its feature-extractor projection inside the Gemma file.
BUNDLED_PROJECTION_PREFIX = "text_embedding_projection."
# Multimodal towers and projectors that text encoding never runs.
_NOT_LANGUAGE = (
    "vision_tower.",
    "vision_model.",
    "multi_modal_projector.",
    "embed_vision.",
    "embed_audio.",
    "vision_embedder.",
    "audio_tower.",
    "audio_projector.",
)
# Where the language model sits in each layout: multimodal (transformers 4.x, 5.x) and text-only.
_LANGUAGE_PREFIXES = ("language_model.model.", "model.language_model.", "model.")
QUANTIZATION_GROUP_SIZE = 64


class GemmaTextModel(nn.Module):
    """mlx-lm's Gemma text model, evaluated for all hidden states (no logits head)."""

    def __init__(self, spec: GemmaSpec):
        super().__init__()
        self.spec = spec
        gemma3_text, gemma4_text = mlx_lm_gemma()
        if spec.family == "gemma3":
            self.language_model = gemma3_text.Model(spec.args)
            # Logits are never computed: mlx-lm's sanitize drops the head when a file has none.
            self.language_model.sanitize({})
        else:
            self.language_model = gemma4_text.Model(spec.args)

    @property
    def hidden_size(self) -> int:
        return self.spec.hidden_size

    @property
    def num_hidden_states(self) -> int:
        return self.spec.num_hidden_states

    def __call__(self, input_ids: mx.array, attention_mask: mx.array) -> list[mx.array]:
        """All hidden states, each [B, L, hidden]: embeddings, then every layer (the last normed).

        `input_ids` and `attention_mask` are [B, L]; the mask is 1 for tokens and 0 for padding.
        """
        inner = self.language_model.model
        hidden = inner.embed_tokens(input_ids)
        hidden = hidden * mx.array(self.spec.hidden_size**0.5, dtype=mx.float32).astype(hidden.dtype)
        masks = self._masks(attention_mask, hidden.dtype)
        states = [hidden]
        if self.spec.family == "gemma3":
            for layer in inner.layers:
                mask = masks["sliding_attention" if layer.self_attn.is_sliding else "full_attention"]
                hidden = layer(hidden, mask, None)
                states.append(hidden)
        else:
            # Layers past num_kv_shared_layers reuse the keys/values of an earlier layer of their kind.
            shared: list[tuple[Any, Any]] = [(None, None)] * len(inner.layers)
            for index, layer in enumerate(inner.layers):
                kv, offset = shared[inner.previous_kvs[index]]
                hidden, kv, offset = layer(hidden, masks[layer.layer_type], None, shared_kv=kv, offset=offset)
                shared[index] = (kv, offset)
                states.append(hidden)
        states[-1] = inner.norm(hidden)
        return states

    def _masks(self, attention_mask: mx.array, dtype: mx.Dtype) -> dict[str, mx.array]:
        """Additive [B, 1, L, L] masks for the global and the sliding-window layers."""
        length = attention_mask.shape[-1]
        queries = mx.arange(length)[:, None]
        keys = mx.arange(length)[None, :]
        if self.spec.bidirectional:
            # transformers stores window // 2 + 1 and lets a token see that far on either side.
            full = mx.ones((length, length), dtype=mx.bool_)
            sliding = mx.abs(queries - keys) <= self.spec.sliding_window // 2 + 1
        else:
            full = keys <= queries
            sliding = full & (keys > queries - self.spec.sliding_window)
        key_is_token = attention_mask.astype(mx.bool_)[:, None, None, :]
        blocked = mx.array(mx.finfo(dtype).min, dtype=dtype)
        zero = mx.array(0, dtype=dtype)
        return {
            "full_attention": mx.where(full & key_is_token, zero, blocked),
            "sliding_attention": mx.where(sliding & key_is_token, zero, blocked),
        }

    def sanitize(self, weights: dict[str, mx.array]) -> dict[str, mx.array]:
        """Hugging Face keys (any layout) → this module's keys, through mlx-lm's sanitize."""
        language = language_model_weights(weights)
        if self.spec.family == "gemma4":
            language = self.language_model.sanitize(language)
        return {f"language_model.{key}": value for key, value in language.items()}


def language_model_weights(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """The language model's tensors renamed to the text-only layout (`model.layers...`).

    Vision/audio towers, the logits head (tied to the embeddings in Gemma) and a bundled LTX
    projection are left out; any other unknown key is an error.
    """
    language: dict[str, mx.array] = {}
    unknown = []
    for key, value in weights.items():
        bare = key.removeprefix("model.")
        if bare.startswith(_NOT_LANGUAGE) or key.startswith(BUNDLED_PROJECTION_PREFIX):
            continue
        if key.startswith(("lm_head.", "language_model.lm_head.")):
            continue
        prefix = next((p for p in _LANGUAGE_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            unknown.append(key)
        else:
            language["model." + key[len(prefix) :]] = value
    if unknown:
        raise CheckpointError(f"The Gemma weights have keys of no known layout: {', '.join(sorted(unknown)[:5])}")
    return language


def read_gemma_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, mx.array]]:
    """config.json and every tensor of the folder's safetensors files."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"'{folder}' has no config.json: it is not a Gemma model folder.")
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"'{folder}' has no .safetensors weights.")
    config = json.loads(config_path.read_text())
    weights: dict[str, mx.array] = {}
    for path in files:
        weights.update(mx.load(str(path)))
    return config, weights


def load_gemma(folder: str | Path, dtype: mx.Dtype = mx.bfloat16) -> GemmaTextModel:
    """The Gemma text model of a Hugging Face folder, its floating weights cast to `dtype`."""
    config, weights = read_gemma_folder(folder)
    model = GemmaTextModel(gemma_spec(config))
    sanitized = model.sanitize(weights)
    cast = {k: v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) else v for k, v in sanitized.items()}
    try:
        model.load_weights(list(cast.items()), strict=True)
    except ValueError as error:
        raise CheckpointError(f"The Gemma weights in '{folder}' do not fit its config.json: {error}") from None
    logger.info(
        "Gemma (%s) loaded from %s: %d layers, width %d",
        model.spec.family,
        folder,
        model.spec.args.num_hidden_layers,
        model.hidden_size,
    )
    return model


def bundled_projection(folder: str | Path) -> dict[str, mx.array]:
    """The `text_embedding_projection.*` tensors a Gemma folder carries (LTX-2.5), prefix kept; may be empty."""
    _, weights = read_gemma_folder(folder)
    return {k: v for k, v in weights.items() if k.startswith(BUNDLED_PROJECTION_PREFIX)}


def quantize_gemma(model: GemmaTextModel, bits: int, group_size: int = QUANTIZATION_GROUP_SIZE) -> None:
    """Affine-quantise the linear layers and the token embedding (`mlx.nn.quantize`), norms stay as they are."""
    if bits not in (4, 8):
        raise ValueError(f"Gemma quantisation takes 4 or 8 bits; got {bits}.")

    def quantizable(_: str, module: nn.Module) -> bool:
        return isinstance(module, (nn.Linear, nn.Embedding)) and module.weight.shape[-1] % group_size == 0

    nn.quantize(model, group_size=group_size, bits=bits, class_predicate=quantizable)
