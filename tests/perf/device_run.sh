#!/usr/bin/env bash
# Run the side-by-side comparison on the lent GPU machine (second of the two device calls:
# the first copies .mlx-a/* to /root/mlx; see ../shared/tools/device-mlx-prep).
# Carry .mlx-b and .whl: wheels of diffusers, ltx-video, importlib_metadata, zipp, platformdirs,
# and .whl/pure/ with pure-Python packages the image lacks (imageio_ffmpeg, unpacked from its sdist).
#   bash tests/perf/device_run.sh [STAGE ...]
#   stages: profile profile-vae t2b t13b vae vae-tiled gen2b gen13b
set -uo pipefail
source .mlx-b/device-mlx-env || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/.whl/pure:$PYTHONPATH PYTHONUNBUFFERED=1
# The VM's RAM grows as it is used, so MemTotal under-reports it at start; plan with the GPU's memory.
export LTX_MLX_MEMORY_LIMIT_BYTES=${LTX_MLX_MEMORY_LIMIT_BYTES:-120000000000}
out="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv
run() { python3 tests/perf/compare_reference.py --json "$out/reference-comparison.json" "$@" 2>&1 | grep -v "should be kept in float32"; }
for stage in ${@:-t2b t13b vae vae-tiled gen2b gen13b}; do
    case "$stage" in
        profile) python3 tools/profile_stages.py --json "$out/profile.json" 2>&1 | grep -v "kept in float32" ;;
        profile-vae) python3 tools/profile_stages.py --sections vae-blocks,vae-eval,vae-ops \
                         --json "$out/profile-vae.json" 2>&1 | grep -v "kept in float32" ;;
        t2b) run --shape 2b --stages transformer ;;
        t13b) run --shape 13b --stages transformer ;;
        vae) run --shape 2b --stages vae ;;
        vae-tiled) run --shape 2b --stages vae --tiled ;;
        gen2b) run --shape 2b --stages generation ;;
        gen13b) run --shape 13b --stages generation ;;
        *) echo "unknown stage $stage" >&2; exit 2 ;;
    esac
done
