#!/bin/sh
# fuzz-smoke.sh: builds the libFuzzer targets with clang + ASan into
# build-fuzz and runs each for a short while (default 20 s; FUZZ_SECONDS=N).
# Seeds: the real samples of the shared test vectors when present, and
# manifests of small volumes made by build/ward when it is built, and the
# policies of the session language's documentation (fuzz/seeds.py).
# Crashing inputs are kept in fuzz/crashes/<target>/ for a named regression.
set -eu
cd "$(dirname "$0")/.."
SECS="${FUZZ_SECONDS:-20}"
VEC="$(pwd)/../shared/testvectors"
if [ ! -d build-fuzz ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
TARGETS="fuzz_evidence fuzz_collateral fuzz_pck_ext fuzz_ratls fuzz_manifest fuzz_policy"
ninja -C build-fuzz $(for t in $TARGETS; do printf 'fuzz/%s ' "$t"; done) >/dev/null
status=0
for t in $TARGETS; do
	corpus="build-fuzz/corpus/$t"
	mkdir -p "$corpus" "fuzz/crashes/$t"
	if [ "$t" = fuzz_manifest ] && [ -x build/ward ]; then
		/usr/bin/python3 fuzz/seeds.py manifest build/ward "$corpus" || true
	fi
	if [ "$t" = fuzz_policy ]; then
		/usr/bin/python3 fuzz/seeds.py policy docs/session-language.md "$corpus" || true
	fi
	if [ -d "$VEC" ]; then
		case $t in
		fuzz_evidence) cp "$VEC"/sgx/*.bin "$VEC"/sgx/*.hex "$VEC"/tdx/*.dat "$VEC"/tdx/*.bin "$VEC"/snp/*.bin "$corpus"/ 2>/dev/null || true ;;
		fuzz_collateral) cp "$VEC"/sgx/*.json "$VEC"/tdx/*.json "$VEC"/intel-pki/*.der "$corpus"/ 2>/dev/null || true
			rm -f "$corpus"/expected.json ;;
		fuzz_ratls) cp "$VEC"/ratls/*.der "$corpus"/ 2>/dev/null || true
			for pem in "$VEC"/ratls/*.pem; do
				[ -f "$pem" ] && openssl x509 -in "$pem" -outform DER -out "$corpus/$(basename "$pem" .pem).der" 2>/dev/null || true
			done ;;
		esac
	fi
	echo "fuzz-smoke: $t for ${SECS}s"
	if ! "build-fuzz/fuzz/$t" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=1024 \
		-artifact_prefix="fuzz/crashes/$t/" -print_final_stats=1 "$corpus" 2>"build-fuzz/$t.log"; then
		echo "fuzz-smoke: $t FAILED; see build-fuzz/$t.log and fuzz/crashes/$t/" >&2
		tail -30 "build-fuzz/$t.log" >&2
		status=1
	else
		grep -E 'stat::number_of_executed_units' "build-fuzz/$t.log" || true
	fi
done
exit $status
