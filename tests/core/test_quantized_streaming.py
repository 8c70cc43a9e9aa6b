"""Quantised transformer blocks streamed from the quantised cache every step (residency 'stream_blocks'
with quantize_bits), on a tiny LTX-2 model whose widths (64) quantise every linear layer of its blocks.

Measured (mlx 0.32.4, CPU): the 4-bit and the 8-bit streamed generations give the resident quantised
generation's latents bit for bit (video and audio, both stages), as both read the same cached tensors.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.events import StepDone
from ltx_mlx_core.pipeline.pipeline import Pipeline
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.weights import loader_ltx2, residency
from ltx_mlx_core.weights.quantize import cache_path
from ltx_mlx_core.weights.residency import ResidencyMode, block_weights_in_file
from ltx_mlx_core.weights.tiny_ltx2 import TINY_LTX2_TRANSFORMER, LTX2ModelShapes, write_tiny_ltx2_model

WIDE = dict(
    copy.deepcopy(TINY_LTX2_TRANSFORMER),
    attention_head_dim=16,  # 4 heads: 64 wide
    cross_attention_dim=64,
    audio_attention_head_dim=32,  # 2 heads: 64 wide
    audio_cross_attention_dim=64,
    connector_attention_head_dim=16,
    audio_connector_attention_head_dim=32,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_tiny_ltx2_model(tmp_path_factory.mktemp("wide-ltx2"), shapes=LTX2ModelShapes(transformer=WIDE))


def request(job, **changes) -> GenerationRequest:
    base = GenerationRequest(
        prompt="a drum", model="tiny-ltx2", width=128, height=128, num_frames=17, fps=24.0, job_dir=str(job)
    )
    return replace(base, **changes)


def stage_latents(job) -> dict[str, np.ndarray]:
    """Every stage's checkpointed latents (video and audio) of a finished job."""
    return {
        f"{path.stem}/{name}": np.array(array)
        for path in sorted(job.glob("seed*.safetensors"))
        for name, array in mx.load(str(path)).items()
    }


def test_4_bit_streamed_blocks_generate_the_latents_of_4_bit_resident_ones(files, tmp_path, monkeypatch):
    resident = list(Pipeline(files).generate(request(tmp_path / "resident", quantize_bits=4, residency="resident")))
    assert resident[-1].result.residency == "resident"

    reads: list[int] = []
    leftovers: list[int] = []
    real = residency.StreamedBlock._with_weights

    def recording(self, method, *args, **kwargs):
        """Each block call reads the block's weights; once it returns, none of them is held any more."""
        reads.append(self._index)
        result = real(self, method, *args, **kwargs)
        block = object.__getattribute__(self, "_block")
        leftovers.extend(value.size for _, value in tree_flatten(block.parameters()) if value.size > 1)
        return result

    monkeypatch.setattr(residency.StreamedBlock, "_with_weights", recording)
    streamed_job = tmp_path / "streamed"
    events = list(Pipeline(files).generate(request(streamed_job, quantize_bits=4, residency="stream_blocks")))
    assert events[-1].result.residency == "stream_blocks"
    steps = sum(isinstance(e, StepDone) and e.stage.endswith("_pass") for e in events)
    assert steps == 8 + 3 and reads == [0, 1] * steps  # both blocks read again at every step
    assert leftovers == []  # dropped between steps
    ours, theirs = stage_latents(streamed_job), stage_latents(tmp_path / "resident")
    assert sorted(ours) == sorted(theirs) and len(ours) == 4  # video and audio of both stages
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_the_blocks_stream_from_the_quantised_cache_as_packed_integers(files):
    model = loader_ltx2.load_transformer(files, mx.float32, 8, ResidencyMode.STREAM_BLOCKS)
    cached = cache_path(files.checkpoint, "ltx2-transformer", 8, mx.float32)
    blocks = block_weights_in_file(cached, mx.float32)
    assert sorted(blocks) == [0, 1] and blocks[0]["attn1.to_q.weight"].dtype == mx.uint32
    assert blocks[0]["attn1.to_q.scales"].dtype == mx.float32
    resident = loader_ltx2.load_transformer(files, mx.float32, 8)
    kept = dict(tree_flatten(resident.parameters()))
    for name, value in blocks[1].items():
        assert mx.array_equal(value, kept[f"transformer_blocks.1.{name}"]).item(), name
    # Between steps the streamed model holds its other weights only.
    assert not any(name.startswith("transformer_blocks") for name, _ in tree_flatten(model.parameters()))


def test_streaming_quantised_blocks_without_the_cache_is_refused(files):
    with pytest.raises(InvalidRequest, match="stream from the quantised-weights cache"):
        loader_ltx2.load_transformer(files, mx.float32, 4, ResidencyMode.STREAM_BLOCKS, cache_quantized=False)
