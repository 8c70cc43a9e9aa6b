"""The MLX peer (`mlx-video-with-audio`, package `mlx_video`) side of the LTX-2 benchmark.

Its LTX-2 `LTXModel` is built from its own config class the way its generate_av.py builds one for
an LTX-2.3 checkpoint (gated attention, 9 AdaLN coefficients, no caption projection, split RoPE in
float64), with random bf16 weights, and fed our step's inputs. Its package `__init__` imports its
whole CLI (OpenCV, mlx-vlm, ...), so the model modules are imported under empty parent packages.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.bench.workloads import randomize_parameters
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import ModalityInput


def _import_model_modules() -> types.ModuleType:
    spec = importlib.util.find_spec("mlx_video")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("mlx_video (pip package mlx-video-with-audio) is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in (("mlx_video", root), ("mlx_video.models", root / "models")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    ltx = types.ModuleType("mlx_video.models.ltx")
    ltx.__path__ = [str(root / "models" / "ltx")]
    sys.modules.setdefault("mlx_video.models.ltx", ltx)
    import mlx_video.models.ltx.ltx as peer_ltx  # noqa: PLC0415  (only after the parents exist)

    return peer_ltx


def peer_transformer(config: LTX2Config, dtype: mx.Dtype = mx.bfloat16) -> Any:
    peer = _import_model_modules()
    from mlx_video.models.ltx.config import LTXModelConfig, LTXModelType, LTXRopeType  # noqa: PLC0415

    gated = config.apply_gated_attention
    peer_config = LTXModelConfig(
        model_type=LTXModelType.AudioVideo,
        num_attention_heads=config.num_attention_heads,
        attention_head_dim=config.attention_head_dim,
        in_channels=config.in_channels,
        out_channels=config.out_channels,
        num_layers=config.num_layers,
        cross_attention_dim=config.cross_attention_dim,
        caption_channels=config.inner_dim,
        caption_projection_first_linear=not config.caption_proj_before_connector,
        caption_projection_second_linear=not config.caption_proj_before_connector,
        adaln_embedding_coefficient=9 if gated else 6,
        apply_gated_attention=gated,
        audio_num_attention_heads=config.audio_num_attention_heads,
        audio_attention_head_dim=config.audio_attention_head_dim,
        audio_in_channels=config.audio_in_channels,
        audio_out_channels=config.audio_out_channels,
        audio_cross_attention_dim=config.audio_cross_attention_dim,
        audio_caption_channels=config.audio_inner_dim,
        rope_type=LTXRopeType(config.rope_type),
        double_precision_rope=config.double_precision_rope,
        positional_embedding_max_pos=list(config.positional_embedding_max_pos),
        audio_positional_embedding_max_pos=list(config.audio_positional_embedding_max_pos),
        timestep_scale_multiplier=int(config.timestep_scale_multiplier),
        av_ca_timestep_scale_multiplier=int(config.av_ca_timestep_scale_multiplier),
    )
    model = peer.LTXModel(peer_config)
    if gated:
        # Its blocks start with 6-row AdaLN tables; loading an LTX-2.3 checkpoint replaces them by
        # the file's 9-row ones (rows 6-8: the cross-attention AdaLN it reads). Sized as loading leaves them.
        for block in model.transformer_blocks.values():
            block.scale_shift_table = mx.zeros((9, config.inner_dim))
            block.audio_scale_shift_table = mx.zeros((9, config.audio_inner_dim))
    randomize_parameters(model, dtype)
    return model


def peer_step(model: Any, video: ModalityInput, audio: ModalityInput | None) -> Callable[[], Any]:
    from mlx_video.models.ltx.transformer import Modality  # noqa: PLC0415

    def modality(ours: ModalityInput) -> Any:
        # One noise level per entry ([B, 1]), as our step gets it and the peer's t2v loop passes it.
        return Modality(
            latent=ours.latent,
            timesteps=ours.timesteps,
            positions=ours.positions,
            context=ours.context,
            sigma=ours.sigma,
        )

    peer_video = modality(video)
    peer_audio = None if audio is None else modality(audio)
    return lambda: model(peer_video, peer_audio)
