"""Loading real checkpoint files: layouts, FP8, quantisation, bad input, residency memory."""

from __future__ import annotations

import json
import shutil

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core.bench.workloads import VideoShape, simple_indices_grid
from ltx_mlx_core.errors import CheckpointError, InvalidRequest, ModelNotInstalled
from ltx_mlx_core.models.ltxv.transformer_config import TransformerConfig
from ltx_mlx_core.models.ltxv.transformer_keys import sanitize_official_transformer
from ltx_mlx_core.weights import loader
from ltx_mlx_core.weights.fp8 import quantize_to_fp8
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.safetensors_io import read_header
from ltx_mlx_core.weights.tiny import ModelShapes, make_tiny_model, write_tiny_model


def step_inputs(model, tokens_grid=VideoShape(96, 64, 9), text=8):
    key = mx.random.key(3)
    k1, k2 = mx.random.split(key)
    latents = mx.random.normal((1, tokens_grid.tokens, model.config.in_channels), key=k1)
    embeds = mx.random.normal((1, text, model.config.text_channels), key=k2)
    return latents, simple_indices_grid(tokens_grid), embeds, mx.ones((1, text)), mx.array([0.7])


@pytest.fixture
def tiny_files():
    make_tiny_model()
    return resolve_model("tiny")


def test_fp8_checkpoint_dequantises_to_the_same_transformer(tmp_path, tiny_files):
    """An e4m3 copy of every 2-D transformer weight (with per-row scales) loads as its dequantised values."""
    arrays, metadata = mx.load(str(tiny_files.checkpoint), return_metadata=True)
    fp8_arrays, expected = dict(arrays), {}
    for name, value in arrays.items():
        if name.startswith("model.diffusion_model.") and value.ndim == 2 and name.endswith(".weight"):
            data, scale = quantize_to_fp8(value)
            fp8_arrays[name] = data
            fp8_arrays[name[: -len("weight")] + "weight_scale"] = scale
            fp8_arrays[name[: -len("weight")] + "input_scale"] = mx.array(1.0)
            expected[name] = (mx.from_fp8(data, dtype=mx.float32) * scale[:, None]).astype(mx.bfloat16)
    fp8_path = tmp_path / "tiny-fp8.safetensors"
    # mx.save_safetensors writes uint8; mark the FP8 tensors as F8_E4M3 in the header like official files.
    mx.save_safetensors(str(fp8_path), fp8_arrays, metadata=metadata)
    raw = bytearray(fp8_path.read_bytes())
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    for name in expected:
        header[name]["dtype"] = "F8_E4M3"
    new_header = json.dumps(header).encode()
    new_header = new_header.ljust(len(new_header) + (-len(new_header)) % 8)
    fp8_path.write_bytes(len(new_header).to_bytes(8, "little") + new_header + bytes(raw[8 + length :]))
    assert read_header(fp8_path).tensors[next(iter(expected))].dtype == "F8_E4M3"

    files = type(tiny_files)(**{**tiny_files.__dict__, "checkpoint": fp8_path})
    model = loader.load_transformer(files, mx.bfloat16)
    params = dict(tree_flatten(model.parameters()))

    renamed = sanitize_official_transformer({k[len("model.diffusion_model.") :]: v for k, v in expected.items()})
    for name, value in renamed.items():
        np.testing.assert_array_equal(np.array(params[name].astype(mx.float32)), np.array(value.astype(mx.float32)))
    reference = loader.load_transformer(tiny_files, mx.bfloat16)
    out_fp8 = model(*step_inputs(model)).astype(mx.float32)
    out_bf16 = reference(*step_inputs(reference)).astype(mx.float32)
    assert float(mx.abs(out_fp8 - out_bf16).max() / mx.abs(out_bf16).max()) < 0.1


def test_eight_bit_transformer_stays_close_to_bf16(tmp_path):
    """Widths divisible by the quantisation group (64) so every linear layer is quantised."""
    shapes = ModelShapes(
        transformer=TransformerConfig(
            num_attention_heads=4, attention_head_dim=32, num_layers=2, cross_attention_dim=128, caption_channels=64
        )
    )
    files = write_tiny_model(tmp_path, shapes=shapes)
    full = loader.load_transformer(files, mx.bfloat16)
    quantised = loader.load_transformer(files, mx.bfloat16, quantize_bits=8)
    assert any("scales" in name for name, _ in tree_flatten(quantised.parameters()))
    a = full(*step_inputs(full)).astype(mx.float32)
    b = quantised(*step_inputs(quantised)).astype(mx.float32)
    error = float(mx.abs(a - b).max() / mx.abs(a).max())
    print(f"8-bit vs bf16 relative max error {error:.2e}")
    assert error < 0.05, error


def test_streamed_blocks_compute_the_same_as_resident(tiny_files):
    resident = loader.load_transformer(tiny_files, mx.float32)
    streamed = loader.load_transformer(tiny_files, mx.float32, residency=ResidencyMode.STREAM_BLOCKS)
    for _ in range(2):  # a second step reads the blocks again
        np.testing.assert_allclose(
            np.array(streamed(*step_inputs(streamed))), np.array(resident(*step_inputs(resident))), atol=1e-6
        )
    assert not any("transformer_blocks" in name for name, _ in tree_flatten(streamed.parameters()))


def test_streaming_blocks_keeps_peak_memory_below_the_transformer_size(tmp_path):
    """A transformer of ~50 MB (fp32): one step with streamed blocks peaks far below resident weights."""
    shapes = ModelShapes(
        transformer=TransformerConfig(
            num_attention_heads=4, attention_head_dim=64, num_layers=8, cross_attention_dim=256, caption_channels=32
        )
    )
    files = write_tiny_model(tmp_path, shapes=shapes)
    header = read_header(files.checkpoint)
    weight_bytes = sum(header.tensors[k].nbytes for k in header.keys_with_prefix("model.diffusion_model."))

    def peak_of_one_step(mode):
        mx.clear_cache()
        mx.reset_peak_memory()
        model = loader.load_transformer(files, mx.float32, residency=mode)
        mx.eval(model(*step_inputs(model, VideoShape(64, 64, 9))))
        peak = mx.get_peak_memory()
        del model
        mx.clear_cache()
        return peak

    resident = peak_of_one_step(ResidencyMode.RESIDENT)
    streamed = peak_of_one_step(ResidencyMode.STREAM_BLOCKS)
    print(
        f"transformer file {weight_bytes / 2**20:.1f} MiB; step peak resident {resident / 2**20:.1f} MiB, "
        f"streamed blocks {streamed / 2**20:.1f} MiB"
    )
    assert resident > 0.9 * weight_bytes
    assert streamed < 0.5 * resident


def test_not_a_safetensors_file_is_named(tmp_path):
    bogus = tmp_path / "model.safetensors"
    bogus.write_text("this is a text file, not weights")
    with pytest.raises(CheckpointError, match="model.safetensors' is not a safetensors file"):
        read_header(bogus)


def test_truncated_checkpoint_is_detected(tmp_path, tiny_files):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(tiny_files.checkpoint.read_bytes()[:-1000])
    with pytest.raises(CheckpointError, match="truncated"):
        read_header(cut)


def test_unknown_architecture_and_missing_keys_are_named(tmp_path, tiny_files):
    arrays, metadata = mx.load(str(tiny_files.checkpoint), return_metadata=True)
    other = tmp_path / "other.safetensors"
    mx.save_safetensors(str(other), arrays, metadata={"config": json.dumps({"unet": {}})})
    files = type(tiny_files)(**{**tiny_files.__dict__, "checkpoint": other})
    with pytest.raises(CheckpointError, match="other.safetensors' has no 'transformer' config"):
        loader.load_transformer(files)
    missing = tmp_path / "missing.safetensors"
    dropped = "model.diffusion_model.proj_out.weight"
    mx.save_safetensors(str(missing), {k: v for k, v in arrays.items() if k != dropped}, metadata=metadata)
    files = type(tiny_files)(**{**tiny_files.__dict__, "checkpoint": missing})
    with pytest.raises(CheckpointError, match="'missing.safetensors': .*lacks 1 weight.*proj_out.weight"):
        loader.load_transformer(files)
    vae_missing = tmp_path / "vae-missing.safetensors"
    mx.save_safetensors(
        str(vae_missing),
        {k: v for k, v in arrays.items() if k != "vae.decoder.conv_out.conv.weight"},
        metadata=metadata,
    )
    files = type(tiny_files)(**{**tiny_files.__dict__, "checkpoint": vae_missing})
    with pytest.raises(CheckpointError, match="'vae-missing.safetensors': .*decoder.conv_out.conv.weight"):
        loader.load_vae(files)


def test_a_pickled_checkpoint_path_is_refused_by_name(tmp_path):
    pickled = tmp_path / "ltxv-2b.pt"
    pickled.write_bytes(b"\x80\x04not weights")
    with pytest.raises(InvalidRequest, match="'ltxv-2b.pt' is not a .safetensors checkpoint"):
        resolve_model(str(pickled))


def test_t5_folder_with_sharded_weights_loads_like_one_file(tmp_path, tiny_files):
    folder = tmp_path / "text_encoder"
    shutil.copytree(tiny_files.text_encoder_dir, folder)
    arrays = mx.load(str(folder / "model.safetensors"))
    names = sorted(arrays)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    for shard, keys in shards.items():
        mx.save_safetensors(str(folder / shard), {k: arrays[k] for k in keys})
    (folder / "model.safetensors").unlink()
    index = {"weight_map": {k: shard for shard, keys in shards.items() for k in keys}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    files = type(tiny_files)(**{**tiny_files.__dict__, "text_encoder_dir": folder})
    _, sharded = loader.load_text_encoder(files, mx.float32)
    _, single = loader.load_text_encoder(tiny_files, mx.float32)
    ids = mx.array([[5, 6, 7, 1]])
    np.testing.assert_array_equal(np.array(sharded(ids)), np.array(single(ids)))


def test_model_ids_resolve_with_actionable_errors():
    with pytest.raises(ModelNotInstalled, match="make-tiny"):
        resolve_model("tiny")
    with pytest.raises(ModelNotInstalled, match="ltx-mlx models download ltxv-2b-0.9.8-distilled"):
        resolve_model("ltxv-2b-0.9.8-distilled")
    with pytest.raises(InvalidRequest, match="Unknown model 'nope'"):
        resolve_model("nope")


def test_a_checkpoint_stored_in_bf16_loads_as_its_values(tmp_path, tiny_files):
    """Official checkpoints store BF16 (the tiny files are F32): each tensor keeps its bf16 value,
    upcast exactly when computing in float32, and streamed blocks read the same values."""
    arrays, metadata = mx.load(str(tiny_files.checkpoint), return_metadata=True)
    as_bf16 = {k: v.astype(mx.bfloat16) if mx.issubdtype(v.dtype, mx.floating) else v for k, v in arrays.items()}
    path = tmp_path / "tiny-bf16.safetensors"
    mx.save_safetensors(str(path), as_bf16, metadata=metadata)
    assert {info.dtype for info in read_header(path).tensors.values()} == {"BF16"}
    files = type(tiny_files)(**{**tiny_files.__dict__, "checkpoint": path})

    def values(module):
        return {k: np.array(v.astype(mx.float32)) for k, v in tree_flatten(module.parameters())}

    for load in (loader.load_transformer, loader.load_vae):
        expected = values(load(tiny_files, mx.bfloat16))  # the float32 file rounded to bf16 on load
        for dtype in (mx.bfloat16, mx.float32):
            model = load(files, dtype)
            assert {v.dtype for _, v in tree_flatten(model.parameters())} == {dtype}
            got = values(model)
            assert sorted(got) == sorted(expected)
            for name, value in got.items():
                np.testing.assert_array_equal(value, expected[name], err_msg=f"{load.__name__} {dtype} {name}")
    resident = loader.load_transformer(files, mx.float32)
    streamed = loader.load_transformer(files, mx.float32, residency=ResidencyMode.STREAM_BLOCKS)
    np.testing.assert_allclose(
        np.array(streamed(*step_inputs(streamed))), np.array(resident(*step_inputs(resident))), atol=1e-6
    )
    full = loader.load_transformer(tiny_files, mx.float32)
    out_bf16_file = resident(*step_inputs(resident))
    out_fp32_file = full(*step_inputs(full))
    error = float(mx.abs(out_bf16_file - out_fp32_file).max() / mx.abs(out_fp32_file).max())
    print(f"transformer step from the bf16 file vs the float32 file (both computed in float32): {error:.1e}")
    assert error < 2e-2
