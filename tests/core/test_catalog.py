"""The model catalog, its sizes against the architectures, and `ltx-mlx models ...` end to end."""

from __future__ import annotations

import os

import pytest

from ltx_mlx_core import cli
from ltx_mlx_core.errors import ModelNotInstalled
from ltx_mlx_core.models.ltxv.transformer_config import LTXV_2B_098, LTXV_13B_098
from ltx_mlx_core.weights import catalog
from ltx_mlx_core.weights.catalog import CATALOG, T5_REPO, CatalogEntry, HubFile, cached_path, is_installed
from ltx_mlx_core.weights.download import download_file
from ltx_mlx_core.weights.registry import list_models, resolve_model, tiny_model_dir
from ltx_mlx_core.weights.tiny import make_tiny_model
from tests.core.full_size_files import write_full_size_model
from tests.core.test_download import REPO, hub  # noqa: F401  (the local hub server fixture)


def test_every_entry_names_official_hub_files_and_its_licence():
    ltxv = {model_id: entry for model_id, entry in CATALOG.items() if entry.family == "ltxv"}
    assert set(ltxv) == {
        "ltxv-2b-0.9.8-distilled",
        "ltxv-2b-0.9.8-distilled-fp8",
        "ltxv-13b-0.9.8-distilled",
        "ltxv-13b-0.9.8-distilled-fp8",
    }
    for model_id, entry in ltxv.items():
        assert entry.checkpoint.repo_id == "Lightricks/LTX-Video"
        assert entry.checkpoint.filename == f"{model_id}.safetensors"
        assert entry.upsampler.filename == "ltxv-spatial-upscaler-0.9.8.safetensors"
        assert {f.repo_id for f in entry.text_encoder} == {"PixArt-alpha/PixArt-XL-2-1024-MS"}
        assert "LTX-Video Open Weights" in entry.licence
        assert entry.pipeline_config.startswith(model_id)


@pytest.mark.parametrize(
    "model_id, config, dtype",
    [
        ("ltxv-2b-0.9.8-distilled", LTXV_2B_098, "BF16"),
        ("ltxv-13b-0.9.8-distilled", LTXV_13B_098, "BF16"),
        ("ltxv-2b-0.9.8-distilled-fp8", LTXV_2B_098, "F8_E4M3"),
        ("ltxv-13b-0.9.8-distilled-fp8", LTXV_13B_098, "F8_E4M3"),
    ],
)
def test_catalog_sizes_agree_with_the_architectures(tmp_path, model_id, config, dtype):
    """The approximate sizes shown to users are within 10% of what the model shapes take on disk."""
    files = write_full_size_model(tmp_path, config, dtype)
    actual = files.checkpoint.stat().st_size
    listed = CATALOG[model_id].checkpoint.approx_bytes
    assert abs(listed - actual) / actual < 0.10, (listed / 1e9, actual / 1e9)


def test_nothing_is_installed_in_an_empty_cache():
    assert not any(is_installed(entry) for entry in CATALOG.values())


def test_models_list_shows_sizes_status_and_licences(capsys):
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for model_id in [*CATALOG, "tiny"]:
        assert model_id in out
    assert "not made" in out and "available" in out and "LTX-Video Open Weights" in out


def test_make_tiny_then_remove_it_from_the_command_line(capsys):
    assert cli.main(["models", "make-tiny"]) == 0
    assert "its output is noise" in capsys.readouterr().out
    files = resolve_model("tiny")
    assert files.is_test_model and files.checkpoint.is_file() and (tiny_model_dir() / "README.txt").is_file()
    assert "noise" in (tiny_model_dir() / "README.txt").read_text()
    assert cli.main(["models", "list"]) == 0
    assert "installed" in capsys.readouterr().out.split("tiny", 1)[1].splitlines()[0]
    assert cli.main(["models", "remove", "tiny"]) == 0
    assert not tiny_model_dir().exists()


def test_make_tiny_is_deterministic(tmp_path):
    first = make_tiny_model(tmp_path / "a")
    second = make_tiny_model(tmp_path / "b")
    for name in ("tiny.safetensors", "tiny-spatial-upscaler.safetensors", "text_encoder/model.safetensors"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_download_and_remove_a_catalog_model_from_the_command_line(hub, monkeypatch, capsys):  # noqa: F811
    names = ["ckpt.safetensors", "up.safetensors", "text_encoder/config.json"]
    for name in names:
        hub.files[f"{REPO}/{name}"] = os.urandom(2048)
    entry = CatalogEntry(
        "test-model",
        "Test",
        HubFile(REPO, names[0]),
        HubFile(REPO, names[1]),
        "tiny.yaml",
        text_encoder=(HubFile(REPO, names[2]),),
    )
    monkeypatch.setitem(catalog.CATALOG, "test-model", entry)
    assert cli.main(["models", "download", "test-model"]) == 0
    assert "test-model is ready" in capsys.readouterr().out
    assert is_installed(entry)
    assert cli.main(["models", "remove", "test-model"]) == 0
    assert cached_path(entry.checkpoint) is None
    assert cached_path(entry.upsampler) is not None  # shared with the other models: kept


def test_a_single_checkpoint_file_uses_the_cached_text_encoder(hub, tmp_path):  # noqa: F811
    import mlx.core as mx

    checkpoint = tmp_path / "ltxv-2b-0.9.8-distilled.safetensors"
    mx.save_safetensors(str(checkpoint), {"vae.x": mx.zeros((2,))})
    with pytest.raises(ModelNotInstalled, match="'ltxv-2b-0.9.8-distilled.safetensors' needs the T5 text encoder"):
        resolve_model(str(checkpoint))
    for name in ("text_encoder/config.json", "tokenizer/tokenizer_config.json"):
        hub.files[f"{T5_REPO}/{name}"] = b"{}"
        download_file(HubFile(T5_REPO, name))
    beside = tmp_path / "ltxv-spatial-upscaler-0.9.8.safetensors"
    mx.save_safetensors(str(beside), {"x": mx.zeros((2,))})
    files = resolve_model(str(checkpoint))
    assert files.checkpoint == checkpoint and files.upsampler == beside
    assert (files.text_encoder_dir / "config.json").is_file() and files.tokenizer_dir.name == "tokenizer"
    assert files.config.endswith("configs/ltxv-2b-0.9.8-distilled.yaml")


def test_verify_finds_a_file_damaged_after_download(hub, monkeypatch, capsys):  # noqa: F811
    names = ["ckpt.safetensors", "up.safetensors"]
    for name in names:
        hub.files[f"{REPO}/{name}"] = os.urandom(4096)
    entry = CatalogEntry(
        "test-model", "Test", HubFile(REPO, names[0]), HubFile(REPO, names[1]), "tiny.yaml", text_encoder=()
    )
    monkeypatch.setitem(catalog.CATALOG, "test-model", entry)
    assert cli.main(["models", "download", "test-model"]) == 0
    assert cli.main(["models", "verify", "test-model"]) == 0
    assert "every file matches" in capsys.readouterr().out
    blob = cached_path(entry.checkpoint).resolve()
    blob.chmod(0o644)
    with open(blob, "r+b") as handle:
        handle.write(b"\xff\xff")
    assert cli.main(["models", "verify", "test-model"]) == 1
    assert "ckpt.safetensors was damaged on disk" in capsys.readouterr().out
    assert cached_path(entry.checkpoint) is None and not blob.exists()


def test_list_models_reports_what_is_on_this_machine():
    before = {row.model_id: row for row in list_models()}
    assert set(before) == {"tiny", "tiny-ltx2", *CATALOG} and not any(row.installed for row in before.values())
    assert before["tiny"].is_test_model and "noise" in before["tiny"].licence
    make_tiny_model()
    assert {row.model_id: row.installed for row in list_models()}["tiny"]


def test_models_list_verbose_and_info_show_hub_repo_ids_and_files(capsys):
    assert cli.main(["models", "list", "--verbose"]) == 0
    listing = capsys.readouterr().out
    for entry in CATALOG.values():
        for hub_file in entry.files:
            assert f"{hub_file.repo_id}  {hub_file.filename}" in listing
    assert "not downloaded" in listing and "make-tiny" in listing
    assert cli.main(["models", "list"]) == 0
    assert "PixArt-alpha/PixArt-XL-2-1024-MS" not in capsys.readouterr().out  # the short list stays short

    assert cli.main(["models", "info", "ltxv-2b-0.9.8-distilled-fp8"]) == 0
    info = capsys.readouterr().out
    assert "LTX-Video 2B 0.9.8 distilled (FP8" in info and "status: not downloaded" in info
    assert "Lightricks/LTX-Video  ltxv-2b-0.9.8-distilled-fp8.safetensors  4.5 GB  [not downloaded]" in info
    assert "PixArt-alpha/PixArt-XL-2-1024-MS  text_encoder/model-00001-of-00002.safetensors" in info
    assert "LTX-Video Open Weights" in info and "Apache-2.0" in info
    assert "ltxv-13b" not in info  # one model only
    assert cli.main(["models", "info", "tiny"]) == 0
    assert "not made yet" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        cli.main(["models", "info", "no-such-model"])
    assert bad.value.code == 2


def test_models_info_says_where_a_downloaded_checkpoint_is(hub, monkeypatch, capsys):  # noqa: F811
    names = ["ckpt.safetensors", "up.safetensors"]
    for name in names:
        hub.files[f"{REPO}/{name}"] = os.urandom(1024)
    entry = CatalogEntry(
        "test-model", "Test", HubFile(REPO, names[0]), HubFile(REPO, names[1]), "tiny.yaml", text_encoder=()
    )
    monkeypatch.setitem(catalog.CATALOG, "test-model", entry)
    assert cli.main(["models", "download", "test-model"]) == 0
    capsys.readouterr()
    assert cli.main(["models", "info", "test-model"]) == 0
    info = capsys.readouterr().out
    assert "status: installed" in info and f"{REPO}  ckpt.safetensors  [downloaded]" in info
    assert f"checkpoint on disk: {cached_path(entry.checkpoint)}" in info
