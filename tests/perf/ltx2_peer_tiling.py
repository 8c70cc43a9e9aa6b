"""The MLX peer's decode tiles as our TilingConfig: our video decode with the peer's tile plan.

mlx-video-with-audio's generate_av.py decodes with `--tiling auto` by default: TilingConfig.auto
(mlx_video/models/ltx/video_vae/tiling.py) picks tile sizes and overlaps in pixels and frames from
the clip's size. Converted to latents (32 px, 8 frames each) they become our TilingConfig, so our
decode can be timed on the same plan as the peer's (the `vae-peer-tiling` stage of compare_ltx2.py).

Both sides cut an axis into the same number of tiles (ceil((length - overlap) / (tile - overlap))),
overlapping by at least the same amount; the peer's tiles start a tile's length apart and its last
is what is left (its temporal tiles one latent frame earlier, for the causal first frame), ours are
evened out to equal sizes (pipeline/tiling.py plan_tiles), so our largest tile can be smaller.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ltx_mlx_core.bench.workloads_ltx2 import AVShape
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.tiling import TilingConfig
from tests.perf.ltx2_peer_workloads import PeerAxis, _register_parent_packages, describe_tile_axes, peer_tile_axes

SPATIAL_SCALE, TEMPORAL_SCALE = 32, 8


def peer_auto_tiles(height: int, width: int, frames: int) -> tuple[PeerAxis, PeerAxis]:
    """(spatial, temporal) (tile, overlap) that the peer's TilingConfig.auto picks: from the installed
    peer when it imports, else from the same rule (`auto_rule`)."""
    try:
        _register_parent_packages()
        from mlx_video.models.ltx.video_vae.tiling import TilingConfig as PeerTiling  # noqa: PLC0415
    except ModuleNotFoundError:
        return auto_rule(height, width, frames)
    plan = PeerTiling.auto(height, width, frames)
    return (None, None) if plan is None else peer_tile_axes(plan)


def auto_rule(height: int, width: int, frames: int) -> tuple[PeerAxis, PeerAxis]:
    """TilingConfig.auto's numbers as mlx-video-with-audio 0.1.37 has them (default thresholds)."""
    spatial, temporal = max(height, width) > 512, frames > 65
    if not spatial and not temporal:
        return None, None
    float32_output_gib = 3 * frames * height * width * 4 / 2**30
    if float32_output_gib > 2.0 or (height * width > 768 * 1024 and frames > 100):
        return (256, 64), (32, 8)  # its TilingConfig.aggressive()
    spatial_plan = ((512 if 768 < max(height, width) <= 1024 else 384), 64) if spatial else None
    temporal_plan = None
    if temporal:
        temporal_plan = (32, 8) if frames > 200 else (48, 16) if frames > 100 else (64, 24)
    return spatial_plan, temporal_plan


def tiling_like_peer(spatial: PeerAxis, temporal: PeerAxis) -> TilingConfig:
    """Our TilingConfig of the peer's tiles; an axis the peer leaves whole stays whole."""
    whole = TilingConfig.untiled()
    s_tile, s_overlap = (whole.spatial_tile, 0) if spatial is None else (v // SPATIAL_SCALE for v in spatial)
    t_tile, t_overlap = (whole.temporal_tile, 0) if temporal is None else (v // TEMPORAL_SCALE for v in temporal)
    return TilingConfig(
        spatial_tile=s_tile, spatial_overlap=s_overlap, temporal_tile=t_tile, temporal_overlap=t_overlap
    )


def peer_tile_plan(shape: AVShape) -> tuple[TilingConfig, dict[str, Any]]:
    """(our tiling of the peer's auto tiles for the clip, what the stage's row says of the plan)."""
    axes = peer_auto_tiles(shape.height, shape.width, shape.frames)
    tiling = tiling_like_peer(*axes)
    spans = tiling.spans(latent_grid(shape.frames, shape.height, shape.width))
    record = {
        "peer_tiling": describe_tile_axes(*axes),
        "tiling_latents": dataclasses.asdict(tiling),
        "tiles": "x".join(str(len(axis)) for axis in spans),  # frames x rows x columns
        "spans_latents": [[list(span) for span in axis] for axis in spans],
    }
    return tiling, record
