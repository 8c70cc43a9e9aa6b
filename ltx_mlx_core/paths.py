"""Where ltx-mlx keeps its files: one place for every default path.

`LTX_MLX_HOME` (tests, portable installs) puts everything under one folder;
otherwise platformdirs gives the OS's conventional locations. Model weights
from the hub live in the standard Hugging Face cache (shared with other tools);
models we make ourselves (the tiny test model, quantised caches) live here.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from ltx_mlx_core.errors import InvalidRequest

APP_NAME = "ltx-mlx"


def _home() -> Path | None:
    value = os.environ.get("LTX_MLX_HOME")
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    """The folder, created if need be; one sentence when it cannot be (a file in the way, no permission)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        where = " (from LTX_MLX_HOME)" if _home() is not None else ""
        raise InvalidRequest(
            f"cannot create the folder '{path}'{where}: {error.strerror or error}. "
            "Point LTX_MLX_HOME at a folder you can write to, or fix that path."
        ) from None
    return path


def _dir(kind: str) -> Path:
    home = _home()
    if home is not None:
        path = home / kind
    else:
        path = Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))
    return _ensure(path)


def data_dir() -> Path:
    return _dir("data")


def config_dir() -> Path:
    return _dir("config")


def cache_dir() -> Path:
    return _dir("cache")


def log_dir() -> Path:
    return _dir("log")


def local_models_dir() -> Path:
    """Models made on this machine (tiny test model, MLX-native quantised caches)."""
    return _ensure(data_dir() / "models")


def default_output_dir() -> Path:
    path = Path(platformdirs.user_videos_dir()) / "LTX-MLX"
    return path


def configs_dir() -> Path:
    """The pipeline YAMLs (configs/ at the repository root, or inside the app bundle)."""
    import sys

    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root is not None:
        return Path(bundle_root) / "configs"
    return Path(__file__).resolve().parent.parent / "configs"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (huggingface_hub reads it at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(hf_home).expanduser() / "hub"


def hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
