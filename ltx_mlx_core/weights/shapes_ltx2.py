"""Tensor shapes of every LTX-2 family component, from file headers only (what memory plans need).

Names are each component's own (prefixes removed), so `transformer_blocks.*` marks the streamable
blocks; FP8 scales are left out (a dequantised model has none). A model that is not on this
machine is sized from the released configs (ltx2_full_size).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.embeddings_processor import PROJECTION_PREFIX
from ltx_mlx_core.models.ltx2.keys import OFFICIAL_PREFIX, is_transformer_key
from ltx_mlx_core.weights import layout_ltx2, layout_ltx2_diffusers
from ltx_mlx_core.weights.fp8 import DROPPED_SUFFIXES, SCALE_SUFFIXES
from ltx_mlx_core.weights.layout_gemma import bundled_projection_keys, gemma_shapes, gemma_source
from ltx_mlx_core.weights.layout_hf_t5 import sharded_files
from ltx_mlx_core.weights.ltx2_full_size import component_shapes, full_size
from ltx_mlx_core.weights.model_files import ModelFiles
from ltx_mlx_core.weights.safetensors_io import read_header

Shapes = dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class LTX2ComponentShapes:
    """Per component {tensor: shape}; the transformer config sizes its activations."""

    gemma: Shapes
    text_path: Shapes
    transformer: Shapes
    video_vae: Shapes
    audio_vae: Shapes
    vocoder: Shapes
    upsampler: Shapes
    transformer_config: LTX2Config


def _drop_scales(shapes: Shapes) -> Shapes:
    return {k: v for k, v in shapes.items() if not k.endswith(SCALE_SUFFIXES + DROPPED_SUFFIXES)}


def _header_shapes(paths: Iterable[Path], keep=lambda name: True, prefix: str = "") -> Shapes:
    shapes: Shapes = {}
    for path in paths:
        header = read_header(path)
        shapes.update({name.removeprefix(prefix): info.shape for name, info in header.tensors.items() if keep(name)})
    return _drop_scales(shapes)


def _component(path: Path, prefix: str) -> Shapes:
    header = read_header(path)
    keys = set(layout_ltx2.component_keys(header, prefix))
    return _header_shapes([path], lambda name: name in keys, prefix)


def ltx2_shapes(files: ModelFiles) -> LTX2ComponentShapes:
    """Every component's shapes from the headers of an installed model's files."""
    source = gemma_source(files.text_encoder_dir)
    gemma = gemma_shapes(source)
    upsampler: Shapes = {}
    if files.upsampler is not None:
        path = Path(files.upsampler)
        upsampler = _header_shapes(
            sharded_files(path, layout_ltx2_diffusers.WEIGHTS_INDEX) if path.is_dir() else [path]
        )
    root = Path(files.checkpoint)
    if root.is_dir():

        def folder(part: str) -> Shapes:
            return _header_shapes(sharded_files(root / part, layout_ltx2_diffusers.WEIGHTS_INDEX))

        return LTX2ComponentShapes(
            gemma,
            folder("connectors"),
            folder("transformer"),
            folder("vae"),
            folder("audio_vae"),
            folder("vocoder"),
            upsampler,
            layout_ltx2_diffusers.transformer_config(root),
        )
    header = read_header(root)
    transformer = _header_shapes([root], is_transformer_key, OFFICIAL_PREFIX)
    text_path = _header_shapes([root], lambda name: name in set(layout_ltx2.text_path_keys(header)))
    if not any(name.startswith(PROJECTION_PREFIX) for name in text_path):
        for path, keys in bundled_projection_keys(source).items():
            text_path.update(_header_shapes([path], lambda name, keys=set(keys): name in keys))
    audio = Path(files.audio_vae or root)
    return LTX2ComponentShapes(
        gemma=gemma,
        text_path=text_path,
        transformer=transformer,
        video_vae=_component(Path(files.video_vae or root), layout_ltx2.VAE_PREFIX),
        audio_vae=_component(audio, layout_ltx2.AUDIO_VAE_PREFIX),
        vocoder=_component(Path(files.vocoder or audio), layout_ltx2.VOCODER_PREFIX),
        upsampler=upsampler,
        transformer_config=layout_ltx2.transformer_config(root, header),
    )


def full_size_shapes(version: str) -> LTX2ComponentShapes:
    """The shapes of a released model that is not on this machine (its release's configs)."""
    shapes = component_shapes(version)
    return LTX2ComponentShapes(**shapes, transformer_config=full_size(version).transformer)
