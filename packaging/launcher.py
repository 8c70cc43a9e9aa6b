"""Entry point frozen into the app bundle (PyInstaller needs a script, not a console-script).

With --self-test it first checks, inside the frozen app, what the tiny-model generation of
desktop.app's self-test does not exercise: every pipeline YAML loads, the T5 tokenizer class
a real checkpoint names resolves, ffmpeg is there, and no test-only package is importable.
"""

import importlib.util
import sys

# Kept in step with packaging_info.FORBIDDEN_MODULES (tests/packaging checks it).
FORBIDDEN_MODULES = (
    "torch",
    "torchvision",
    "torchaudio",
    "diffusers",
    "ltx_video",
    "timm",
    "einops",
    "pytest",
    "pytestqt",
    "_pytest",
    "hypothesis",
    "sentencepiece",
    "tests",
)


def bundle_problems() -> list:
    problems = []
    from ltx_mlx_core.paths import configs_dir
    from ltx_mlx_core.pipeline.config import load_pipeline_config

    configs = sorted(configs_dir().glob("*.yaml"))
    if not configs:
        problems.append(f"no pipeline YAMLs in {configs_dir()}")
    for path in configs:
        try:
            load_pipeline_config(path)
        except Exception as error:  # noqa: BLE001 - report every broken file
            problems.append(f"{path.name} does not load: {error}")
    try:
        import transformers

        transformers.AutoTokenizer, transformers.T5Tokenizer  # noqa: B018 - resolves the lazy modules
    except Exception as error:  # noqa: BLE001
        problems.append(f"the T5 tokenizer does not import: {error}")
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as error:  # noqa: BLE001
        problems.append(f"ffmpeg is missing: {error}")
    leaked = [name for name in FORBIDDEN_MODULES if importlib.util.find_spec(name) is not None]
    if leaked:
        problems.append("test-only packages are importable: " + ", ".join(leaked))
    return problems


def main() -> int:
    self_test = "--self-test" in sys.argv[1:]
    if self_test:
        problems = bundle_problems()
        for problem in problems:
            print(f"self-test failed: {problem}", file=sys.stderr)
        if problems:
            return 1
    from desktop.app import main as app_main

    status = app_main()
    if self_test and "torch" in sys.modules:
        print("self-test failed: torch was imported at run time", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
