#!/bin/sh
# run-all.sh [BUILD]: every benchmark once, with the settings that
# docs/benchmarks.md quotes (`make bench`). Each prints its ratios against
# the native baseline measured in the same run; nothing here is a pass/fail
# threshold. Installs the peers compared against (gocryptfs) first; a
# benchmark that cannot run says why and the others still run. The exit
# status is 1 when any of them failed.
set -u
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
export WARD_BUILD="$BUILD"
PY=/usr/bin/python3
failed=""

sh scripts/install-deps.sh bench ||
	echo "ward bench: could not install gocryptfs; bench_shield.py runs without it" >&2

run() {
	echo
	echo "== $*"
	"$@" || failed="$failed
  $*"
}

run $PY bench/bench_runtime.py --build "$BUILD" --reps 5 --startup-reps 40
run $PY bench/bench_engine.py --build "$BUILD" --reps 20
run env WARD="$BUILD/ward" sh bench/bench_verify.sh 500
run $PY bench/bench_fs.py 256 3
run $PY bench/bench_shield.py --mib 256 --runs 3 --passes 3
run $PY bench/bench_shield.py --numpy-only --runs 3
run $PY bench/bench_mmap.py --runs 5
run env WARD_BUILD="$BUILD" $PY bench/bench_rekey.py --mib 256 --small 5000 --runs 3
run $PY bench/bench_cas.py --seconds 4 --startup-reps 20

if [ -n "$failed" ]; then
	echo "ward bench: these benchmarks failed (see their output above):$failed" >&2
	exit 1
fi
echo
echo "ward bench: all benchmarks ran; record results in docs/benchmarks.md with the command that produced them"
