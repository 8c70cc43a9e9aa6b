"""LTX-2 family weights: official single files and the tiny model load component by component, through
the catalog path; broken files fail naming the tensor; FP8 files dequantise exactly; quantised loads
come from the MLX cache the second time."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_mlx_core import cli
from ltx_mlx_core.errors import CheckpointError, InvalidRequest
from ltx_mlx_core.models.ltx2.positions import audio_positions, video_positions
from ltx_mlx_core.models.ltx2.transformer import ModalityInput
from ltx_mlx_core.text.gemma_tokenizer import GemmaTokenizer
from ltx_mlx_core.text.ltx2_prompt import encode_prompt
from ltx_mlx_core.weights import catalog, loader_ltx2, quantize
from ltx_mlx_core.weights.catalog import CatalogEntry, HubFile
from ltx_mlx_core.weights.components import FileComponents, components_of
from ltx_mlx_core.weights.download import download_file, download_model
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.tiny import make_tiny_model
from ltx_mlx_core.weights.tiny_ltx2 import CHECKPOINT, write_tiny_ltx2_model
from tests.core.test_download import hub  # noqa: F401  (the local hub server fixture)
from tests.core.test_weights_fp8 import save_with_fp8

PREFIX = "model.diffusion_model."


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-ltx2")
    write_tiny_ltx2_model(folder)
    return folder


def _files(tiny_dir: Path, **changes):
    files = resolve_model(str(tiny_dir))
    return type(files)(**{**files.__dict__, **changes})


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of an official file with `change(tensors)` applied and the same header config."""
    tensors, metadata = mx.load(str(source), return_metadata=True)
    change(tensors)
    mx.save_safetensors(str(target), tensors, metadata=metadata)
    return target


def _step(components: FileComponents, dtype=mx.float32):
    """Prompt -> embeddings -> one transformer call on video and audio tokens, and both decoders."""
    _, gemma = components.load_text_encoder(dtype, None)
    tokenizer = GemmaTokenizer.from_folder(components.files.tokenizer_dir, max_length=16)
    prompt = encode_prompt(["a red car on a road"], tokenizer, gemma, components.load_embeddings_processor(dtype))
    transformer = components.load_transformer(dtype, None, ResidencyMode.RESIDENT)
    config = transformer.config
    frames, rows, cols, audio_frames = 2, 2, 3, 5
    keys = mx.random.split(mx.random.key(7), 4)
    video = ModalityInput(
        latent=mx.random.normal((1, frames * rows * cols, config.in_channels), key=keys[0]),
        sigma=mx.array([0.7]),
        timesteps=mx.array([0.7]),
        positions=video_positions(1, frames, rows, cols, fps=24.0),
        context=prompt.video,
    )
    audio = ModalityInput(
        latent=mx.random.normal((1, audio_frames, config.audio_in_channels), key=keys[1]),
        sigma=mx.array([0.7]),
        timesteps=mx.array([0.7]),
        positions=audio_positions(1, audio_frames),
        context=prompt.audio,
    )
    video_out, audio_out = transformer(video, audio)
    vae, audio_vae, vocoder = (
        components.load_vae(dtype),
        components.load_audio_vae(dtype),
        components.load_vocoder(dtype),
    )
    pixels = vae.decode(mx.random.normal((1, frames, rows, cols, vae.config.latent_channels), key=keys[2]))
    latents = mx.random.normal(
        (1, audio_vae.config.z_channels, audio_frames, audio_vae.config.latent_mel_bins), key=keys[3]
    )
    sound = vocoder(audio_vae.decode(latents))
    mx.eval(video_out, audio_out, pixels, sound)
    return video_out, audio_out, pixels, sound


def test_make_tiny_ltx2_from_the_command_line_resolves_and_runs(capsys):
    assert cli.main(["models", "make-tiny", "--family", "ltx2"]) == 0
    assert "tiny-ltx2" in capsys.readouterr().out
    files = resolve_model("tiny-ltx2")
    assert (files.family, files.version, files.variant, files.is_test_model) == ("ltx2", "2.3", "distilled", True)
    components = components_of(files)
    assert (components.family, components.has_upsampler, components.has_temporal_upsampler) == ("ltx2", True, True)
    video, audio, pixels, sound = _step(components)
    assert video.shape == (1, 12, 8) and audio.shape == (1, 5, 16)
    assert pixels.shape == (1, 9, 64, 96, 3)
    assert sound.shape[:2] == (1, 2) and sound.shape[2] % 480 == 0  # 48 kHz stereo, whole mel hops
    spatial, temporal = components.load_upsampler(mx.float32), components.load_temporal_upsampler(mx.float32)
    assert spatial.config.spatial_upsample and temporal.config.temporal_upsample


def test_the_tiny_ltx2_model_is_deterministic(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    write_tiny_ltx2_model(first), write_tiny_ltx2_model(second)
    for name in (CHECKPOINT, "gemma/model.safetensors"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_an_official_single_file_loads_through_the_catalog_path(hub, tiny_dir, monkeypatch):  # noqa: F811
    """Served by a hub, downloaded into the HF cache (the Gemma shards through their index), resolved, loaded."""
    gemma_repo, repo = "google/tiny-gemma", "Lightricks/LTX-2-test"
    hub.files[f"{repo}/ltx-2-test.safetensors"] = (tiny_dir / CHECKPOINT).read_bytes()
    hub.files[f"{repo}/up.safetensors"] = (tiny_dir / "tiny-ltx2-spatial-upscaler-x2.safetensors").read_bytes()
    weights = dict(mx.load(str(tiny_dir / "gemma" / "model.safetensors")))
    names = sorted(weights)
    shards = {
        "model-00001-of-00002.safetensors": names[: len(names) // 2],
        "model-00002-of-00002.safetensors": names[len(names) // 2 :],
    }
    for shard, keys in shards.items():
        path = tiny_dir.parent / shard
        mx.save_safetensors(str(path), {k: weights[k] for k in keys})
        hub.files[f"{gemma_repo}/{shard}"] = path.read_bytes()
    index = {"weight_map": {key: shard for shard, keys in shards.items() for key in keys}}
    hub.files[f"{gemma_repo}/model.safetensors.index.json"] = json.dumps(index).encode()
    text_files = ["config.json", "tokenizer.json", "tokenizer_config.json"]
    for name in text_files:
        hub.files[f"{gemma_repo}/{name}"] = (tiny_dir / "gemma" / name).read_bytes()
    entry = CatalogEntry(
        "ltx-2-test",
        "Test",
        HubFile(repo, "ltx-2-test.safetensors"),
        HubFile(repo, "up.safetensors"),
        None,
        family="ltx2",
        version="2.3",
        variant="distilled",
        text_encoder=(
            HubFile(gemma_repo, "config.json"),
            HubFile(gemma_repo, "model.safetensors.index.json", lists_shards=True),
            HubFile(gemma_repo, "tokenizer.json"),
            HubFile(gemma_repo, "tokenizer_config.json"),
        ),
    )
    monkeypatch.setitem(catalog.CATALOG, "ltx-2-test", entry)
    assert not catalog.is_installed(entry)
    events = []
    download_model("ltx-2-test", progress=events.append)
    assert {e.filename for e in events} >= set(shards) and events[-1].file_count == 8
    assert catalog.is_installed(entry)
    files = resolve_model("ltx-2-test")
    assert files.family == "ltx2" and files.text_encoder_dir.name != "gemma"
    components = components_of(files)
    ours = _step(components)
    reference = _step(components_of(resolve_model(str(tiny_dir))))
    for a, b in zip(ours, reference):
        np.testing.assert_array_equal(np.array(a), np.array(b))


def test_a_missing_component_is_named(tiny_dir, tmp_path):
    def drop_audio(tensors):
        for key in [k for k in tensors if k.startswith("audio_vae.")]:
            del tensors[key]

    files = _files(tiny_dir, checkpoint=_rewrite(tiny_dir / CHECKPOINT, tmp_path / "no-audio.safetensors", drop_audio))
    with pytest.raises(CheckpointError, match=r"no-audio.safetensors' holds no audio VAE \('audio_vae\.\*'\)"):
        loader_ltx2.load_audio_vae(files, mx.float32)
    loader_ltx2.load_video_vae(files, mx.float32)  # the other components still load


def test_a_missing_tensor_is_named_as_the_file_names_it(tiny_dir, tmp_path):
    name = PREFIX + "transformer_blocks.1.attn1.to_out.0.weight"
    files = _files(
        tiny_dir, checkpoint=_rewrite(tiny_dir / CHECKPOINT, tmp_path / "gap.safetensors", lambda t: t.pop(name))
    )
    with pytest.raises(CheckpointError, match=f"gap.safetensors' lacks the transformer tensor '{name}'"):
        loader_ltx2.load_transformer(files, mx.float32)


@pytest.mark.parametrize(
    "name, what",
    [
        (PREFIX + "transformer_blocks.0.attn2.to_k.weight", "transformer"),
        ("vae.decoder.conv_in.conv.weight", "video VAE"),
        ("text_embedding_projection.video_aggregate_embed.weight", "text path"),
    ],
)
def test_a_wrong_shape_is_named_with_both_shapes(tiny_dir, tmp_path, name, what):
    def shrink(tensors):
        tensors[name] = tensors[name][:-1]

    files = _files(tiny_dir, checkpoint=_rewrite(tiny_dir / CHECKPOINT, tmp_path / "bad.safetensors", shrink))
    load = {
        "transformer": loader_ltx2.load_transformer,
        "video VAE": loader_ltx2.load_video_vae,
        "text path": loader_ltx2.load_embeddings_processor,
    }[what]
    with pytest.raises(CheckpointError, match=rf"the {what} tensor '{name}' has shape \(\d+"):
        load(files, mx.float32)


def test_a_file_without_its_config_is_refused(tiny_dir, tmp_path):
    tensors = mx.load(str(tiny_dir / CHECKPOINT))
    mx.save_safetensors(str(tmp_path / "bare.safetensors"), tensors)
    files = _files(tiny_dir, checkpoint=tmp_path / "bare.safetensors")
    with pytest.raises(CheckpointError, match="no 'transformer' config"):
        loader_ltx2.load_transformer(files, mx.float32)


def test_fp8_file_dequantises_exactly(tiny_dir, tmp_path):
    """ltx-core's FP8 layout: e4m3 block weights, a float32 per-tensor weight_scale and an input_scale."""
    tensors, metadata = mx.load(str(tiny_dir / CHECKPOINT), return_metadata=True)
    expected = {}
    for name, value in list(tensors.items()):
        if name.startswith(PREFIX + "transformer_blocks.") and name.endswith(".weight") and value.ndim == 2:
            scale = mx.max(mx.abs(value)) / 448.0
            tensors[name] = mx.to_fp8(value / scale)
            tensors[name.replace(".weight", ".weight_scale")] = scale.astype(mx.float32)
            tensors[name.replace(".weight", ".input_scale")] = mx.array(1.0)
            expected[name] = (mx.from_fp8(tensors[name], dtype=mx.float32) * scale).astype(mx.bfloat16)
    path = tmp_path / "fp8.safetensors"
    save_with_fp8(path, tensors, set(expected))
    header = json.loads(path.read_bytes()[8 : 8 + int.from_bytes(path.read_bytes()[:8], "little")])
    header["__metadata__"] = metadata
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    raw = path.read_bytes()
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + raw[8 + int.from_bytes(raw[:8], "little") :])

    model = loader_ltx2.load_transformer(_files(tiny_dir, checkpoint=path), mx.float32)
    params = dict(tree_flatten(model.parameters()))
    for name, value in expected.items():
        ours = name[len(PREFIX) :].replace(".to_out.0.", ".to_out.").replace("ff.net.0.proj.", "ff.proj_in.")
        ours = ours.replace("ff.net.2.", "ff.proj_out.")
        np.testing.assert_array_equal(np.array(params[ours]), np.array(value.astype(mx.float32)))
    assert len(expected) > 20


def test_quantised_transformer_and_gemma_come_from_the_cache_the_second_time(tiny_dir, monkeypatch):
    files = resolve_model(str(tiny_dir))
    first = loader_ltx2.load_transformer(files, mx.float32, quantize_bits=8)
    _, gemma = loader_ltx2.load_text_encoder(files, mx.float32, quantize_bits=8)
    assert hasattr(gemma.language_model.model.embed_tokens, "scales")  # the embedding is quantised too
    monkeypatch.setattr(loader_ltx2.layout_ltx2, "read_transformer", lambda *_: pytest.fail("read the file again"))
    monkeypatch.setattr(loader_ltx2, "_build_gemma", lambda *_: pytest.fail("read the Gemma files again"))
    second = loader_ltx2.load_transformer(files, mx.float32, quantize_bits=8)
    loader_ltx2.load_text_encoder(files, mx.float32, quantize_bits=8)
    a, b = dict(tree_flatten(first.parameters())), dict(tree_flatten(second.parameters()))
    assert a.keys() == b.keys() and all(mx.array_equal(a[k], b[k]).item() for k in a)
    assert len(list((quantize.cache_dir() / "quantized").glob("*.safetensors"))) == 2


def test_streamed_blocks_compute_what_resident_blocks_do(tiny_dir):
    resident = _step(components_of(resolve_model(str(tiny_dir))))[:2]
    streaming = components_of(resolve_model(str(tiny_dir)))
    streaming.load_transformer = lambda dtype, bits, _: loader_ltx2.load_transformer(
        streaming.files, dtype, residency=ResidencyMode.STREAM_BLOCKS
    )
    streamed = _step(streaming)[:2]
    for a, b in zip(resident, streamed):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-5, atol=1e-5)


def test_a_0_9_model_has_no_ltx2_components():
    make_tiny_model()
    components = components_of(resolve_model("tiny"))
    assert components.family == "ltxv" and components.version == "0.9.8"
    with pytest.raises(InvalidRequest, match="no audio VAE"):
        components.load_audio_vae(mx.float32)


def _split_like_ltx25(tiny_dir: Path, folder: Path) -> dict[str, Path]:
    """The tiny model as LTX-2.5 ships: transformer, video VAE, audio VAE (+ vocoder) and a Gemma file
    that carries the text projection, each a file of its own with its config in the header."""
    tensors, metadata = mx.load(str(tiny_dir / CHECKPOINT), return_metadata=True)
    config = json.loads(metadata["config"])

    def part(name: str, prefixes: tuple[str, ...], sections: dict) -> Path:
        path = folder / name
        mx.save_safetensors(
            str(path),
            {k: v for k, v in tensors.items() if k.startswith(prefixes)},
            metadata={"config": json.dumps(sections)},
        )
        return path

    gemma = dict(mx.load(str(tiny_dir / "gemma" / "model.safetensors")))
    gemma.update({k: v for k, v in tensors.items() if k.startswith("text_embedding_projection.")})
    gemma_config = json.loads((tiny_dir / "gemma" / "config.json").read_text())
    mx.save_safetensors(
        str(folder / "gemma4-with-proj.safetensors"), gemma, metadata={"config": json.dumps(gemma_config)}
    )
    return {
        "transformer": part("ltx-2.5-test-transformer.safetensors", (PREFIX,), {"transformer": config["transformer"]}),
        "video_vae": part("ltx-2.5-video-vae.safetensors", ("vae.",), {"vae": config["vae"]}),
        "audio_vae": part(
            "ltx-2.5-audio-vae.safetensors",
            ("audio_vae.", "vocoder."),
            {"audio_vae": config["audio_vae"], "vocoder": config["vocoder"]},
        ),
        "gemma": folder / "gemma4-with-proj.safetensors",
    }


def test_split_component_files_load_like_the_single_file(tiny_dir, tmp_path):
    split = _split_like_ltx25(tiny_dir, tmp_path)
    files = _files(
        tiny_dir,
        checkpoint=split["transformer"],
        video_vae=split["video_vae"],
        audio_vae=split["audio_vae"],
        text_encoder_dir=split["gemma"],
    )
    for a, b in zip(_step(components_of(files)), _step(components_of(resolve_model(str(tiny_dir))))):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    shapes = components_of(files).shapes()
    assert any(name.startswith("text_embedding_projection.") for name in shapes.text_path)  # from the Gemma file
    assert shapes.vocoder and shapes.audio_vae and shapes.video_vae


def test_a_loose_split_transformer_file_finds_its_parts_beside_it(hub, tiny_dir, tmp_path, monkeypatch):  # noqa: F811
    split = _split_like_ltx25(tiny_dir, tmp_path)
    repo = "Lightricks/LTX-2-test"
    hub.files[f"{repo}/gemma.safetensors"] = split["gemma"].read_bytes()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        hub.files[f"{repo}/tokenizer/{name}"] = (tiny_dir / "gemma" / name).read_bytes()
    entry = catalog.CATALOG["ltx-2.3-22b-distilled"]
    text = (HubFile(repo, "gemma.safetensors"),)
    tokenizer = tuple(HubFile(repo, f"tokenizer/{n}") for n in ("tokenizer.json", "tokenizer_config.json"))
    monkeypatch.setitem(
        catalog.CATALOG,
        entry.model_id,
        dataclasses.replace(entry, text_encoder=text, tokenizer=tokenizer, text_encoder_bytes=0),
    )
    for hub_file in (*text, *tokenizer):
        download_file(hub_file)
    files = resolve_model(str(split["transformer"]))
    assert (files.video_vae, files.audio_vae) == (split["video_vae"], split["audio_vae"])
    assert files.text_encoder_dir.suffix == ".safetensors" and files.tokenizer_dir.name == "tokenizer"
    components = components_of(files)
    components.load_vocoder(mx.float32), components.load_embeddings_processor(mx.float32)
