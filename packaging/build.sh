#!/usr/bin/env bash
# Build the LTX-MLX bundle: LTX-MLX.app (+ DMG) on macOS, a one-folder bundle on Linux.
#   packaging/build.sh [--smoke-test]
# macOS signing (all optional, read from the environment):
#   LTX_MLX_CODESIGN_IDENTITY  "Developer ID Application: …" (default: ad-hoc "-")
#   LTX_MLX_NOTARY_PROFILE     a notarytool keychain profile; when set the DMG is notarised and stapled
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
py="${LTX_MLX_PYTHON:-$root/.venv/bin/python}"
work="$root/build/pyinstaller"
dist="$root/dist"
smoke=0
[ "${1:-}" = "--smoke-test" ] && smoke=1

"$py" -m PyInstaller --version >/dev/null 2>&1 || "$py" -m pip install -q "pyinstaller>=6"

start=$(date +%s)
if [ "$(uname -s)" = "Darwin" ]; then
    "$py" packaging/make_icons.py --png resources/icon.png --icns "$work/LTX-MLX.icns"
    export LTX_MLX_ICNS="$work/LTX-MLX.icns"
fi
"$py" -m PyInstaller --noconfirm --clean --log-level WARN \
    --workpath "$work" --distpath "$dist" packaging/ltx-mlx.spec
echo "build: $(( $(date +%s) - start )) s" >&2

if [ "$(uname -s)" = "Darwin" ]; then
    app="$dist/LTX-MLX.app"
    identity="${LTX_MLX_CODESIGN_IDENTITY:--}"
    codesign --force --deep --options runtime --timestamp=none --sign "$identity" "$app"
    codesign --verify --deep --strict "$app"
    dmg="$dist/LTX-MLX.dmg"
    rm -f "$dmg"
    hdiutil create -volname "LTX-MLX" -srcfolder "$app" -ov -format UDZO "$dmg"
    if [ -n "${LTX_MLX_NOTARY_PROFILE:-}" ]; then
        xcrun notarytool submit "$dmg" --keychain-profile "$LTX_MLX_NOTARY_PROFILE" --wait
        xcrun stapler staple "$dmg"
    fi
    exe="$app/Contents/MacOS/ltx-mlx-desktop"
else
    exe="$dist/ltx-mlx-desktop/ltx-mlx-desktop"
fi
du -sh "$(dirname "$exe")" >&2

if [ "$smoke" = 1 ]; then
    QT_QPA_PLATFORM=offscreen "$exe" --self-test
fi
