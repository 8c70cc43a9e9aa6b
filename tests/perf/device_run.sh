#!/usr/bin/env bash
# Run the side-by-side comparison on the lent GPU machine (second of the two device calls:
# the first copies .mlx-a/* to /root/mlx; see ../shared/tools/device-mlx-prep).
# Carry .mlx-b and .whl: wheels of diffusers, ltx-video, importlib_metadata, zipp, platformdirs,
# and .whl/pure/ with pure-Python packages the image lacks (imageio_ffmpeg, unpacked from its sdist).
#   bash tests/perf/device_run.sh [STAGE ...]
#   stages: profile profile-vae t2b t13b vae vae-tiled gen2b gen13b
#           mem2b mem13b mem22b mem22b-uniform (step memory per block-evaluation setting: ours only)
#           ours-gen2b (our 2B generation, one evaluation per step vs per block) cache13b (step-cache presets)
#           ltx2 (LTX-2.3 22B side by side: ours, ltx-core, mlx-video-with-audio (step, video and sound
#                 decodes), 8/4-bit budgets; every stage of tests/perf/compare_ltx2.py;
#                 .whl also holds ltx_core-1.0.0 and mlx_video_with_audio wheels)
#           audio-profile (LTX-2.3 audio decode by part and kernel; tools/profile_audio_decode.py)
#           ltx2-gen (the whole distilled generations and the sound decodes alone: gen, gen-sc, ref-gen,
#                     audio, ref-audio, peer-audio; `ltx2` runs them too, after the step stages)
#           gemms22b (how much of a 22B step is GEMM, ours and the reference's; tools/profile_ltx2_gemms.py)
#           gen-memory (memory at every event of a whole LTX-2.3 generation; tools/probe_generation_memory.py)
#           sound-cold (the sound decode cold and warm; tools/probe_sound_decode_cold.py)
#           cache-ltx2 (step-cache presets on one guided LTX-2.3 dev stage; tests/perf/ltx2_step_cache_gpu.py)
set -uo pipefail
source .mlx-b/device-mlx-env || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/.whl/pure:$PYTHONPATH PYTHONUNBUFFERED=1
# The VM's RAM grows as it is used, so MemTotal under-reports it at start; plan with the GPU's memory.
export LTX_MLX_MEMORY_LIMIT_BYTES=${LTX_MLX_MEMORY_LIMIT_BYTES:-120000000000}
out="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv
run() { python3 tests/perf/compare_reference.py --json "$out/reference-comparison.json" "$@" 2>&1 | grep -v "should be kept in float32"; }
memory() { python3 tools/measure_step_memory.py --json "$out/step-memory.json" "$@" 2>&1 | grep -v "kept in float32"; }
generations() { python3 tools/bench_generations.py --json "$out/generations.json" "$@" 2>&1 | grep -v "kept in float32"; }
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
        mem2b) memory --model ltxv-2b --every 0,1:1,1:2,2:1 ;;
        mem13b) memory --model ltxv-13b --every 0,1:1,1:2 ;;
        mem22b) memory --model ltx-2.3-22b --every 0,1:1,1:2 ;;
        mem22b-uniform) memory --model ltx-2.3-22b --every 0,1:1,1:2 --uniform-timesteps ;;
        ours-gen2b) generations --model ltxv-2b-0.9.8-distilled --eval-every 0,1 ;;
        ltx2) python3 tests/perf/compare_ltx2.py --repeats 3 --vae-repeats 2 --json "$out/ltx2-comparison.json" --scratch /tmp 2>&1 | grep -v "kept in float32" ;;
        audio-profile) python3 tools/profile_audio_decode.py --json "$out/audio-profile.json" 2>&1 | grep -v "kept in float32" ;;
        ltx2-gen) python3 tests/perf/compare_ltx2.py --stages audio,ref-audio,peer-audio,gen,gen-sc,ref-gen --repeats 3 \
                      --json "$out/ltx2-generation.json" 2>&1 | grep -v "kept in float32" ;;
        gemms22b) python3 tools/profile_ltx2_gemms.py --json "$out/gemms22b.json" 2>&1 | grep -v "kept in float32" ;;
        cache-ltx2) python3 tests/perf/ltx2_step_cache_gpu.py --steps 10 --repeats 2 \
                        --json "$out/ltx2-step-cache.json" 2>&1 | grep -v "kept in float32" ;;
        gen-memory) python3 tools/probe_generation_memory.py 2>&1 | grep -v "kept in float32" ;;
        sound-cold) python3 tools/probe_sound_decode_cold.py 2>&1 | grep -v "kept in float32" ;;
        cache13b) generations --model ltxv-13b-0.9.8-distilled --step-cache off,faster,fastest ;;
        *) echo "unknown stage $stage" >&2; exit 2 ;;
    esac
done
