"""Random weights of a catalog model's exact shapes, loadable through the pipeline like installed files.

`ltx-mlx bench` times a model that is not installed with these; the side-by-side benchmark
gives the reference the same shapes. Every component is built in the compute dtype one array
at a time (bench.workloads.randomize_parameters), so loading costs what the real weights would
cost in memory. The prompt tokenizer is the tiny word-level one: prompts are padded to the
config's token count anyway, so the text encoder does the same work as with the real one.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltx_mlx_core.bench.workloads import random_vae, randomize_parameters
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltxv.t5 import T5_XXL, T5Encoder
from ltx_mlx_core.models.ltxv.text_encoding import load_tokenizer
from ltx_mlx_core.models.ltxv.transformer import LTXVideoTransformer
from ltx_mlx_core.models.ltxv.transformer_config import PRESETS
from ltx_mlx_core.models.ltxv.upsampler import LTXV_098_UPSAMPLER_CONFIG, LatentUpsampler, UpsamplerConfig
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder
from ltx_mlx_core.models.ltxv.vae.config import LTXV_098_VAE_CONFIG, VAEConfig
from ltx_mlx_core.weights.components import ComponentShapes
from ltx_mlx_core.weights.quantize import quantize_linear_layers
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.tiny import ModelShapes
from ltx_mlx_core.weights.tiny_tokenizer import write_tiny_t5_tokenizer


@dataclass(frozen=True)
class RandomModelSpec:
    """A model's component shapes and its pipeline YAML."""

    shapes: ModelShapes
    pipeline_config: str


_UPSAMPLER_098 = UpsamplerConfig.from_dict(LTXV_098_UPSAMPLER_CONFIG)


def _spec(preset: str, pipeline_config: str) -> RandomModelSpec:
    shapes = ModelShapes(
        transformer=PRESETS[preset], t5=T5_XXL, vae=dict(LTXV_098_VAE_CONFIG), upsampler=_UPSAMPLER_098
    )
    return RandomModelSpec(shapes, pipeline_config)


# The FP8 checkpoints dequantise on load to the same shapes as the bf16 ones.
MODEL_SHAPES: dict[str, RandomModelSpec] = {
    "ltxv-13b-0.9.8-distilled": _spec("ltxv-13b-0.9.8", "ltxv-13b-0.9.8-distilled.yaml"),
    "ltxv-13b-0.9.8-distilled-fp8": _spec("ltxv-13b-0.9.8", "ltxv-13b-0.9.8-distilled-fp8.yaml"),
    "ltxv-2b-0.9.8-distilled": _spec("ltxv-2b-0.9.8", "ltxv-2b-0.9.8-distilled.yaml"),
    "ltxv-2b-0.9.8-distilled-fp8": _spec("ltxv-2b-0.9.8", "ltxv-2b-0.9.8-distilled-fp8.yaml"),
}


def shapes_of(module: nn.Module) -> dict[str, tuple[int, ...]]:
    # A freshly built module's parameters are unevaluated: reading their shapes allocates nothing.
    return {name: tuple(value.shape) for name, value in tree_flatten(module.parameters())}


def quantize_like_loaders(module: nn.Module, bits: int | None) -> None:
    """Quantise the module's linear layers in place when `bits` is given (as the loaders do)."""
    if bits:
        quantize_linear_layers(module, bits)
        mx.eval(module.parameters())


def refuse_block_streaming(residency: ResidencyMode) -> None:
    """Random weights have no file to read blocks from: a streamed residency is refused, clearly."""
    if residency is ResidencyMode.STREAM_BLOCKS:
        raise InvalidRequest(
            "Random weights have no file to stream transformer blocks from; "
            "choose another residency mode or install the model."
        )


class RandomComponents:
    """A model of `spec`'s shapes with random weights (its output is noise), as `ModelComponents`."""

    def __init__(self, model_id: str, spec: RandomModelSpec, seed: int = 0):
        self.model_id = model_id
        self.model_shapes = spec.shapes
        self.config: str | None = spec.pipeline_config
        # Random stand-ins exist for the LTX-Video 0.9.x family only.
        self.family, self.version, self.variant = "ltxv", "0.9.8", "distilled"
        self.seed = seed
        self._tokenizer_dir: tempfile.TemporaryDirectory | None = None
        self._shapes: ComponentShapes | None = None

    @classmethod
    def for_model(cls, model_id: str, seed: int = 0) -> RandomComponents:
        if model_id not in MODEL_SHAPES:
            raise InvalidRequest(
                f"No known shapes for '{model_id}'; random weights exist for {', '.join(sorted(MODEL_SHAPES))}."
            )
        return cls(model_id, MODEL_SHAPES[model_id], seed)

    @property
    def has_upsampler(self) -> bool:
        return True

    def cache_identity(self) -> tuple[Any, ...]:
        return ("random-weights", self.model_id, self.seed)

    def shapes(self) -> ComponentShapes:
        # Built once, as the LTX-2 random model's: every request's memory plan asks for them.
        if self._shapes is None:
            self._shapes = self._module_shapes()
        return self._shapes

    def _module_shapes(self) -> ComponentShapes:
        return ComponentShapes(
            transformer=shapes_of(LTXVideoTransformer(self.model_shapes.transformer)),
            vae=shapes_of(CausalVideoAutoencoder(VAEConfig.from_dict(self.model_shapes.vae))),
            text_encoder=shapes_of(T5Encoder(self.model_shapes.t5)),
            upsampler=shapes_of(LatentUpsampler(self.model_shapes.upsampler)),
            transformer_config=self.model_shapes.transformer,
        )

    def load_transformer(
        self, dtype: mx.Dtype, quantize_bits: int | None, residency: ResidencyMode
    ) -> LTXVideoTransformer:
        refuse_block_streaming(residency)
        model = LTXVideoTransformer(self.model_shapes.transformer)
        randomize_parameters(model, dtype, seed=self.seed)
        quantize_like_loaders(model, quantize_bits)
        return model

    def load_vae(self, dtype: mx.Dtype) -> CausalVideoAutoencoder:
        return random_vae(dtype, VAEConfig.from_dict(self.model_shapes.vae))

    def load_upsampler(self, dtype: mx.Dtype) -> LatentUpsampler:
        upsampler = LatentUpsampler(self.model_shapes.upsampler)
        randomize_parameters(upsampler, dtype, seed=self.seed + 2)
        return upsampler

    def load_text_encoder(self, dtype: mx.Dtype, quantize_bits: int | None) -> tuple[Any, T5Encoder]:
        if self._tokenizer_dir is None:
            self._tokenizer_dir = tempfile.TemporaryDirectory(prefix="ltx-mlx-bench-tokenizer-")
            write_tiny_t5_tokenizer(Path(self._tokenizer_dir.name))
        encoder = T5Encoder(self.model_shapes.t5)
        randomize_parameters(encoder, dtype, seed=self.seed + 3)
        quantize_like_loaders(encoder, quantize_bits)
        return load_tokenizer(self._tokenizer_dir.name), encoder
