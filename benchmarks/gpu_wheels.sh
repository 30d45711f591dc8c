#!/usr/bin/env bash
# Prepare the Python 3.12 wheels benchmarks/gpu_suite.sh installs on the GPU machine (which
# has torch, numpy, scipy, transformers, matplotlib, pytest, but none of the packages below).
# Run here, from the repository root, with network access to the package registry:
#   bash benchmarks/gpu_wheels.sh          # writes .whl/ (ignored by git; ~50 MB, under the 64 MiB a device call carries)
# then carry `.whl` to the device run (see gpu_suite.sh).
set -eo pipefail
cd "$(dirname "$0")/.."
exclude="$(git rev-parse --git-common-dir)/info/exclude"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
mkdir -p .whl
PIP=".venv/bin/python -m pip"
platforms=()
for n in 2_28 2_27 2_17 2_24 2_31 2_34 2_35 2_5; do platforms+=(--platform "manylinux_${n}_x86_64"); done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
grep -v '^#' benchmarks/gpu_wheels.txt | grep -v '^$' | while read -r req; do
  # a published py3.12 wheel, else (pure-Python sdists: antlr4, encodec, docopt) one built here
  $PIP download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "$req" 2>/dev/null || $PIP wheel -q --no-deps -w .whl "$req"
done
du -sh .whl && ls .whl | wc -l
