"""safetensors files read through their header; tensors loaded lazily with MLX; written one tensor at a time.

`mx.load` maps a safetensors file lazily: nothing is read until an array is
evaluated, and an evaluated array whose last reference is dropped is freed.
That is what residency modes build on. FP8 (F8_E4M3) tensors come back as raw
uint8 from `mx.load`; the header tells us which ones they are (see fp8.py).
`write_one_at_a_time` is the same idea for writing: `mx.save_safetensors` holds every array it is
given until it returns, so a lazily computed model (one being quantised) would be in memory whole.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError
from ltx_mlx_core.weights.fp8 import dequantize_fp8_tensors

MAX_HEADER_BYTES = 100 * 1024 * 1024
FILE_DTYPES = {
    mx.bool_: "BOOL",
    mx.uint8: "U8",
    mx.int8: "I8",
    mx.uint16: "U16",
    mx.int16: "I16",
    mx.uint32: "U32",
    mx.int32: "I32",
    mx.uint64: "U64",
    mx.int64: "I64",
    mx.float16: "F16",
    mx.bfloat16: "BF16",
    mx.float32: "F32",
}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass
class SafetensorsHeader:
    path: Path
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(info.nbytes for info in self.tensors.values())

    def config(self) -> dict[str, Any]:
        """The JSON the official single-file checkpoints embed under metadata["config"]."""
        raw = self.metadata.get("config")
        if raw is None:
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            raise CheckpointError(
                f"'{self.path.name}' has an embedded config that is not valid JSON: {error}."
            ) from None

    def keys_with_prefix(self, prefix: str) -> list[str]:
        return [key for key in self.tensors if key.startswith(prefix)]


def read_header(path: str | Path) -> SafetensorsHeader:
    """Parse the 8-byte length + JSON header; a clear CheckpointError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"The weights file '{path}' does not exist.")
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"'{path.name}' is not a safetensors file: it is only {len(prefix)} bytes long.")
        (length,) = struct.unpack("<Q", prefix)
        size = path.stat().st_size
        if length == 0 or length > MAX_HEADER_BYTES or 8 + length > size:
            raise CheckpointError(
                f"'{path.name}' is not a safetensors file (its first 8 bytes do not give a valid header length); "
                "it may be truncated or another format."
            )
        try:
            header = json.loads(handle.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CheckpointError(f"'{path.name}' is not a safetensors file: its header is not JSON.") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"'{path.name}' is not a safetensors file: its header is not a JSON object.")
    metadata = header.pop("__metadata__", None) or {}
    tensors: dict[str, TensorInfo] = {}
    data_size = size - 8 - length
    for name, entry in header.items():
        try:
            start, end = entry["data_offsets"]
            tensors[name] = TensorInfo(entry["dtype"], tuple(entry["shape"]), end - start)
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"'{path.name}' has a malformed entry for tensor '{name}'.") from None
        if end > data_size:
            raise CheckpointError(
                f"'{path.name}' is truncated: tensor '{name}' ends at byte {end} of a {data_size}-byte data section. "
                "Download it again."
            )
    return SafetensorsHeader(path=path, tensors=tensors, metadata=dict(metadata))


def load_tensors(
    path: str | Path, prefix: str = "", keys: Iterable[str] | None = None, header: SafetensorsHeader | None = None
) -> dict[str, mx.array]:
    """Lazily loaded tensors whose names start with `prefix` (prefix removed), FP8 dequantised."""
    header = header or read_header(path)
    try:
        arrays = mx.load(str(path))
    except (RuntimeError, ValueError) as error:
        raise CheckpointError(f"MLX could not read '{Path(path).name}': {error}") from None
    wanted = set(keys) if keys is not None else None
    selected = {
        name: array for name, array in arrays.items() if name.startswith(prefix) and (wanted is None or name in wanted)
    }
    selected = dequantize_fp8_tensors(selected, {name: header.tensors[name].dtype for name in selected})
    return {name[len(prefix) :]: array for name, array in selected.items()}


def write_one_at_a_time(path: str | Path, tensors: dict[str, mx.array], metadata: dict[str, str] | None = None) -> None:
    """Write `tensors` (lazy or not) as a safetensors file, evaluating each just before it is written and
    removing it from `tensors` after, so only one tensor's graph is in memory at a time; `tensors` ends empty.

    The header needs only shapes and dtypes, so it is written first and nothing is evaluated for it.
    """
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for name, array in tensors.items():
        end = offset + array.size * array.dtype.size
        header[name] = {"dtype": FILE_DTYPES[array.dtype], "shape": list(array.shape), "data_offsets": [offset, end]}
        offset = end
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        for name in list(tensors):
            array = mx.contiguous(tensors.pop(name))
            mx.eval(array)
            handle.write(memoryview(array))
            del array  # freed before the next tensor is computed
