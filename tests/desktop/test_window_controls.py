"""The window's menus, their shortcuts, and the seed's Randomise button, driven through the real window."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from desktop.widgets.model_manager import ModelManager
from desktop.widgets.settings_dialog import SettingsDialog
from ltx_mlx_core import paths
from ltx_mlx_core.pipeline.request import GenerationRequest

GENERATION_TIMEOUT_MS = 120_000

EXPECTED_MENUS = {
    "File": [
        "Generate",
        "Cancel Generation",
        "Open Request JSON…",
        "Choose Output Folder…",
        "Show Output Folder",
        "Settings…",
        "Quit",
    ],
    "Edit": ["Undo", "Redo", "Paste as Conditioning", "Clear Conditioning", "Add Last Video to Timeline"],
    "View": ["History", "Appearance", "Timeline"],
    "Models": ["Model Manager…", "Make Tiny Test Model", "Make Tiny LTX-2 Model"],
    "Help": ["About LTX-MLX", "Open Log Folder"],
}


def plain(text: str) -> str:
    return text.replace("&", "")


def menu(window, title: str) -> dict:
    """The actions of one menu-bar menu by their text (mnemonics dropped, separators skipped)."""
    for entry in window.menuBar().actions():
        if plain(entry.text()) == title:
            return {plain(action.text()): action for action in entry.menu().actions() if not action.isSeparator()}
    raise AssertionError(f"no {title} menu")


def shortcut(action) -> str:
    return action.shortcut().toString(QKeySequence.SequenceFormat.PortableText)


def test_menu_bar_has_file_edit_view_models_help_with_their_items(window):
    assert [plain(a.text()) for a in window.menuBar().actions()] == list(EXPECTED_MENUS)
    for title, items in EXPECTED_MENUS.items():
        assert list(menu(window, title)) == items, title
    appearance = menu(window, "View")["Appearance"].menu()
    assert [plain(a.text()) for a in appearance.actions()] == ["Follow the System", "Light", "Dark"]


def test_menu_items_carry_their_shortcuts(window):
    file, edit, view, models = (menu(window, t) for t in ("File", "Edit", "View", "Models"))
    assert shortcut(file["Generate"]) == "Ctrl+Return"
    assert shortcut(file["Cancel Generation"]) == "Esc"
    assert file["Open Request JSON…"].shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert shortcut(file["Settings…"]) == "Ctrl+,"
    assert file["Quit"].shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)
    assert edit["Undo"].shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert edit["Redo"].shortcut() == QKeySequence(QKeySequence.StandardKey.Redo)
    assert edit["Paste as Conditioning"].shortcut() == QKeySequence(QKeySequence.StandardKey.Paste)
    assert shortcut(edit["Add Last Video to Timeline"]) == "Ctrl+T"
    assert shortcut(view["History"]) == "Ctrl+Shift+H"
    assert shortcut(models["Model Manager…"]) == "Ctrl+Shift+M"


def test_shortcut_keys_toggle_the_history_and_open_the_model_manager(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    assert window.history_dock.isHidden()
    qtbot.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.history_dock.isVisible() and menu(window, "View")["History"].isChecked()
    qtbot.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.history_dock.isHidden()
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.model_manager is not None and window.model_manager.isVisible()
    window.model_manager.close()


def test_file_menu_generates_cancels_and_handles_request_files_and_folders(qtbot, window, tmp_path, monkeypatch):
    file = menu(window, "File")
    window.prompt_panel.set_prompt("from the file menu")
    assert not file["Cancel Generation"].isEnabled()
    with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as finished:
        file["Generate"].trigger()
        assert file["Cancel Generation"].isEnabled() and not file["Generate"].isEnabled()
    assert Path(finished.args[0]).is_file()
    assert file["Generate"].isEnabled() and not file["Cancel Generation"].isEnabled()

    # Open Request JSON… loads a past request's settings into the form.
    request = GenerationRequest(
        prompt="a request from disk", model="tiny", width=192, height=128, num_frames=17, fps=8.0, seeds=[99]
    )
    request_file = tmp_path / "past.json"
    request_file.write_text(json.dumps({"request": request.to_dict()}))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(request_file), ""))
    file["Open Request JSON…"].trigger()
    g = window.gen_settings
    assert window.prompt_panel.prompt() == "a request from disk"
    assert (g.width_spin.value(), g.height_spin.value(), g.num_frames(), g.seed_spin.value()) == (192, 128, 17, 99)

    # Choose Output Folder… moves where videos go; Show Output Folder opens it in the file manager.
    chosen = tmp_path / "elsewhere"
    chosen.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(chosen))
    file["Choose Output Folder…"].trigger()
    assert window.settings.output_dir() == chosen
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    file["Show Output Folder"].trigger()
    assert [Path(url.toLocalFile()) for url in opened] == [chosen]

    file["Settings…"].trigger()
    dialogs = [d for d in window.findChildren(SettingsDialog) if d.isVisible()]
    assert len(dialogs) == 1
    dialogs[0].reject()

    file["Quit"].trigger()
    assert not window.isVisible()


def test_edit_models_and_help_menus_do_what_they_say(qtbot, window, monkeypatch):
    edit, models, help_menu = (menu(window, t) for t in ("Edit", "Models", "Help"))
    image = QImage(64, 48, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.darkCyan)
    QGuiApplication.clipboard().setImage(image)
    edit["Paste as Conditioning"].trigger()
    assert len(window.conditioning.items()) == 1
    edit["Clear Conditioning"].trigger()
    assert window.conditioning.items() == []
    assert not edit["Add Last Video to Timeline"].isEnabled()

    made: list[tuple[ModelManager, str]] = []
    monkeypatch.setattr(ModelManager, "make_tiny", lambda manager, family="ltxv": made.append((manager, family)))
    models["Make Tiny Test Model"].trigger()
    assert made == [(window.model_manager, "ltxv")] and window.model_manager.isVisible()
    models["Make Tiny LTX-2 Model"].trigger()
    assert made[1] == (window.model_manager, "ltx2")
    window.model_manager.close()
    models["Model Manager…"].trigger()
    assert window.model_manager.isVisible()
    window.model_manager.close()

    abouts: list[str] = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: abouts.append(title))
    help_menu["About LTX-MLX"].trigger()
    assert abouts == ["About LTX-MLX"]
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    help_menu["Open Log Folder"].trigger()
    assert [Path(url.toLocalFile()) for url in opened] == [paths.log_dir()]


def test_randomise_button_picks_a_new_seed_that_the_next_generation_uses(qtbot, window):
    g = window.gen_settings
    g.seed_lock.setChecked(True)
    g.seed_spin.setValue(7)
    seen = set()
    for _ in range(3):
        qtbot.mouseClick(g.randomise_button, Qt.MouseButton.LeftButton)
        seen.add(g.seed_spin.value())
    assert 7 not in seen and len(seen) >= 2, seen  # random in [0, 2^32): a repeat is vanishingly rare
    assert g.seed_lock.isChecked(), "Randomise picks a seed; it does not unlock"
    chosen = g.seed_spin.value()
    window.prompt_panel.set_prompt("a randomised seed")
    with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as finished:
        window.generate_action.trigger()
    sidecar = json.loads(Path(finished.args[0]).with_suffix(".json").read_text())
    assert sidecar["seed"] == chosen and sidecar["request"]["seeds"] == [chosen]
    assert g.seed_spin.value() == chosen  # locked: the box keeps it for the next run
