#!/bin/sh
# bench_verify.sh: evidence verifications per second on one core, with the
# collateral loaded once (`ward evidence bench`), for SGX, TDX and SEV-SNP;
# and, side by side on the same SGX and TDX samples, Phala's @phala/dcap-qvl
# (JavaScript) installed from npm into a temporary directory outside the
# repository. Prints a ratio per sample. "ward" keeps one verification
# cache for all iterations (as a long-running verifier does: certificates
# decoded and chain/collateral signatures verified once, the quote's own
# signatures every time); "ward-cold" starts every iteration with an empty
# cache. Needs the shared test vectors next to the repository.
# Usage: bench/bench_verify.sh [ITERATIONS]
set -eu
cd "$(dirname "$0")/.."
N="${1:-2000}"
V="$(pwd)/../shared/testvectors"
W="${WARD:-build/ward}"
[ -d "$V" ] || { echo "bench_verify: test vectors not found at $V" >&2; exit 1; }
[ -x "$W" ] || { echo "bench_verify: build ward first (ninja -C build)" >&2; exit 1; }

QVL_DIR="${DCAP_QVL_DIR:-}"
if [ -z "$QVL_DIR" ] && command -v npm >/dev/null && command -v node >/dev/null; then
	TMP="$(mktemp -d /tmp/ward-bench-dcapqvl.XXXXXX)"
	if (cd "$TMP" && npm init -y >/dev/null 2>&1 && npm install --silent @phala/dcap-qvl >/dev/null 2>&1); then
		QVL_DIR="$TMP/node_modules/@phala/dcap-qvl"
	else
		echo "bench_verify: npm install @phala/dcap-qvl failed; running without the baseline" >&2
	fi
fi
[ -n "$QVL_DIR" ] && echo "baseline: @phala/dcap-qvl $(node -p "require('$QVL_DIR/package.json').version") on node $(node --version)"

one() { # label, ward bench args..., then (if set) QVL_ARGS
	label="$1"; shift
	w="$(taskset -c 0 "$W" evidence bench "$@" --iterations "$N")"
	printf '%-10s ward       %s\n' "$label" "$w"
	wc="$(taskset -c 0 "$W" evidence bench "$@" --iterations "$N" --cold)"
	printf '%-10s ward-cold  %s\n' "$label" "$wc"
	if [ -n "$QVL_DIR" ] && [ -n "${QVL_ARGS:-}" ]; then
		# shellcheck disable=SC2086
		q="$(taskset -c 0 node bench/bench_verify_dcapqvl.js "$QVL_DIR" $QVL_ARGS "$N")"
		printf '%-10s dcap-qvl   %s\n' "$label" "$q"
		node -e '
			const w = JSON.parse(process.argv[1]), q = JSON.parse(process.argv[2]), c = JSON.parse(process.argv[4]);
			console.log(`${process.argv[3].padEnd(10)} ratio      ward is ${(w.per_second / q.per_second).toFixed(1)}x dcap-qvl (${w.ms_per_verification.toFixed(3)} ms vs ${q.ms_per_verification.toFixed(3)} ms); cold ${(c.per_second / q.per_second).toFixed(1)}x (${c.ms_per_verification.toFixed(3)} ms); status ward ${w.status}, dcap-qvl ${q.status}: ${w.status === q.status ? "same" : "DIFFERENT"}`);
		' "$w" "$q" "$label" "$wc"
	fi
}

QVL_ARGS="$V/sgx/qvl_sgx_quote.bin $V/sgx/qvl_sgx_quote_collateral.json 1752919277" \
	one sgx "$V/sgx/qvl_sgx_quote.bin" --collateral "$V/sgx/qvl_sgx_quote_collateral.json" --at 2025-07-19T10:01:17Z
QVL_ARGS="$V/sgx/automata_quotev3.hex $V/sgx/derived/automata_0825_00606a000000.collateral.json 1755236700" \
	one sgx-2 "$V/sgx/automata_quotev3.hex" --collateral "$V/sgx/derived/automata_0825_00606a000000.collateral.json" --at 2025-08-15T05:45:00Z
QVL_ARGS="$V/tdx/qvl_tdx_quote.bin $V/tdx/qvl_tdx_quote_collateral.json 1752919234" \
	one tdx "$V/tdx/qvl_tdx_quote.bin" --collateral "$V/tdx/qvl_tdx_quote_collateral.json" --at 2025-07-19T10:00:34Z
QVL_ARGS="" one snp "$V/snp/ms_milan_attestation_report.bin" --vcek "$V/snp/ms_milan_vcek.pem" \
	--chain "$V/amd-pki/milan_ask_ark_asvk.pem" --at 2026-06-01T00:00:00Z
