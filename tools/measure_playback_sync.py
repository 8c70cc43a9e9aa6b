"""Measure how far the preview's picture strays from its sound over a minute of real playback.

Needs a sound output (on a Linux server: `pulseaudio -D` gives a null sink). Plays 60 s of
frames at 30 fps with a tone through the preview player and, at every picture tick, compares
the playback clock (what frame is shown) with the sound output's own position:
    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/measure_playback_sync.py [seconds]
Prints one JSON line: the largest and mean offset in ms once the sound has started, the change
of the offset from the first to the last 5 s (drift), and the output's name.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.sound_output import output_name, output_problem  # noqa: E402
from desktop.widgets.preview_player import PreviewPlayer  # noqa: E402
from ltx_mlx_core.video.audio import tone  # noqa: E402

FPS = 30.0


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    app = QApplication(sys.argv[:1])
    if output_problem() is not None:
        print(json.dumps({"error": output_problem()}))
        return 1
    player = PreviewPlayer()
    player.loop_box.setChecked(False)
    frames = np.zeros((int(seconds * FPS) + 1, 24, 32, 3), np.uint8)
    samples: list[tuple[float, float]] = []  # (picture position, sound position)

    def record() -> None:
        sound = player.sound.position()
        if sound is not None and not player.clock.waiting:
            samples.append((player.clock.position(), sound))
        if not player.is_playing():
            app.quit()

    watch = QTimer(interval=10)
    watch.timeout.connect(record)
    player.play(frames, FPS, sound=tone(seconds + 1))
    watch.start()
    QTimer.singleShot(int((seconds + 20) * 1000), app.quit)
    app.exec()
    offsets = np.array([picture - sound for picture, sound in samples]) * 1000
    window = int(5 * 100)  # ticks in 5 s
    print(
        json.dumps(
            {
                "seconds": seconds,
                "readings": len(offsets),
                "output": output_name(),
                "max_offset_ms": round(float(np.abs(offsets).max()), 2),
                "mean_offset_ms": round(float(offsets.mean()), 2),
                "drift_ms": round(float(offsets[-window:].mean() - offsets[:window].mean()), 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
