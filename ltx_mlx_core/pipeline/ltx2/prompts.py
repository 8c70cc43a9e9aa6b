"""A request's prompts -> the LTX-2 core's prompt embeddings, through the process's prompt cache.

On a miss, Gemma is loaded (quantised as the memory plan says) and runs the prompt (and the negative
one when the recipe guides with it) in one batch; it is freed before the text connectors load and
turn its hidden states into embeddings, and they are freed before returning, so no two of Gemma, the
connectors and the transformer share memory.
"""

from __future__ import annotations

import logging

import mlx.core as mx

from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.ltx2.prompt_cache import PROMPT_CACHE, PromptCache
from ltx_mlx_core.pipeline.ltx2.recipe import LTX2Recipe
from ltx_mlx_core.pipeline.memory_estimate import MemoryPlan
from ltx_mlx_core.pipeline.release import nbytes, release_memory
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.text.ltx2_prompt import embed_states, gemma_states
from ltx_mlx_core.weights.components import LTX2Components
from ltx_mlx_core.weights.residency import ResidencyMode

log = logging.getLogger(__name__)


def cache_key(components: LTX2Components, prompt: str, dtype: mx.Dtype, bits: int | None) -> tuple:
    return ("ltx2", components.model_id, *components.cache_identity(), str(dtype), bits, prompt)


def _one(video: mx.array, audio: mx.array | None, index: int) -> PromptEmbeddings:
    # The reference pipelines hand the transformer the connectors' outputs without a mask: the
    # connectors have already replaced padding with learned registers.
    return PromptEmbeddings(video[index : index + 1], None if audio is None else audio[index : index + 1])


def encode_prompts(
    request: GenerationRequest,
    components: LTX2Components,
    recipe: LTX2Recipe,
    plan: MemoryPlan,
    cache: PromptCache = PROMPT_CACHE,
) -> tuple[PromptEmbeddings, PromptEmbeddings | None]:
    """(positive, negative or None) for the request; Gemma runs only for prompts not cached."""
    if plan.residency is not ResidencyMode.RESIDENT:
        cache.clear()  # memory is short: the embeddings of other prompts are not worth keeping
    prompts = [request.prompt] + ([request.negative_prompt] if recipe.uses_negative else [])
    keys = [cache_key(components, text, recipe.dtype, plan.quantize_bits) for text in prompts]
    found = [cache.get(key) for key in keys]
    missing = [text for text, hit in zip(prompts, found) if hit is None]
    if missing:
        before = mx.get_active_memory()
        tokenizer, gemma = components.load_text_encoder(recipe.dtype, plan.quantize_bits)
        states = gemma_states(missing, tokenizer, gemma)
        mx.eval(states.hidden_states)
        tokenizer = gemma = None  # noqa: F841  (freed before the text connectors load)
        release_memory(before + nbytes([*states.hidden_states, states.attention_mask]))
        processor = components.load_embeddings_processor(recipe.dtype)
        encoded = embed_states(states, processor)
        mx.eval(encoded.video, *([] if encoded.audio is None else [encoded.audio]))
        states = processor = None  # noqa: F841  (freed before the transformer loads)
        release_memory(before + nbytes([encoded.video, encoded.audio, encoded.attention_mask]))
        fresh = iter(range(len(missing)))
        for position, hit in enumerate(found):
            if hit is None:
                found[position] = _one(encoded.video, encoded.audio, next(fresh))
                cache.put(keys[position], found[position])
        log.info("encoded %d prompt(s) with Gemma (%d from the cache)", len(missing), len(prompts) - len(missing))
    else:
        log.info("prompt embeddings from the cache: Gemma not loaded")
    return found[0], (found[1] if len(found) > 1 else None)
