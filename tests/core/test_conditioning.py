"""Token layout, coordinates and conditioning placement agree with the reference pipeline's."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from ltx_video.models.autoencoders.vae_encode import latent_to_pixel_coords_from_factors
from ltx_video.models.transformers.symmetric_patchifier import SymmetricPatchifier

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.patchify import patchify, unpatchify
from ltx_mlx_core.pipeline.conditioning import PlacedMedia, prepare_conditioning
from ltx_mlx_core.pipeline.config import PipelineConfig
from ltx_mlx_core.pipeline.latents import (
    fractional_coords,
    initial_noise,
    latent_coords,
    latent_grid,
    pixel_coords,
)
from ltx_mlx_core.pipeline.media import trim_sequence_length

CHANNELS = 4
NUM_FRAMES = 33  # 5 latent frames
GRID = (5, 2, 3)  # 64 x 96 pixels


def fake_encode(pixels: mx.array) -> mx.array:
    """Latents that say where they came from: each latent frame holds 10 + its pixel frame's mean."""
    frames = pixels.shape[1]
    latent_frames = (frames - 1) // 8 + 1
    values = mx.stack([mx.mean(pixels[:, min(8 * i, frames - 1)]) for i in range(latent_frames)])
    latents = mx.broadcast_to(values[None, :, None, None, None] + 10.0, (1, latent_frames, 2, 3, CHANNELS))
    return mx.array(latents)


def placed(frames: int, frame: int, strength: float = 1.0, value: float = 0.5) -> PlacedMedia:
    return PlacedMedia(mx.full((1, frames, 64, 96, 3), value), frame, strength)


def noise() -> mx.array:
    return initial_noise(mx.random.key(3), 1, GRID, CHANNELS)


def test_patchify_orders_tokens_frame_row_column_as_the_reference() -> None:
    latents = np.random.default_rng(0).standard_normal((2, *GRID, CHANNELS)).astype(np.float32)
    expected, expected_coords = SymmetricPatchifier(patch_size=1).patchify(
        torch.from_numpy(latents).permute(0, 4, 1, 2, 3)
    )
    tokens = patchify(mx.array(latents))
    np.testing.assert_array_equal(np.array(tokens), expected.numpy())
    np.testing.assert_array_equal(np.array(latent_coords(GRID, batch=2)), expected_coords.numpy())
    np.testing.assert_array_equal(np.array(unpatchify(tokens, GRID)), latents)


def test_unpatchify_refuses_a_token_count_that_does_not_fill_the_grid() -> None:
    with pytest.raises(ValueError):
        unpatchify(mx.zeros((1, 29, CHANNELS)), GRID)


@pytest.mark.parametrize("causal_fix", [True, False])
def test_fractional_coordinates_match_what_the_reference_passes_the_transformer(causal_fix: bool) -> None:
    coords = latent_coords(GRID)
    expected = latent_to_pixel_coords_from_factors(torch.from_numpy(np.array(coords)), (8, 32, 32), causal_fix)
    expected = expected.to(torch.float32)
    expected[:, 0] = expected[:, 0] * (1.0 / 24.0)
    ours = fractional_coords(pixel_coords(coords, causal_fix), 24.0)
    np.testing.assert_allclose(np.array(ours), expected.numpy(), rtol=0, atol=1e-6)
    if causal_fix:  # the first latent frame holds only pixel frame 0; the second starts at pixel frame 1
        assert np.array(pixel_coords(coords, True))[0, 0, [0, 6, 12]].tolist() == [0.0, 1.0, 9.0]


def test_latent_grid_and_noise_are_sized_and_seeded_as_requested() -> None:
    assert latent_grid(121, 704, 1216) == (16, 22, 38)
    first, again = noise(), noise()
    assert first.shape == (1, *GRID, CHANNELS)
    np.testing.assert_array_equal(np.array(first), np.array(again))
    other = initial_noise(mx.random.key(4), 1, GRID, CHANNELS)
    assert not np.allclose(np.array(first), np.array(other))


def test_no_conditioning_gives_plain_tokens_and_no_mask() -> None:
    state = prepare_conditioning(noise(), [], fake_encode, NUM_FRAMES, True, mx.random.key(0))
    assert state.mask is None and state.num_extra == 0
    np.testing.assert_array_equal(np.array(state.tokens), np.array(patchify(noise())))


def test_image_at_frame_zero_replaces_the_first_latent_frame_in_place() -> None:
    state = prepare_conditioning(
        noise(), [placed(1, 0, strength=0.75)], fake_encode, NUM_FRAMES, True, mx.random.key(0)
    )
    tokens, mask = np.array(state.tokens), np.array(state.mask)
    first = 2 * 3
    assert state.num_extra == 0 and tokens.shape == (1, 5 * first, CHANNELS)
    original = np.array(patchify(noise()))
    np.testing.assert_allclose(tokens[0, :first], original[0, :first] + 0.75 * (10.5 - original[0, :first]), atol=1e-6)
    np.testing.assert_array_equal(tokens[0, first:], original[0, first:])
    assert mask[0, :first].tolist() == [0.75] * first and not mask[0, first:].any()


def test_image_at_the_last_frame_becomes_extra_tokens_at_that_frame() -> None:
    last = NUM_FRAMES - 1
    state = prepare_conditioning(noise(), [placed(1, last)], fake_encode, NUM_FRAMES, True, mx.random.key(0))
    extra = 2 * 3
    assert state.num_extra == extra and state.tokens.shape[1] == 5 * extra + extra
    np.testing.assert_allclose(np.array(state.tokens)[0, :extra], 10.5, atol=1e-6)  # strength 1: no noise left
    coords = np.array(state.pixel_coords)
    assert set(coords[0, 0, :extra].tolist()) == {float(last)}
    np.testing.assert_array_equal(coords[0, 1:, :extra], coords[0, 1:, extra : 2 * extra])
    np.testing.assert_array_equal(np.array(state.mask)[0], [1.0] * extra + [0.0] * 5 * extra)


def test_video_after_frame_zero_fills_its_frames_and_appends_its_two_prefix_latents() -> None:
    state = prepare_conditioning(
        noise(), [placed(17, 8, strength=0.9)], fake_encode, NUM_FRAMES, True, mx.random.key(0)
    )
    per_frame = 2 * 3
    assert state.num_extra == 2 * per_frame
    mask = np.array(state.mask)[0, state.num_extra :].reshape(5, per_frame)
    # 17 frames -> 3 latents; the first two (prefix) become extra tokens, the third lands on clip latent
    # 8 // 8 + 2 = 3, as the reference's _handle_non_first_conditioning_sequence places it.
    np.testing.assert_allclose(mask[:, 0], [0.0, 0.0, 0.0, 0.9, 0.0], atol=1e-7)
    prefix_frames = np.array(state.pixel_coords)[0, 0, : state.num_extra]
    assert sorted(set(prefix_frames.tolist())) == [8.0, 9.0]


def ramp_video(frames: int, frame: int, strength: float) -> PlacedMedia:
    """A video whose pixel frame f holds f / 100, so fake_encode's latent i holds 10 + 8i / 100."""
    values = mx.arange(frames, dtype=mx.float32)[None, :, None, None, None] / 100.0
    return PlacedMedia(mx.broadcast_to(values, (1, frames, 64, 96, 3)), frame, strength)


def clip_frames(state) -> tuple[np.ndarray, np.ndarray]:
    """(tokens [5, 6, C], mask [5, 6]) of the clip's own latent frames."""
    tokens = np.array(state.tokens)[0, state.num_extra :].reshape(5, 2 * 3, CHANNELS)
    return tokens, np.array(state.mask)[0, state.num_extra :].reshape(5, 2 * 3)


def test_soft_prefix_blends_the_second_prefix_latent_in_place_at_the_soft_strength() -> None:
    state = prepare_conditioning(
        noise(),
        [ramp_video(17, 8, 0.9)],
        fake_encode,
        NUM_FRAMES,
        True,
        mx.random.key(0),
        prefix_mode="soft",
        prefix_soft_strength=0.15,
    )
    original = np.array(patchify(noise()))[0].reshape(5, 6, CHANNELS)
    tokens, mask = clip_frames(state)
    assert state.num_extra == 0
    # Latent 0 of the video (its lone first frame) is dropped; latent 1 goes softly to clip latent 2,
    # latent 2 to clip latent 3 at the item's strength.
    np.testing.assert_allclose(mask[:, 0], [0.0, 0.0, 0.15, 0.9, 0.0], atol=1e-7)
    np.testing.assert_allclose(tokens[2], original[2] + 0.15 * (10.08 - original[2]), atol=1e-4)
    np.testing.assert_allclose(tokens[3], original[3] + 0.9 * (10.16 - original[3]), atol=1e-4)
    np.testing.assert_array_equal(tokens[[0, 1, 4]], original[[0, 1, 4]])


def test_soft_prefix_never_conditions_harder_than_the_item() -> None:
    state = prepare_conditioning(
        noise(),
        [ramp_video(17, 8, 0.1)],
        fake_encode,
        NUM_FRAMES,
        True,
        mx.random.key(0),
        prefix_mode="soft",
        prefix_soft_strength=0.15,
    )
    np.testing.assert_allclose(clip_frames(state)[1][:, 0], [0.0, 0.0, 0.1, 0.1, 0.0], atol=1e-7)


def test_dropped_prefix_adds_no_tokens_and_leaves_its_latents_to_the_noise() -> None:
    state = prepare_conditioning(
        noise(), [ramp_video(17, 8, 0.9)], fake_encode, NUM_FRAMES, True, mx.random.key(0), prefix_mode="drop"
    )
    original = np.array(patchify(noise()))[0].reshape(5, 6, CHANNELS)
    tokens, mask = clip_frames(state)
    assert state.num_extra == 0
    np.testing.assert_allclose(mask[:, 0], [0.0, 0.0, 0.0, 0.9, 0.0], atol=1e-7)
    np.testing.assert_array_equal(tokens[[0, 1, 2, 4]], original[[0, 1, 2, 4]])


def test_a_nine_frame_video_is_all_prefix_so_dropping_it_leaves_only_the_mask() -> None:
    state = prepare_conditioning(
        noise(), [ramp_video(9, 16, 1.0)], fake_encode, NUM_FRAMES, True, mx.random.key(0), prefix_mode="drop"
    )
    np.testing.assert_array_equal(np.array(state.tokens), np.array(patchify(noise())))
    assert state.mask is not None and not np.array(state.mask).any()


@pytest.mark.parametrize("mode", ["concat", "soft", "drop"])
def test_prefix_mode_leaves_single_frames_as_extra_tokens(mode: str) -> None:
    state = prepare_conditioning(
        noise(), [placed(1, 16)], fake_encode, NUM_FRAMES, True, mx.random.key(0), prefix_mode=mode
    )
    assert state.num_extra == 2 * 3


def test_unknown_prefix_mode_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="concat, soft, drop"):
        prepare_conditioning(
            noise(), [ramp_video(17, 8, 1.0)], fake_encode, NUM_FRAMES, True, mx.random.key(0), prefix_mode="blend"
        )


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"prefix_latents_mode": "prefix"}, "concat, soft, drop"),
        ({"prefix_soft_conditioning_strength": 1.5}, "from 0 to 1"),
        ({"prefix_soft_conditioning_strength": "high"}, "from 0 to 1"),
    ],
)
def test_pipeline_config_refuses_bad_prefix_settings(settings: dict, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        PipelineConfig.from_dict({"pipeline_type": "base", "timesteps": [1.0, 0.5], **settings})


def test_pipeline_config_reads_the_prefix_settings() -> None:
    config = PipelineConfig.from_dict(
        {"pipeline_type": "base", "prefix_latents_mode": "soft", "prefix_soft_conditioning_strength": 0.3}
    )
    assert (config.prefix_latents_mode, config.prefix_soft_conditioning_strength) == ("soft", 0.3)
    assert PipelineConfig.from_dict({"pipeline_type": "base"}).prefix_latents_mode == "concat"


@pytest.mark.parametrize(
    "item, words",
    [
        (placed(1, NUM_FRAMES), "outside"),
        (placed(9, NUM_FRAMES - 8), "outside"),
        (placed(1, -1), "outside"),
        (placed(9, 4), "multiple of 8"),
        (placed(4, 0), r"8k\+1"),
    ],
    ids=["image_past_the_end", "video_running_past_the_end", "negative_frame", "video_off_grid", "bad_length"],
)
def test_misplaced_conditioning_is_refused_with_a_clear_message(item: PlacedMedia, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        prepare_conditioning(noise(), [item], fake_encode, NUM_FRAMES, True, mx.random.key(0))


def test_media_at_another_size_is_refused() -> None:
    item = PlacedMedia(mx.zeros((1, 1, 32, 32, 3)), 0, 1.0)
    with pytest.raises(InvalidRequest, match="96x64"):
        prepare_conditioning(noise(), [item], fake_encode, NUM_FRAMES, True, mx.random.key(0))


@pytest.mark.parametrize("start, frames, target", [(0, 121, 121), (0, 30, 121), (16, 200, 97), (8, 9, 17), (0, 1, 9)])
def test_conditioning_videos_are_trimmed_as_the_reference_trims_them(start: int, frames: int, target: int) -> None:
    expected = min(frames, target - start)
    expected = (expected - 1) // 8 * 8 + 1
    assert trim_sequence_length(start, frames, target) == expected
