#!/usr/bin/env bash
# Run the side-by-side comparison on the lent GPU machine (second of the two device calls:
# the first copies .mlx-a/* to /root/mlx; see ../shared/tools/device-mlx-prep).
# Carry .mlx-b and .whl (diffusers, ltx-video, importlib_metadata, zipp wheels).
#   bash tests/perf/device_run.sh [STAGE ...]   stages: t2b t13b vae vae-tiled
set -uo pipefail
source .mlx-b/device-mlx-env || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PYTHONPATH PYTHONUNBUFFERED=1
out="${OUT:-/tmp}/reference-comparison.json"
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv
run() { python3 tests/perf/compare_reference.py --json "$out" "$@" 2>&1 | grep -v "should be kept in float32"; }
for stage in "${@:-t2b t13b vae vae-tiled}"; do
    case "$stage" in
        t2b) run --shape 2b --stages transformer ;;
        t13b) run --shape 13b --stages transformer ;;
        vae) run --shape 2b --stages vae ;;
        vae-tiled) run --shape 2b --stages vae --tiled ;;
    esac
done
