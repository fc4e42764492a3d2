#!/bin/sh
# `make demo`: the main job end to end on the embedded defaults.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
W="$B/ward"
PY=/usr/bin/python3
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "ward measure: the enclave hash of $PY, computed offline"
"$W" measure -- "$PY"

say "WARD_VERSION=1 ward run $PY examples/numpy_example.py"
WARD_MODE=sim WARD_VERSION=1 "$W" run "$PY" examples/numpy_example.py

say "the limits: fork inside the enclave fails with a clear line"
WARD_MODE=sim "$W" run "$PY" -c 'import os
try:
    os.fork()
except OSError as e:
    print("python saw:", e)'

say "demo finished"
