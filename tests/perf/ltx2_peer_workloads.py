"""The MLX peer (`mlx-video-with-audio`, package `mlx_video`) side of the LTX-2 benchmark.

Its LTX-2 `LTXModel` is built from its own config class the way its generate_av.py builds one for
an LTX-2.3 checkpoint (gated attention, 9 AdaLN coefficients, no caption projection, split RoPE in
float64), with random bf16 weights, and fed our step's inputs. Its package `__init__` imports its
whole CLI (OpenCV, mlx-vlm, ...), so the model modules are imported under empty parent packages.

Its decoders are built as generate_av.py's loaders build them, from our LTX-2.3 configs instead of
a checkpoint's embedded one, and called as generate_av.py calls them: the video decoder with the
tiling of its default `--tiling auto` and one evaluation at the end; the audio decoder, one
evaluation, then the vocoder with bandwidth extension, one evaluation. Where the peer fixes a
size that our config sets, the builders refuse a config that differs rather than measure another
network.
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
from ltx_mlx_core.bench.workloads_ltx2 import AVShape
from ltx_mlx_core.models.ltx2.audio_vae_config import AudioVAEConfig
from ltx_mlx_core.models.ltx2.config import LTX2Config
from ltx_mlx_core.models.ltx2.transformer import ModalityInput
from ltx_mlx_core.models.ltx2.video_vae_config import VideoVAEConfig
from ltx_mlx_core.models.ltx2.vocoder_config import BWEConfig, VocoderConfig


def _import_model_modules() -> types.ModuleType:
    _register_parent_packages()
    import mlx_video.models.ltx.ltx as peer_ltx  # noqa: PLC0415  (only after the parents exist)

    return peer_ltx


def _register_parent_packages() -> None:
    if "mlx_video.models.ltx" in sys.modules:  # registered by an earlier stage (or the real package)
        return
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


# generate_av.py decodes sound in its weights' dtype: bf16, as the released checkpoint stores them
# and its convert.py writes them (--dtype bfloat16 by default), on its bf16 latents (model_dtype).
PEER_SOUND_DTYPE = mx.bfloat16


def _require(part: str, fixed: dict[str, Any], config: Any) -> None:
    """Refuse a config whose sizes the peer's module fixes to other values (it would build another network)."""
    differing = {name: getattr(config, name) for name, value in fixed.items() if getattr(config, name) != value}
    if differing:
        raise ValueError(f"The peer's {part} fixes {fixed}; this config has {differing}.")


def first_call_checked(fn: Callable[[], mx.array], record: dict[str, Any]) -> Callable[[], mx.array]:
    """`fn`, recording in `record` the first output's shape and whether it is all finite (the warm-up's)."""

    def call() -> mx.array:
        out = fn()
        if not record:
            record["output_shape"] = list(out.shape)
            record["output_finite"] = bool(mx.all(mx.isfinite(out)).item())
        return out

    return call


def peer_video_decoder(vae_config: dict[str, Any], dtype: mx.Dtype = mx.bfloat16) -> Any:
    """The peer's LTX2VideoDecoder as its load_vae_decoder builds it from an embedded "vae" config."""
    _register_parent_packages()
    from mlx_video.models.ltx.video_vae.convolution import PaddingModeType  # noqa: PLC0415
    from mlx_video.models.ltx.video_vae.decoder import LTX2VideoDecoder  # noqa: PLC0415

    config = VideoVAEConfig.from_dict(vae_config)
    # Its widths run from 1024 at conv_in to 128 at conv_out whatever the config, and it decodes
    # non-causally with pixel norms.
    fixed = dict(latent_channels=128, out_channels=3, patch_size=4, decoder_base_channels=128)
    _require("video decoder", dict(fixed, causal_decoder=False, norm_layer="pixel_norm"), config)
    decoder = LTX2VideoDecoder(
        timestep_conditioning=config.timestep_conditioning,
        decoder_blocks=[[name, dict(params)] for name, params in config.decoder_blocks],
        spatial_padding_mode=PaddingModeType(config.decoder_spatial_padding_mode),
    )
    randomize_parameters(decoder, dtype)
    decoder.latents_mean = mx.zeros((config.latent_channels,), dtype=dtype)
    decoder.latents_std = mx.ones((config.latent_channels,), dtype=dtype)
    mx.eval(decoder.parameters())
    return decoder


def peer_video_decode(decoder: Any, latents: mx.array, shape: AVShape) -> tuple[Callable[[], mx.array], str]:
    """(decode, tiling) of our latents [1, F, H, W, C] as generate_av.py decodes with `--tiling auto`."""
    from mlx_video.models.ltx.video_vae.tiling import TilingConfig  # noqa: PLC0415

    tiling = TilingConfig.auto(shape.height, shape.width, shape.frames)
    peer_latents = mx.transpose(latents, (0, 4, 1, 2, 3))  # its layout: [B, C, F, H, W]
    mx.eval(peer_latents)

    def decode() -> mx.array:
        if tiling is None:
            video = decoder(peer_latents)
        else:
            video = decoder.decode_tiled(peer_latents, tiling_config=tiling, debug=False)
        mx.eval(video)
        return video

    return decode, _describe(tiling)


# (tile, overlap) along an axis in the peer's units (pixels spatially, frames temporally); None: whole.
PeerAxis = tuple[int, int] | None


def peer_tile_axes(tiling: Any) -> tuple[PeerAxis, PeerAxis]:
    """(spatial, temporal) (tile, overlap) of the peer's TilingConfig."""
    spatial, temporal = tiling.spatial_config, tiling.temporal_config
    return (
        (spatial.tile_size_in_pixels, spatial.tile_overlap_in_pixels) if spatial else None,
        (temporal.tile_size_in_frames, temporal.tile_overlap_in_frames) if temporal else None,
    )


def describe_tile_axes(spatial: PeerAxis, temporal: PeerAxis) -> str:
    """The peer's tiles in its units, as the peer-vae row words them."""
    parts = [
        f"spatial {spatial[0]}px/{spatial[1]}" if spatial else "spatial none",
        f"temporal {temporal[0]}f/{temporal[1]}" if temporal else "temporal none",
    ]
    return ", ".join(parts)


def _describe(tiling: Any) -> str:
    if tiling is None:
        return "none (TilingConfig.auto: the whole clip at once)"
    return describe_tile_axes(*peer_tile_axes(tiling))


def peer_audio_decoder(config: AudioVAEConfig, dtype: mx.Dtype = PEER_SOUND_DTYPE) -> Any:
    """The peer's AudioDecoder of `config`'s sizes (its load_audio_decoder passes LTX-2's, LTX-2.3's too)."""
    _register_parent_packages()
    from mlx_video.models.ltx.audio_vae import AudioDecoder, CausalityAxis, NormType  # noqa: PLC0415

    decoder = AudioDecoder(
        ch=config.ch,
        out_ch=config.out_ch,
        ch_mult=config.ch_mult,
        num_res_blocks=config.num_res_blocks,
        attn_resolutions=set(config.attn_resolutions),
        resolution=config.resolution,
        z_channels=config.z_channels,
        norm_type=NormType(config.norm_type),
        causality_axis=CausalityAxis(None if config.causality_axis == "none" else config.causality_axis),
        mid_block_add_attention=config.mid_block_add_attention,
        sample_rate=config.sampling_rate,
        mel_hop_length=config.hop_length,
        is_causal=config.is_causal,
        mel_bins=config.mel_bins,
    )
    randomize_parameters(decoder, dtype)  # its latent statistics (`_`-named) stay 0 and 1
    mx.eval(decoder.parameters())
    return decoder


def peer_vocoder(config: BWEConfig, dtype: mx.Dtype = PEER_SOUND_DTYPE) -> Any:
    """The peer's VocoderWithBWE (two BigVGAN generators) as its load_vocoder builds it from an
    LTX-2.3 "vocoder" section: {"vocoder": {...}, "bwe": {...}}."""
    if not isinstance(config, BWEConfig):
        raise ValueError("The peer stage builds LTX-2.3's vocoder with bandwidth extension only.")
    _register_parent_packages()
    from mlx_video.models.ltx.audio_vae import VocoderWithBWE  # noqa: PLC0415

    # Its STFT and mel tables are (514, 1, 512) and (64, 257): a 512-point FFT into 64 mel bins.
    _require("bandwidth extension", dict(n_fft=512, win_length=512, num_mels=64), config)
    vocoder = VocoderWithBWE(
        vocoder=_bigvgan(config.vocoder),
        bwe_generator=_bigvgan(config.generator),
        input_sampling_rate=config.input_sampling_rate,
        output_sampling_rate=config.output_sampling_rate,
        hop_length=config.hop_length,
        win_length=config.win_length,
    )
    randomize_parameters(vocoder, dtype)
    mx.eval(vocoder.parameters())
    return vocoder


def _bigvgan(config: VocoderConfig) -> Any:
    from mlx_video.models.ltx.audio_vae import BigVGANVocoder  # noqa: PLC0415

    # Its generators take stereo x 64 mel bins and use anti-aliased SnakeBeta (x2, 12 taps) throughout.
    fixed = dict(in_channels=128, out_channels=2, resblock="AMP1", activation="snakebeta")
    _require("BigVGAN generator", dict(fixed, antialias_ratio=2, antialias_kernel_size=12), config)
    return BigVGANVocoder(
        resblock_kernel_sizes=list(config.resblock_kernel_sizes),
        upsample_rates=list(config.upsample_rates),
        upsample_kernel_sizes=list(config.upsample_kernel_sizes),
        resblock_dilation_sizes=[list(d) for d in config.resblock_dilation_sizes],
        upsample_initial_channel=config.upsample_initial_channel,
        stereo=True,
        output_sample_rate=config.output_sampling_rate,
        use_tanh_at_final=config.final_activation == "tanh",
        use_bias_at_final=config.use_bias_at_final,
        apply_final_activation=config.final_activation is not None,
    )


def peer_audio_decode(decoder: Any, vocoder: Any, latents: mx.array) -> Callable[[], mx.array]:
    """Our audio latents [1, C, T, mel bins] to a waveform [1, channels, samples], as generate_av.py does."""
    peer_latents = latents.astype(PEER_SOUND_DTYPE)
    mx.eval(peer_latents)

    def decode() -> mx.array:
        mel = decoder(peer_latents)
        mx.eval(mel)
        wave = vocoder(mel)
        mx.eval(wave)
        return wave

    return decode
