"""Prompt → LTX-2 family prompt embeddings: tokenizer → Gemma hidden states → feature extractor → connectors.

The path of ltx-core's `encode_prompts` (GemmaTextEncoder.encode, then
EmbeddingsProcessor.process_hidden_states) and of diffusers' LTX-2 pipelines (`encode_prompt`,
then `connectors`). The references encode prompts one at a time (ltx-core) or batched (diffusers);
both pad every prompt to the same fixed length and Gemma's positions count the padding, so a batch
gives each prompt the embeddings it gets alone. `gemma_states` and `embed_states` are the two halves,
so that Gemma can be freed before the text connectors load (they are as large as a 4-bit Gemma).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.models.ltx2.embeddings_processor import EmbeddingsProcessor, PromptEmbeddings
from ltx_mlx_core.text.gemma import GemmaTextModel
from ltx_mlx_core.text.gemma_tokenizer import GemmaTokenizer


@dataclass(frozen=True)
class GemmaStates:
    """Gemma's hidden states of a batch of prompts, what the text connectors read once Gemma is gone."""

    hidden_states: list[mx.array]
    attention_mask: mx.array
    padding_side: str
    hidden_size: int
    num_hidden_states: int


def check_compatible(tokenizer: GemmaTokenizer, gemma: GemmaTextModel, processor: EmbeddingsProcessor) -> None:
    """Refuse parts that do not belong together, with a sentence saying which."""
    check_tokenizer(tokenizer, gemma)
    check_projection(processor, gemma.hidden_size, gemma.num_hidden_states)


def check_tokenizer(tokenizer: GemmaTokenizer, gemma: GemmaTextModel) -> None:
    vocabulary = gemma.spec.args.vocab_size
    if len(tokenizer) > vocabulary:
        raise CheckpointError(
            f"The tokenizer has {len(tokenizer)} tokens but the Gemma model embeds only {vocabulary}; "
            "they do not belong together."
        )


def check_projection(processor: EmbeddingsProcessor, hidden_size: int, num_hidden_states: int) -> None:
    extractor = processor.feature_extractor
    projection = extractor["aggregate_embed" if "aggregate_embed" in extractor else "video_aggregate_embed"]
    expected = hidden_size * num_hidden_states
    # Quantised projections pack their input axis; the scales keep one entry per group.
    width = projection.weight.shape[-1] * (32 // projection.bits if hasattr(projection, "bits") else 1)
    if width != expected:
        raise CheckpointError(
            f"The text projection reads {width} features per token, but this Gemma gives "
            f"{num_hidden_states} states of {hidden_size} = {expected}: the text encoder "
            "does not belong to this LTX model."
        )


def gemma_states(prompts: Sequence[str] | str, tokenizer: GemmaTokenizer, gemma: GemmaTextModel) -> GemmaStates:
    """The first half of `encode_prompt`: tokens through Gemma (unevaluated)."""
    check_tokenizer(tokenizer, gemma)
    tokens = tokenizer(prompts)
    hidden_states = gemma(tokens.input_ids, tokens.attention_mask)
    return GemmaStates(
        hidden_states, tokens.attention_mask, tokens.padding_side, gemma.hidden_size, gemma.num_hidden_states
    )


def embed_states(states: GemmaStates, processor: EmbeddingsProcessor) -> PromptEmbeddings:
    """The second half: Gemma's states through the feature extractor and connectors (unevaluated)."""
    check_projection(processor, states.hidden_size, states.num_hidden_states)
    return processor(states.hidden_states, states.attention_mask, states.padding_side)


def encode_prompt(
    prompts: Sequence[str] | str,
    tokenizer: GemmaTokenizer,
    gemma: GemmaTextModel,
    processor: EmbeddingsProcessor,
) -> PromptEmbeddings:
    """Video (and audio) prompt embeddings [B, max_length, width] with their mask; unevaluated."""
    check_compatible(tokenizer, gemma, processor)
    return embed_states(gemma_states(prompts, tokenizer, gemma), processor)
