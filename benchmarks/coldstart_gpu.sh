#!/usr/bin/env bash
# Cold start on a GPU, measured once: the worker started as the image starts it, with the DiT
# baked in bf16 and read straight onto the GPU, warm page cache (a restarted or FlashBoot-resumed
# worker) and cold page cache (a first start on a new machine), plus each side's load alone
# against upstream's in the same run. See benchmarks/coldstart.py for what each row means.
#
#   bash benchmarks/coldstart_gpu.sh [OUT_DIR]      # default OUT_DIR: $OUT, else benchmarks/results
#   (also a stage of benchmarks/gpu_suite.sh, which installs the wheels first)
#
# Needs a CUDA torch and the worker's dependencies importable by $PYTHON (default python3):
# runpod, f5-tts (--no-deps), vocos, x-transformers, safetensors, structlog, dependency-injector,
# pydantic-settings, soundfile, pypinyin, rjieba, ... (see /work/shared/ARCHITECTURE.md, "GPU runs").
# The cold rows need root (echo 3 > /proc/sys/vm/drop_caches); where that is refused they are
# skipped and the file says so. Budget: about 6-8 minutes on an H100/H200 at the default rounds
# (real-size random weights are written first, ~1 minute). Unmeasured until a GPU session runs it.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
OUT_DIR="${1:-${OUT:-benchmarks/results}}"
WARM_ROUNDS="${WARM_ROUNDS:-3}"
COLD_ROUNDS="${COLD_ROUNDS:-2}"
RESULT="$OUT_DIR/coldstart-gpu.txt"
mkdir -p "$OUT_DIR"

"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: this script is for a GPU machine')"

{
    echo "# benchmarks/coldstart_gpu.sh, $(date -u +%Y-%m-%dT%H:%MZ)"
    "$PYTHON" -c "import torch; print('# torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"
    echo "## warm page cache: python -m benchmarks.coldstart --device cuda --rounds $WARM_ROUNDS"
    "$PYTHON" -m benchmarks.coldstart --device cuda --rounds "$WARM_ROUNDS"
    echo
    if sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
        echo "## cold page cache: python -m benchmarks.coldstart --device cuda --rounds $COLD_ROUNDS --cold"
        "$PYTHON" -m benchmarks.coldstart --device cuda --rounds "$COLD_ROUNDS" --cold
    else
        echo "## cold page cache: not measured (drop_caches refused: not root here)"
    fi
} 2>&1 | tee "$RESULT"
