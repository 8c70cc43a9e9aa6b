"""The LTX-2 family in the catalog: ids, hub files, sizes against the architectures, quantised (FP8)
downloads, loose official files, and `ltx-mlx models list` grouped by family."""

from __future__ import annotations

import dataclasses
import shutil

import mlx.core as mx
import pytest

from ltx_mlx_core import cli
from ltx_mlx_core.errors import ModelNotInstalled
from ltx_mlx_core.weights import catalog
from ltx_mlx_core.weights.catalog import CATALOG, GB, HubFile, cached_path, is_installed
from ltx_mlx_core.weights.components import components_of
from ltx_mlx_core.weights.download import download_file, remove_model
from ltx_mlx_core.weights.ltx2_full_size import component_shapes, parameter_count
from ltx_mlx_core.weights.registry import resolve_model
from ltx_mlx_core.weights.residency import ResidencyMode
from ltx_mlx_core.weights.tiny_ltx2 import CHECKPOINT, write_tiny_ltx2_model
from tests.core.test_download import hub  # noqa: F401  (the local hub server fixture)

LTX2_IDS = (
    "ltx-2-19b-distilled",
    "ltx-2-19b-dev",
    "ltx-2.3-22b-distilled",
    "ltx-2.3-22b-dev",
    "ltx-2.5-22b-distilled",
    "ltx-2.5-22b-dev",
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-ltx2")
    write_tiny_ltx2_model(folder)
    return folder


def test_every_ltx2_id_has_its_release_files_and_licences():
    for model_id in LTX2_IDS:
        entry = CATALOG[model_id]
        release, variant = model_id.split("-")[1], model_id.rsplit("-", 1)[1]
        assert (entry.family, entry.version, entry.variant) == ("ltx2", release, variant)
        assert (
            entry.checkpoint.repo_id
            == {"2": "Lightricks/LTX-2", "2.3": "Lightricks/LTX-2.3", "2.5": "Lightricks/LTX-2.5"}[release]
        )
        assert variant in entry.checkpoint.filename and entry.upsampler is not None
        assert "LTX-2 Community License" in entry.licence and "Gemma" in entry.text_encoder_licence
        assert (entry.distilled_lora is not None) == (variant == "dev" and release != "2.5")
        if release == "2.5":  # split files, the Gemma 4 file with its projection from the same repo
            assert entry.video_vae and entry.audio_vae and entry.text_encoder[0].repo_id == "Lightricks/LTX-2.5"
            assert "gated" in entry.licence
        else:  # Gemma 3 12B from Google's repo, sharded behind its index
            assert entry.text_encoder[0].repo_id == "google/gemma-3-12b-it-qat-q4_0-unquantized"
            assert any(f.lists_shards for f in entry.text_encoder)
    assert CATALOG["ltx-2-19b-dev"].fp8_checkpoint.filename == "ltx-2-19b-dev-fp8.safetensors"
    assert CATALOG["ltx-2.3-22b-dev"].fp8_checkpoint.repo_id == "Lightricks/LTX-2.3-fp8"


def _bf16(*counts: int) -> int:
    return 2 * sum(counts)


@pytest.mark.parametrize("model_id", ["ltx-2-19b-distilled", "ltx-2.3-22b-distilled", "ltx-2.5-22b-distilled"])
def test_catalog_sizes_agree_with_the_architectures(model_id):
    """Listed sizes within 10% of what the released configs' tensors take in bf16 (none are in FP8)."""
    entry = CATALOG[model_id]
    parts = {name: parameter_count(shapes) for name, shapes in component_shapes(entry.version).items()}
    projection = parameter_count(
        {k: v for k, v in component_shapes(entry.version)["text_path"].items() if k.startswith("feature_extractor.")}
    )
    if entry.version == "2.5":
        expected = {
            entry.checkpoint: _bf16(parts["transformer"], parts["text_path"] - projection),
            entry.text_encoder[0]: _bf16(parts["gemma"], projection),
            entry.video_vae: _bf16(parts["video_vae"]),
            entry.audio_vae: _bf16(parts["audio_vae"], parts["vocoder"]),
        }
    else:
        expected = {
            entry.checkpoint: _bf16(
                *(parts[k] for k in ("transformer", "text_path", "video_vae", "audio_vae", "vocoder"))
            )
        }
        # The Gemma 3 repository also holds the vision tower (about 0.4 B parameters).
        assert abs(entry.text_encoder_bytes - _bf16(parts["gemma"], 417_000_000)) / entry.text_encoder_bytes < 0.1
    expected[entry.upsampler] = _bf16(parts["upsampler"])
    for hub_file, actual in expected.items():
        assert abs(hub_file.approx_bytes - actual) / actual < 0.10, (
            hub_file.filename,
            hub_file.approx_bytes / GB,
            actual / GB,
        )


def test_models_list_groups_by_family(capsys):
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    ltxv, ltx2 = lines.index("LTX-Video 0.9.x (video)"), lines.index("LTX-2 family (video with sound)")
    row = {line.split()[0]: index for index, line in enumerate(lines) if line.startswith("  ") and line.split()}
    ltxv_ids = ["tiny", *(m for m in CATALOG if m.startswith("ltxv"))]
    assert ltxv < min(row[m] for m in ltxv_ids) and max(row[m] for m in ltxv_ids) < ltx2
    assert ltx2 < min(row[m] for m in ("tiny-ltx2", *LTX2_IDS))
    assert "FP8 download" in out and "Gemma Terms of Use" in out


def test_models_info_shows_the_family_and_the_fp8_choice(capsys):
    assert cli.main(["models", "info", "ltx-2.3-22b-dev"]) == 0
    info = capsys.readouterr().out
    assert "LTX-2 family" in info and "release 2.3, dev" in info and "--quantized" in info
    assert "Lightricks/LTX-2.3-fp8  ltx-2.3-22b-dev-fp8.safetensors  29.1 GB  [not downloaded]" in info
    assert "google/gemma-3-12b-it-qat-q4_0-unquantized  model.safetensors.index.json" in info
    assert cli.main(["models", "info", "tiny-ltx2"]) == 0
    assert "make-tiny --family ltx2" in capsys.readouterr().out


def _serve_tiny(hub, tiny_dir, repo: str, gemma_repo: str) -> tuple[HubFile, ...]:  # noqa: F811
    """The tiny model's Gemma folder on the local hub; its HubFiles."""
    names = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
    for name in names:
        hub.files[f"{gemma_repo}/{name}"] = (tiny_dir / "gemma" / name).read_bytes()
    hub.files[f"{repo}/up.safetensors"] = (tiny_dir / "tiny-ltx2-spatial-upscaler-x2.safetensors").read_bytes()
    return tuple(HubFile(gemma_repo, name) for name in names)


def test_a_quantised_choice_downloads_the_fp8_checkpoint_only(hub, tiny_dir, monkeypatch):  # noqa: F811
    repo = "Lightricks/LTX-2-test"
    text = _serve_tiny(hub, tiny_dir, repo, "google/tiny-gemma")
    hub.files[f"{repo}/test-fp8.safetensors"] = (tiny_dir / CHECKPOINT).read_bytes()
    entry = dataclasses.replace(
        CATALOG["ltx-2.3-22b-dev"],
        model_id="ltx-2-test",
        checkpoint=HubFile(repo, "test.safetensors"),
        fp8_checkpoint=HubFile(repo, "test-fp8.safetensors"),
        upsampler=HubFile(repo, "up.safetensors"),
        temporal_upsampler=None,
        distilled_lora=None,
        text_encoder=text,
    )
    monkeypatch.setitem(catalog.CATALOG, "ltx-2-test", entry)
    assert cli.main(["models", "download", "ltx-2-test", "--quantized"]) == 0
    assert cached_path(entry.checkpoint) is None and cached_path(entry.fp8_checkpoint) is not None
    assert is_installed(entry)
    files = resolve_model("ltx-2-test")
    assert files.checkpoint == cached_path(entry.fp8_checkpoint) and files.variant == "dev"
    components_of(files).load_transformer(mx.float32, None, ResidencyMode.RESIDENT)
    assert remove_model("ltx-2-test") > 0 and not is_installed(entry)


def test_a_loose_official_file_finds_its_text_encoder_in_the_cache(hub, tiny_dir, tmp_path, monkeypatch):  # noqa: F811
    repo = "Lightricks/LTX-2-test"
    text = _serve_tiny(hub, tiny_dir, repo, "google/tiny-gemma")
    monkeypatch.setitem(
        catalog.CATALOG,
        "ltx-2.3-22b-distilled",
        dataclasses.replace(CATALOG["ltx-2.3-22b-distilled"], text_encoder=text),
    )
    loose = tmp_path / "my-ltx-2.3-dev-finetune.safetensors"
    shutil.copyfile(tiny_dir / CHECKPOINT, loose)
    shutil.copyfile(
        tiny_dir / "tiny-ltx2-spatial-upscaler-x2.safetensors", tmp_path / "ltx-2.3-spatial-upscaler-x2-1.1.safetensors"
    )
    with pytest.raises(ModelNotInstalled, match="ltx-mlx models download ltx-2.3-22b-distilled"):
        resolve_model(str(loose))
    for hub_file in text:
        download_file(hub_file)
    files = resolve_model(str(loose))
    assert (files.family, files.version, files.variant) == ("ltx2", "2.3", "dev")
    assert files.upsampler.name == "ltx-2.3-spatial-upscaler-x2-1.1.safetensors"
    assert files.video_vae is None and files.audio_vae is None  # both are in the single file
