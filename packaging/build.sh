#!/usr/bin/env bash
# Build the LTX-MLX bundle: LTX-MLX.app (+ DMG) on macOS, a one-folder bundle on Linux.
#   packaging/build.sh [--smoke-test]        (or ./dev bundle [--smoke-test])
# --smoke-test runs the bundled executable with --self-test (offscreen): it generates one clip
# with the tiny model through the real window, so a missing module or data file fails the build.
# macOS signing (all optional, read from the environment):
#   LTX_MLX_CODESIGN_IDENTITY  "Developer ID Application: …" (default: ad-hoc "-")
#   LTX_MLX_NOTARY_PROFILE     a notarytool keychain profile; when set the DMG is notarised and stapled
#   LTX_MLX_MACOS_MIN          the oldest macOS to support (default 14.0, the oldest MLX wheels)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
py="${LTX_MLX_PYTHON:-$root/.venv/bin/python}"
work="$root/build/pyinstaller"
dist="$root/dist"
smoke=0
[ "${1:-}" = "--smoke-test" ] && smoke=1

"$py" -m PyInstaller --version >/dev/null 2>&1 || "$py" -m pip install -q -e ".[bundle]"

start=$(date +%s)
if [ "$(uname -s)" = "Darwin" ]; then
    # pip picks the MLX wheels for the build machine's macOS (14_0, 15_0 or 26_0); the metallib in
    # a newer one does not load on an older macOS. Ship the oldest, and declare it in Info.plist.
    macos_min="${LTX_MLX_MACOS_MIN:-14.0}"
    if [ "$("$py" packaging/packaging_info.py minimum-macos)" != "$macos_min" ]; then
        tag="macosx_${macos_min/./_}_arm64"
        wheels="$work/mlx-wheels"
        rm -rf "$wheels"
        for dist_name in mlx mlx-metal; do
            version="$("$py" -c "from importlib.metadata import version; print(version('$dist_name'))")"
            "$py" -m pip download -q --no-deps --only-binary=:all: --platform "$tag" -d "$wheels" "$dist_name==$version"
        done
        "$py" -m pip install -q --no-deps --force-reinstall "$wheels"/*.whl
    fi
    echo "build: LSMinimumSystemVersion $("$py" packaging/packaging_info.py minimum-macos)" >&2
    "$py" packaging/make_icons.py --png resources/icon.png --icns "$work/LTX-MLX.icns"
    export LTX_MLX_ICNS="$work/LTX-MLX.icns"
fi
"$py" -m PyInstaller --noconfirm --clean --log-level WARN \
    --workpath "$work" --distpath "$dist" packaging/ltx-mlx.spec

if [ "$(uname -s)" = "Darwin" ]; then
    app="$dist/LTX-MLX.app"
    # MLX finds mlx.metallib next to the libmlx it was loaded through (the top-level link too).
    "$py" packaging/bundle_check.py "$app/Contents/Frameworks" --colocate-metallib
    plutil -lint "$app/Contents/Info.plist"
    identity="${LTX_MLX_CODESIGN_IDENTITY:--}"
    if [ "$identity" = "-" ]; then
        codesign --force --deep --sign - "$app"  # ad hoc: runs here; Gatekeeper warns elsewhere
    else
        codesign --force --deep --options runtime --timestamp --sign "$identity" "$app"
    fi
    codesign --verify --deep --strict "$app"
    dmg="$dist/LTX-MLX.dmg"
    rm -f "$dmg"
    staging="$work/dmg"
    rm -rf "$staging" && mkdir -p "$staging"
    cp -R "$app" "$staging/" && ln -s /Applications "$staging/Applications"
    hdiutil create -volname "LTX-MLX" -srcfolder "$staging" -ov -format UDZO "$dmg"
    if [ "$identity" != "-" ]; then
        codesign --force --sign "$identity" "$dmg"
    fi
    if [ -n "${LTX_MLX_NOTARY_PROFILE:-}" ]; then
        xcrun notarytool submit "$dmg" --keychain-profile "$LTX_MLX_NOTARY_PROFILE" --wait
        xcrun stapler staple "$dmg"
    fi
    exe="$app/Contents/MacOS/ltx-mlx-desktop"
    bundle_dir="$app"
else
    "$py" packaging/bundle_check.py "$dist/ltx-mlx-desktop/_internal"
    exe="$dist/ltx-mlx-desktop/ltx-mlx-desktop"
    bundle_dir="$dist/ltx-mlx-desktop"
fi
echo "build: $(( $(date +%s) - start )) s, $(du -sh "$bundle_dir" | cut -f1) in $bundle_dir" >&2

if [ "$smoke" = 1 ]; then
    smoke_start=$(date +%s)
    # The frozen app must not see the source tree or the venv: run it from an empty folder.
    limit=(); command -v timeout >/dev/null && limit=(timeout 600)  # no timeout(1) on stock macOS
    (cd "$(mktemp -d)" && env -u PYTHONPATH -u LTX_MLX_HOME QT_QPA_PLATFORM=offscreen \
        "${limit[@]}" "$exe" --self-test)
    echo "smoke test: passed in $(( $(date +%s) - smoke_start )) s" >&2
fi
