"""The model manager: lists installed and available models, makes and removes the tiny model, reports download failures."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

import ltx_mlx_core.weights.download as download
from desktop.main_window import MainWindow
from desktop.widgets.model_manager import ModelManager, installed_models
from ltx_mlx_core.weights.catalog import CATALOG
from ltx_mlx_core.weights.download import DownloadCancelled, DownloadProgress
from ltx_mlx_core.weights.registry import TINY_ID, tiny_model_dir


def statuses(manager: ModelManager) -> dict[str, str]:
    table = manager.table
    return {table.item(r, 0).data(Qt.ItemDataRole.UserRole): table.item(r, 2).text() for r in range(table.rowCount())}


def test_first_launch_without_models_opens_the_manager_and_making_tiny_enables_generate(qtbot, app_settings):
    window = MainWindow(settings=app_settings)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.model_manager is not None and window.model_manager.isVisible())
        manager = window.model_manager
        assert not window.generate_button.isEnabled()
        assert set(statuses(manager)) == {*CATALOG, TINY_ID}
        assert set(statuses(manager).values()) == {"Available"}
        assert manager.table.item(0, 1).text().startswith("≈ ")  # approximate catalog sizes

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

    def filled() -> bool:
        header = manager.table.horizontalHeader()
        used = sum(header.sectionSize(column) for column in range(header.count()))
        return abs(used - manager.table.viewport().width()) <= 1

    assert filled()
    for width in (760, 1100, 620):
        manager.resize(width, 380)
        manager.refresh()  # what the end of Make Tiny Test Model (or a download, or Remove) does
        qtbot.waitUntil(filled, timeout=2000)
        name = manager.table.horizontalHeader().sectionSize(0)
        assert name >= manager.table.columnWidth(1) and name >= manager.table.columnWidth(2)
