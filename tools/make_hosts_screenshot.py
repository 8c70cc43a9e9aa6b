"""Screenshot for the README: File → Settings with the Hosts section after a real check of two ranks on
this machine (a hostfile listing 127.0.0.1 twice) with the tiny model installed.

    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python tools/make_hosts_screenshot.py
(or QT_QPA_PLATFORM=offscreen). Writes docs/screenshots/settings-hosts.png.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOME = Path(tempfile.mkdtemp(prefix="ltx-shots-"))
os.environ["LTX_MLX_HOME"] = str(HOME)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["PYTHONPATH"] = str(ROOT)  # the ranks the check starts import this checkout

from PySide6.QtCore import QEventLoop  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.settings import AppSettings  # noqa: E402
from desktop.widgets.settings_dialog import SettingsDialog  # noqa: E402
from ltx_mlx_core.weights.registry import tiny_model_dir  # noqa: E402
from ltx_mlx_core.weights.tiny import make_tiny_model  # noqa: E402

OUT = ROOT / "docs" / "screenshots" / "settings-hosts.png"


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    make_tiny_model(tiny_model_dir())
    host_file = HOME / "hosts.json"
    host_file.write_text(json.dumps([{"ssh": "127.0.0.1", "ips": ["127.0.0.1"]}] * 2))
    settings = AppSettings()
    settings.update({"hosts_file": str(host_file), "hosts_enabled": True, "output_dir": str(HOME / "outputs")})
    dialog = SettingsDialog(settings, model="tiny")
    dialog.resize(760, dialog.sizeHint().height())
    dialog.show()
    loop = QEventLoop()
    dialog.hosts.checked.connect(lambda statuses: loop.quit())
    dialog.hosts.check()
    loop.exec()
    for column in range(3):
        dialog.hosts.table.resizeColumnToContents(column)
    app.processEvents()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(OUT))
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
