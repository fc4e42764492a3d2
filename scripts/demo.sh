#!/bin/sh
# `make demo`: the main job end to end on the embedded defaults, in
# simulation mode. Everything it creates lives in a temporary directory.
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${1:-build}
W="$ROOT/$B/ward"
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/ward-demo.XXXXXX")
CAS_PID=""
cleanup() {
	[ -n "$CAS_PID" ] && kill "$CAS_PID" 2>/dev/null && wait "$CAS_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
export WARD_MODE=sim XDG_CACHE_HOME="$T/cache" XDG_CONFIG_HOME="$T/config" WARD_SIM_PLATFORM_DIR="$T/platform"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. ward measure: the enclave hash of $PY, computed offline"
"$W" measure -- "$PY"

say "2. WARD_VERSION=1 ward run $PY examples/numpy_example.py"
WARD_VERSION=1 "$W" run "$PY" examples/numpy_example.py

say "3. one process per enclave: os.fork() fails with a clear line"
"$W" run "$PY" -c 'import os
try:
    os.fork()
except OSError as e:
    print("python saw:", e)'

say "4. an encrypted program: ward fs encrypt, then ward run --volume"
mkdir -p "$T/src"
printf 'print("hello from inside an encrypted volume")\nopen("%s/app.vol/result.txt", "w").write("42\\n")\n' "$T" > "$T/src/main.py"
"$W" fs encrypt "$T/src" "$T/app.vol" --key-file "$T/app.key"
echo "on disk, main.py is ciphertext:"; head -c 48 "$T/app.vol/main.py" | od -An -c | head -2
"$W" run --volume "$T/app.vol:$T/app.key" -- "$PY" "$T/app.vol/main.py"
printf 'result.txt read back with the key: '; "$W" fs cat "$T/app.vol" result.txt --key-file "$T/app.key"
echo "flip one byte of main.py outside the enclave, and run again:"
"$PY" -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[5] ^= 1; open(p, "wb").write(b)' "$T/app.vol/main.py"
"$W" run --volume "$T/app.vol:$T/app.key" -- "$PY" "$T/app.vol/main.py" || echo "(refused, exit status $?)"

say "5. the CAS: only the measured enclave gets the encrypted program's key, its arguments and a generated secret"
"$ROOT/$B/ward-cas" --data-dir "$T/cas" --listen 127.0.0.1:0 --attest-listen 127.0.0.1:0 \
	--sim-platform-dir "$T/platform" > "$T/cas.out" 2> "$T/cas.err" &
CAS_PID=$!
i=0
until grep -q ready "$T/cas.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$T/cas.err"; exit 1; }; sleep 0.1
done
cat "$T/cas.out"
API=$(sed -n 's/^ward-cas: clients https:\/\///p' "$T/cas.out")
ATTEST=$(sed -n 's/^ward-cas: enclaves //p' "$T/cas.out")
FPR=$(sed -n 's/^ward-cas: fingerprint //p' "$T/cas.out")
mkdir -p "$T/prog"
cp examples/cas/main.py "$T/prog/main.py"
TAG=$("$W" fs encrypt "$T/prog" "$T/prog.vol" --key-file "$T/prog.key" 2>/dev/null)
sed -e "s|@MRENCLAVE@|$("$W" measure -- "$PY")|" -e "s|@VOLUME@|$T/prog.vol|g" \
	-e "s|@KEY@|$(cat "$T/prog.key")|" -e "s|@TAG@|$TAG|" examples/cas/policy.yaml.in > "$T/policy.yaml"
rm "$T/prog.key"   # from now on only the CAS holds the program's key
"$W" session create -f "$T/policy.yaml" --cas "$API"
echo "\$ WARD_CAS_ADDR=$API WARD_CONFIG_ID=demo/app ward run $PY   (host arguments are ignored)"
WARD_CAS_ADDR="$API" WARD_CAS_ATTEST_ADDR="$ATTEST" WARD_CAS_FINGERPRINT="$FPR" WARD_CONFIG_ID=demo/app \
	"$W" run "$PY" these host arguments are ignored
echo "the same with a different heap size (a different enclave hash):"
WARD_CAS_ADDR="$API" WARD_CAS_ATTEST_ADDR="$ATTEST" WARD_CAS_FINGERPRINT="$FPR" WARD_CONFIG_ID=demo/app \
	"$W" run --heap 1G "$PY" || echo "(refused, exit status $?)"
echo "the audit log:"
"$W" session audit demo --cas "$API"

say "demo finished"
