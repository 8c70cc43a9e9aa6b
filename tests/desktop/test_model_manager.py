"""The model manager: lists every model by family with its size, status and what it can do, makes and
removes the tiny models (LTX-Video and LTX-2), reports download failures, keeps its columns filling
the dialog; the window's model picker groups the same models."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

import ltx_mlx_core.weights.download as download
from desktop.main_window import MainWindow
from desktop.model_choices import TEST_GROUP, VERSION_GROUPS
from desktop.widgets.model_manager import ModelManager, installed_models
from ltx_mlx_core.weights.catalog import CATALOG
from ltx_mlx_core.weights.download import DownloadCancelled, DownloadProgress
from ltx_mlx_core.weights.registry import LTX2, TINY_ID, TINY_LTX2_ID, tiny_model_dir


def model_rows(manager: ModelManager) -> list[int]:
    table = manager.table
    return [r for r in range(table.rowCount()) if table.item(r, 0).data(Qt.ItemDataRole.UserRole)]


def statuses(manager: ModelManager) -> dict[str, str]:
    table = manager.table
    return {table.item(r, 0).data(Qt.ItemDataRole.UserRole): table.item(r, 2).text() for r in model_rows(manager)}


def columns_fill(manager: ModelManager) -> bool:
    header = manager.table.horizontalHeader()
    used = sum(header.sectionSize(column) for column in range(header.count()))
    return abs(used - manager.table.viewport().width()) <= 1


def test_first_launch_without_models_opens_the_manager_and_making_tiny_enables_generate(qtbot, app_settings):
    window = MainWindow(settings=app_settings)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.model_manager is not None and window.model_manager.isVisible())
        manager = window.model_manager
        assert not window.generate_button.isEnabled()
        assert set(statuses(manager)) == {*CATALOG, TINY_ID, TINY_LTX2_ID}
        assert set(statuses(manager).values()) == {"Available"}
        assert manager.table.item(model_rows(manager)[0], 1).text().startswith("≈ ")  # approximate catalog sizes

        with qtbot.waitSignal(manager.models_changed, timeout=60_000):
            qtbot.mouseClick(manager.tiny_button, Qt.MouseButton.LeftButton)
        assert statuses(manager)[TINY_ID] == "Installed"
        assert "Done" in manager.status.text()
        assert window.gen_settings.model_id() == TINY_ID
        assert window.generate_button.isEnabled()
    finally:
        window.service.shutdown()


def test_remove_deletes_the_tiny_model_after_confirmation(qtbot, tiny_model, monkeypatch):
    manager = ModelManager()
    qtbot.addWidget(manager)
    manager.select_model(TINY_ID)
    assert manager.remove_button.isEnabled() and not manager.download_button.isEnabled()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(manager.models_changed):
        qtbot.mouseClick(manager.remove_button, Qt.MouseButton.LeftButton)
    assert not tiny_model_dir().exists()
    assert statuses(manager)[TINY_ID] == "Available"
    assert installed_models() == []


def test_models_are_grouped_by_family_with_their_size_status_and_abilities(qtbot):
    manager = ModelManager()
    qtbot.addWidget(manager)
    table = manager.table
    headings, group_of = [], {}
    for row in range(table.rowCount()):
        item = table.item(row, 0)
        model_id = item.data(Qt.ItemDataRole.UserRole)
        if model_id is None:  # a family's heading: spans the row, cannot be selected
            headings.append(item.text())
            assert table.columnSpan(row, 0) == table.columnCount()
            assert not item.flags() & Qt.ItemFlag.ItemIsSelectable
        else:
            group_of[model_id] = headings[-1]
    assert headings == ["LTX-Video 0.9.8", "LTX-2", "LTX-2.3", "LTX-2.5", TEST_GROUP]
    for model_id, entry in CATALOG.items():
        assert group_of[model_id] == VERSION_GROUPS[entry.version], model_id
    assert group_of[TINY_ID] == group_of[TINY_LTX2_ID] == TEST_GROUP
    abilities = {table.item(r, 0).data(Qt.ItemDataRole.UserRole): table.item(r, 3).text() for r in model_rows(manager)}
    for model_id, entry in CATALOG.items():
        expected = "video with sound" if entry.family == LTX2 else "silent video"
        assert abilities[model_id].startswith(expected), (model_id, abilities[model_id])
    assert abilities[TINY_LTX2_ID].startswith("video with sound") and "a test model" in abilities[TINY_LTX2_ID]
    assert "sound" in abilities["ltx-2.5-22b-dev"] and "sound" not in abilities["ltxv-13b-0.9.8-distilled"]
    # A heading is no model: selecting its row leaves nothing to download or remove.
    table.selectRow(0)
    assert manager.selected_model() is None and not manager.download_button.isEnabled()


@pytest.mark.slow  # builds the tiny LTX-2 model (about 15 s on two cores)
def test_make_tiny_ltx2_installs_it_fills_the_columns_and_the_picker_offers_it_with_sound(qtbot, app_settings):
    """The reported case: after Make Tiny Test Model the columns shrank to their text; here they fill the
    table after it, and the new LTX-2 model is chosen in the window, grouped, with its sound switch on."""
    window = MainWindow(settings=app_settings)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.model_manager is not None and window.model_manager.isVisible())
        manager = window.model_manager
        qtbot.waitUntil(lambda: columns_fill(manager), timeout=2000)
        with qtbot.waitSignal(manager.models_changed, timeout=120_000):
            qtbot.mouseClick(manager.tiny_ltx2_button, Qt.MouseButton.LeftButton)
        assert "Done" in manager.status.text()
        assert statuses(manager)[TINY_LTX2_ID] == "Installed" and statuses(manager)[TINY_ID] == "Available"
        row = next(
            r for r in model_rows(manager) if manager.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == TINY_LTX2_ID
        )
        assert manager.table.item(row, 1).text().endswith(" MB")  # the folder's measured size
        qtbot.waitUntil(lambda: columns_fill(manager), timeout=2000)
        settings = window.gen_settings
        assert settings.model_id() == TINY_LTX2_ID and window.generate_button.isEnabled()
        assert settings.sound_box.isEnabled() and settings.with_audio()
        assert "video with sound" in settings.model_combo.toolTip()
        # The picker lists every model under its family; the ones not on this machine cannot be chosen.
        combo = settings.model_combo
        items = [combo.model().item(i) for i in range(combo.count())]
        headings = [item.text() for item in items if item.data(Qt.ItemDataRole.UserRole) is None]
        assert headings == ["LTX-Video 0.9.8", "LTX-2", "LTX-2.3", "LTX-2.5", TEST_GROUP]
        for item in items:
            model_id = item.data(Qt.ItemDataRole.UserRole)
            assert bool(item.flags() & Qt.ItemFlag.ItemIsEnabled) == (model_id == TINY_LTX2_ID), item.text()
        ltx2 = next(item for item in items if item.data(Qt.ItemDataRole.UserRole) == "ltx-2-19b-distilled")
        assert (
            "≈ 69.0 GB" in ltx2.text() and ltx2.text().endswith("not installed") and "Model Manager" in ltx2.toolTip()
        )
        assert not settings.select_model("ltx-2-19b-distilled") and settings.model_id() == TINY_LTX2_ID
    finally:
        window.service.shutdown()


def test_a_failed_download_is_reported_and_the_manager_stays_usable(qtbot):
    manager = ModelManager()
    qtbot.addWidget(manager)
    model_id = next(iter(CATALOG))
    manager.select_model(model_id)
    assert manager.download_button.isEnabled()
    assert "Licence" in manager.licence.text()
    # The tests run with HF_HUB_OFFLINE=1: the core refuses to download, with a sentence saying why.
    with qtbot.waitSignal(manager.models_changed, timeout=30_000):
        qtbot.mouseClick(manager.download_button, Qt.MouseButton.LeftButton)
        assert manager.cancel_button.isEnabled() and not manager.download_button.isEnabled()
    assert manager.status.text().startswith("Failed:") and "HF_HUB_OFFLINE" in manager.status.text()
    assert manager.download_button.isEnabled() and not manager.cancel_button.isEnabled()
    assert statuses(manager)[model_id] == "Available"


def test_download_shows_progress_and_cancel_stops_it(qtbot, monkeypatch):
    calls = []

    def fake_download_model(model_id, progress=None, cancel=None):
        """Stands in for the hub transfer: reports progress until the dialog cancels it."""
        calls.append(model_id)
        done = 0
        while not cancel.wait(0.01):
            done = min(done + 1_000_000, 10_000_000)
            progress(DownloadProgress("model.safetensors", 1, 2, done, 10_000_000))
        raise DownloadCancelled("cancelled")

    monkeypatch.setattr(download, "download_model", fake_download_model)
    manager = ModelManager()
    qtbot.addWidget(manager)
    model_id = next(iter(CATALOG))
    manager.select_model(model_id)
    qtbot.mouseClick(manager.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: manager.progress.value() > 0, timeout=10_000)
    assert manager.progress.isVisible() or not manager.isVisible()
    assert "model.safetensors (1/2)" in manager.status.text()
    with qtbot.waitSignal(manager.models_changed, timeout=10_000):
        qtbot.mouseClick(manager.cancel_button, Qt.MouseButton.LeftButton)
    assert calls == [model_id]
    assert "cancelled" in manager.status.text()
    assert manager.download_button.isEnabled() and not manager.cancel_button.isEnabled()


def test_the_columns_fill_the_dialog_after_every_refresh(qtbot, tiny_model):
    """After Make Tiny Test Model the table used to shrink its columns to their text and leave the
    dialog's right part empty; the columns fill the table's width after every refresh, at any width."""
    manager = ModelManager()
    qtbot.addWidget(manager)
    manager.show()
    qtbot.waitExposed(manager)

    assert columns_fill(manager)
    for width in (760, 1100, 620):
        manager.resize(width, 380)
        manager.refresh()  # what the end of Make Tiny Test Model (or a download, or Remove) does
        qtbot.waitUntil(lambda: columns_fill(manager), timeout=2000)
        name = manager.table.horizontalHeader().sectionSize(0)
        assert name >= manager.table.columnWidth(1) and name >= manager.table.columnWidth(2)
