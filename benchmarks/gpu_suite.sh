#!/usr/bin/env bash
# Every GPU check of the engine in one prepared script, for a scarce GPU machine (Python 3.12,
# torch with CUDA; the project's other packages come as wheels, see gpu_wheels.sh).
#
#   here:        bash benchmarks/gpu_wheels.sh                       # once: .whl/
#   on the GPU:  bash benchmarks/gpu_suite.sh tests,ceiling,engine   # ~6 min   (carry .whl)
#                bash benchmarks/gpu_suite.sh serve                   # ~6 min   (carry .whl)
#                bash benchmarks/gpu_suite.sh coldstart               # ~7 min   (carry .whl)
#
# Stages (comma list, default all; each call must end inside the device's 10-minute limit):
#   tests    the CUDA-only tests: graphs vs eager, batch mates and buckets, fp32 and bf16
#   ceiling  the DiT alone: eager, torch.compile, CUDA graphs, compile+graphs (benchmarks/ceiling.py)
#   engine   this engine against upstream F5TTS.infer, interleaved (benchmarks/engine.py)
#   serve    both workers through runpod's local API at 1/8/16 clients, interleaved (benchmarks/serve.py)
#   coldstart the worker started as the image starts it, warm and cold page cache, and each side's
#            load against upstream's (benchmarks/coldstart_gpu.sh -> coldstart-gpu.txt)
# Each stage's table goes to $OUT/<stage>-gpu.txt (and to stdout).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-suite-out}"
mkdir -p "$OUT"
stages="${1:-tests,ceiling,engine,serve,coldstart}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
{
  nvidia-smi -L
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  python3 -c "import container, adapters.f5_engine, runpod.serverless.utils.rp_ssrf; print('imports ok')"
} 2>&1 | tee "$OUT/env-gpu.txt"

run() {  # run STAGE SECONDS COMMAND...: one stage, its output kept even when it times out
  local stage=$1 seconds=$2
  shift 2
  case ",$stages," in *",$stage,"*) ;; *) return 0 ;; esac
  echo "== $stage: $*" | tee "$OUT/$stage-gpu.txt"
  timeout "$seconds" "$@" 2>&1 | tee -a "$OUT/$stage-gpu.txt"
  echo "== $stage exit ${PIPESTATUS[0]}" | tee -a "$OUT/$stage-gpu.txt"
}

run tests 150 python3 -m pytest -q -rA -s -p no:cacheprovider tests/integration/test_f5_batching.py -k cuda
run ceiling 200 python3 -m benchmarks.ceiling --batches 1,8,16,32 --compile-batches 16,32
run engine 200 python3 -m benchmarks.engine --cases sentence,paragraph,batch8 --repeats 3 --extra compile \
  --extra-cases sentence,batch8
run serve 420 python3 -m benchmarks.serve --nfe 16 --levels 1,8,16 --rounds 2 --repeats 2 --warmup-rounds 1
run coldstart 560 env WARM_ROUNDS=2 COLD_ROUNDS=1 bash benchmarks/coldstart_gpu.sh "$OUT"
ls -la "$OUT"
