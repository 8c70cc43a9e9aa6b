"""FP8 (e4m3) tensors in safetensors files: every scale convention dequantises to the right values."""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np

from ltx_mlx_core.weights.safetensors_io import load_tensors, read_header


def save_with_fp8(path, tensors: dict[str, mx.array], fp8_names: set[str]) -> None:
    """mx.save_safetensors writes uint8; mark the e4m3 tensors F8_E4M3 in the header as official files do."""
    mx.save_safetensors(str(path), tensors)
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + length])
    for name in fp8_names:
        header[name]["dtype"] = "F8_E4M3"
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + raw[8 + length :])


def test_unscaled_scalar_scaled_and_comfy_scaled_fp8_weights(tmp_path):
    values = mx.array([[0.5, -1.25, 3.0, 448.0], [0.0, 2.0, -0.125, 7.5]])
    data = mx.to_fp8(values)
    path = tmp_path / "fp8.safetensors"
    save_with_fp8(
        path,
        {
            "plain.weight": data,
            "scalar.weight": data,
            "scalar.weight_scale": mx.array(0.5),
            "scalar.input_scale": mx.array(1.0),
            "comfy.weight": data,
            "comfy.scale_weight": mx.array([2.0, 4.0]),
            "comfy.scale_input": mx.array(1.0),
            "bias": mx.array([1.0, 2.0]),
        },
        {"plain.weight", "scalar.weight", "comfy.weight"},
    )
    assert read_header(path).tensors["plain.weight"].dtype == "F8_E4M3"
    loaded = load_tensors(path)
    assert sorted(loaded) == ["bias", "comfy.weight", "plain.weight", "scalar.weight"]
    exact = np.array(mx.from_fp8(data, dtype=mx.float32))
    np.testing.assert_array_equal(exact, np.array(values))  # these values are exact in e4m3
    np.testing.assert_array_equal(np.array(loaded["plain.weight"].astype(mx.float32)), exact)
    np.testing.assert_array_equal(np.array(loaded["scalar.weight"].astype(mx.float32)), exact * 0.5)
    np.testing.assert_array_equal(np.array(loaded["comfy.weight"].astype(mx.float32)), exact * [[2.0], [4.0]])
    assert loaded["plain.weight"].dtype == mx.bfloat16 and loaded["bias"].dtype == mx.float32


def test_loading_is_lazy_until_evaluated(tmp_path):
    """mx.load maps safetensors lazily: loading a file allocates nothing until a tensor is used."""
    path = tmp_path / "big.safetensors"
    mx.save_safetensors(str(path), {f"w{i}": mx.ones((512, 512)) for i in range(16)})  # 16 MiB
    mx.clear_cache()
    before = mx.get_active_memory()
    tensors = load_tensors(path)
    assert mx.get_active_memory() - before < 1 << 20
    mx.eval(tensors["w0"])
    assert 1 << 20 <= mx.get_active_memory() - before < 4 << 20
