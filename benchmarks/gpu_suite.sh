#!/usr/bin/env bash
# Every GPU check of the engine in one prepared script, for a scarce GPU machine (Python 3.12,
# torch with CUDA; the project's other packages come as wheels, see gpu_wheels.sh).
#
#   here:        bash benchmarks/gpu_wheels.sh                        # once: .whl/ (carry it)
#   on the GPU:  SUITE_SECONDS=540 bash benchmarks/gpu_suite.sh       # every stage, in this order
#                (one call of ~10 min: with the machine's start it fits a 15-minute device lease)
#                bash benchmarks/gpu_suite.sh serve,coldstart         # some stages
#
# Stages (comma list, run in the order given; default: all, most wanted first):
#   tests     the CUDA-only tests: graphs vs eager, batch mates and buckets, fp32 and bf16, the
#             background compile
#   serve     both workers through runpod's local API at 1/8/16 clients, interleaved, with
#             worker copies under TTS_COMPILE=1 and TTS_COMPILE=background (measured after its swap);
#             a copy that fails or hangs (a request over 120 s) is left out, the others measured;
#             then the paragraph's first byte through the OpenAI server (pcm)
#   engine    this worker's jobs against upstream F5TTS.infer, interleaved, plus the compiled side
#   coldstart the worker started as the image starts it, warm page cache
#   coldcache the same with the page cache dropped before every process (root)
#   ceiling   the DiT alone: eager, CUDA graphs, and torch.compile at batch 16 (compile + graphs, a
#             second compile, gave 2% more on the H200: ceiling-gpu.txt)
#   coldbackground coldstart under TTS_COMPILE=background: ready, jobs during the compile, the swap
#   coldcompile coldstart under TTS_COMPILE=1: compile cache empty in round 1, kept after
# The whole run ends within SUITE_SECONDS (default 540): each stage gets at most its own cap
# and what is left, so one slow stage cannot take the next ones' time, and a stage cut off
# keeps what it printed. Each stage's output goes to $OUT/<stage>-gpu.txt (and to stdout), the
# cold* stages' to one coldstart-gpu.txt (a device call brings back only a few files).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-suite-out}"
mkdir -p "$OUT"
rm -f "$OUT"/*-gpu.txt  # stages append to their files
stages="${1:-tests,serve,engine,coldstart,coldcache,ceiling,coldbackground,coldcompile}"
deadline=$((SECONDS + ${SUITE_SECONDS:-540}))
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
{
  date -u
  nvidia-smi -L
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  python3 -c "import container, adapters.f5.engine, runpod.serverless.utils.rp_ssrf; print('imports ok')"
  python3 -c "from benchmarks.common import ensure_files; ensure_files()"
  echo "setup done at ${SECONDS}s"
} 2>&1 | tee "$OUT/env-gpu.txt"

run() {  # run STAGE CAP_SECONDS COMMAND...: one stage, within its cap and the suite's deadline
  local stage=$1 cap=$2 left=$((deadline - SECONDS)) file="$OUT/$1-gpu.txt"
  shift 2
  # the device tool brings back at most 8 files: the cold-start stages share one
  case "$stage" in cold*) file="$OUT/coldstart-gpu.txt" ;; esac
  [ "$left" -lt "$cap" ] && cap=$left
  if [ "$cap" -lt 20 ]; then
    echo "== $stage: skipped, ${left}s left" | tee -a "$OUT/env-gpu.txt"
    return 0
  fi
  echo "== $stage (cap ${cap}s, at ${SECONDS}s): $*" | tee -a "$file"
  timeout -k 5 "$cap" "$@" 2>&1 | tee -a "$file"
  echo "== $stage exit ${PIPESTATUS[0]} at ${SECONDS}s" | tee -a "$file"
}

stage() {
  case "$1" in
    tests) run tests 150 python3 -m pytest -q -rA -s -p no:cacheprovider tests/integration/test_f5_batching.py \
      tests/integration/test_f5_compile.py tests/unit/test_f5_rotary.py -k cuda ;;
    engine) run engine 110 python3 -m benchmarks.engine --cases sentence,batch8 --repeats 3 --extra compile ;;
    serve) run serve 270 python3 -m benchmarks.serve --nfe 16 --levels 1,8,16 --rounds 2 --repeats 1 --warmup-rounds 1 \
      --request-timeout 120 --variant compiled:TTS_COMPILE=1 --variant background:TTS_COMPILE=background --openai pcm ;;
    coldstart) run coldstart 60 python3 -m benchmarks.coldstart --device cuda --rounds 2 ;;
    coldbackground) run coldbackground 90 python3 -m benchmarks.coldstart --device cuda --rounds 1 \
      --compile background ;;
    ceiling) run ceiling 120 python3 -m benchmarks.ceiling --batches 1,8,16 --modes eager,graphs,compile \
      --compile-batches 16 ;;
    coldcache) run coldcache 50 python3 -m benchmarks.coldstart --device cuda --rounds 1 --cold ;;
    coldcompile) run coldcompile 120 python3 -m benchmarks.coldstart --device cuda --rounds 2 --compile ;;
    *) echo "unknown stage $1" ;;
  esac
}

for name in ${stages//,/ }; do stage "$name"; done
echo "suite done at ${SECONDS}s" | tee -a "$OUT/env-gpu.txt"
ls -la "$OUT"
