"""Screenshots of sound in the app: the main window playing a clip with sound, and the timeline's waveforms.

Run under a virtual X server so the real platform plugin draws the widgets:
    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python tools/make_sound_screenshots.py [light|dark]
The window keeps its default size (settings.DEFAULT_WINDOW_SIZE). The tiny LTX-2 model (random
weights) generates a clip with sound through the real window: the preview plays it, with sound,
and it joins the timeline after four clips of shapes with sound (tones under a speech-like
envelope, made here): the second 6 dB quieter, the third muted, the fourth crossfading in. A sound
file waits on the conditioning strip. Writes docs/screenshots/main-window-sound[-dark].png and
timeline-sound[-dark].png. It uses a throw-away LTX_MLX_HOME.
"""

from __future__ import annotations

import os
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["LTX_MLX_HOME"] = tempfile.mkdtemp(prefix="ltx-sound-shots-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402

from desktop.app import make_application  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from desktop.settings import AppSettings  # noqa: E402
from ltx_mlx_core.video.io import write_video  # noqa: E402
from ltx_mlx_core.weights.registry import LTX2, TINY_LTX2_ID, tiny_model_dir  # noqa: E402
from ltx_mlx_core.weights.tiny_ltx2 import make_tiny_ltx2_model  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
W, H, FPS = 256, 160, 24.0
SCENES = [
    ((120, 170, 230), (70, 140, 60), (240, 80, 40), 220.0),
    ((250, 180, 120), (190, 120, 70), (60, 60, 200), 330.0),
    ((30, 30, 70), (50, 50, 90), (250, 240, 120), 196.0),
    ((150, 210, 220), (220, 220, 200), (200, 40, 120), 262.0),
]
RATE = 48_000


def speech_like(seconds: float, pitch: float, seed: int) -> np.ndarray:
    """A voiced tone with syllable-like bursts: a waveform with shape, as dialogue or song would draw."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 5))
    syllables = np.clip(np.sin(2 * np.pi * rng.uniform(2.5, 4.0) * t + rng.uniform(0, 6)), 0, None) ** 0.7
    phrases = 0.55 + 0.45 * np.sin(2 * np.pi * 0.4 * t + seed)
    sound = 0.3 * voice * syllables * phrases + 0.01 * rng.standard_normal(len(t))
    return np.repeat(sound.astype(np.float32)[:, None], 2, axis=1)


def shapes_clip(path: Path, frames: int, sky, ground, ball, pitch: float, phase: float) -> Path:
    rows, cols = np.mgrid[0:H, 0:W]
    video = np.empty((frames, H, W, 3), np.uint8)
    for f in range(frames):
        frame = np.where((rows < H * 0.65)[..., None], np.array(sky, np.uint8), np.array(ground, np.uint8))
        x = (phase + f / frames) % 1 * (W + 40) - 20
        y = H * 0.65 - 22 - abs(np.sin((phase + f / frames) * np.pi * 3)) * H * 0.4
        frame[(rows - y) ** 2 + (cols - x) ** 2 < 18**2] = ball
        video[f] = frame
    return write_video(path, video, FPS, crf=20, preset="ultrafast", audio=speech_like(frames / FPS, pitch, int(pitch)))


def main() -> int:
    app = make_application(sys.argv[:1])
    appearance = sys.argv[1] if len(sys.argv) > 1 else "light"
    suffix = "-dark" if appearance == "dark" else ""
    make_tiny_ltx2_model(tiny_model_dir(LTX2))
    home = Path(os.environ["LTX_MLX_HOME"])
    clips = [
        str(shapes_clip(home / f"scene{i}.mp4", 72 + 24 * (i % 2), *scene, phase=i / 4))
        for i, scene in enumerate(SCENES)
    ]
    voice = home / "dialogue.wav"
    with wave.open(str(voice), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((speech_like(4.0, 180.0, 7)[:, 0] * 32767).astype("<i2").tobytes())

    settings = AppSettings()
    settings.update(
        {
            "model": TINY_LTX2_ID,
            "width": 256,
            "height": 192,  # LTX-2's two-stage recipe takes sizes in 64s
            "fps": 24.0,
            "seconds": 1.0,
            "with_audio": True,
            "seed": 42,
            "seed_locked": True,
            "output_dir": str(home / "videos"),
            "appearance": appearance,
            "prompt": "A ball bounces across a summer meadow while a narrator hums along, "
            "warm afternoon light, handheld camera",
        }
    )
    settings.save()
    window = MainWindow(settings=settings, show_model_manager_if_empty=False)
    window.show()
    panel = window.timeline_panel
    panel.add_files(clips, 0)
    project = panel.project
    project.clips[1].gain_db = -6.0
    project.clips[2].muted = True
    project.set_transition(project.clips[3].id, "crossfade", 12)
    OUT.mkdir(parents=True, exist_ok=True)
    generated: dict[str, str] = {}

    def finished(path: str) -> None:
        """The tiny LTX-2 clip, with its sound, plays in the preview; it joins the timeline at the end."""
        generated["path"] = path
        window.add_last_to_timeline()
        panel.view.set_zoom((panel.view.viewport().width() - 220) / project.total_frames)  # no scroll bar
        panel.select(project.clips[1].id)
        panel.view.set_playhead(40)
        window.conditioning.add_paths([str(voice)])

    def ready() -> bool:
        strip_row = window.conditioning.audio_row
        return (
            "path" in generated
            and len(panel.view.waveform_items()) == 5
            and strip_row is not None
            and strip_row.peaks is not None
            and window.preview.sound.has_sound
            and window.preview.current >= 12
        )

    def grab() -> None:
        if not ready():
            QTimer.singleShot(100, grab)
            return
        window.grab().save(str(OUT / f"main-window-sound{suffix}.png"))
        panel.grab().save(str(OUT / f"timeline-sound{suffix}.png"))
        print("wrote", OUT / f"main-window-sound{suffix}.png", "and", OUT / f"timeline-sound{suffix}.png")
        app.quit()

    window.generation_finished.connect(finished)
    window.generation_failed.connect(lambda message: (print("generation failed:", message), app.quit()))
    window.generate_action.trigger()
    QTimer.singleShot(500, grab)
    QTimer.singleShot(300_000, app.quit)
    app.exec()
    window.service.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
