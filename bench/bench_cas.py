#!/usr/bin/python3
"""Benchmark of ward-cas attestation on loopback.

Starts a private ward-cas (temporary data directory, ephemeral ports),
creates one session, then runs the stand-in enclave load generator
(build/tests/unit/cas/cas-probe bench) with 1, 8 and 64 concurrent clients.
Every attestation is a full one: an enclave key from a pool made before the
clock starts (an enclave makes its key once), TLS 1.3 handshake (no
resumption; the CAS is authenticated, the enclave by its evidence, which
binds the connection's TLS exporter), challenge, simulation evidence signed
and verified (Ed25519), policy decision, audit record made durable,
configuration returned.
Baseline in the same run: a TLS 1.3 handshake (no client certificate, as on
the attestation port) and GET /healthz on the same server (the transport cost
alone).

Then, when the runtime in this build attests to a CAS (WARD_CAS_ADDR), the
start-up time of a CAS-attested `ward run python3 -c pass` against a local
`ward run python3 -c pass`, interleaved, median of --startup-reps each.

Also, on 2+ CPUs, 8 clients with the server pinned to CPU 0 and the load
generator to CPU 1: the server's capacity on one core of its own.

Usage: /usr/bin/python3 bench/bench_cas.py [--seconds S] [--count N] [--startup-reps R] [--no-pin]
Bounded: each run stops after S seconds (default 5) or N attestations.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = ROOT / os.environ.get("WARD_BUILD", "build")
sys.path.insert(0, str(ROOT / "tests/e2e"))
from test_cas import M1, Cas, create, make_client_cert, session_doc  # noqa: E402
import urllib3  # noqa: E402

urllib3.disable_warnings()


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def run(cas, clients, seconds, count, baseline, gen_cpu=None):
    c0 = cpu(cas.proc.pid)
    pin = ["taskset", "-c", str(gen_cpu)] if gen_cpu is not None else []
    args = pin + [str(BUILD / "tests/unit/cas/cas-probe"), "bench", cas.attest_addr, cas.fpr, "myapp/web", M1,
            str(clients), str(seconds), str(count)]
    if baseline:
        args += ["--baseline", cas.http]
    r = subprocess.run(args, capture_output=True, text=True, env=cas.env(), timeout=seconds + 120)
    if r.returncode != 0:
        sys.exit(f"bench failed: {r.stderr}")
    res = json.loads(r.stdout)
    res["server_cpu_ms"] = 1000 * (cpu(cas.proc.pid) - c0) / max(res["count"], 1)
    return res


def audit_len(cas, cert, name):
    return len(cas.req("GET", f"/v1/sessions/{name}/audit?limit=10000", cert=cert).json()["entries"])


def startup(cas, cert, reps):
    """Median start-up of attested vs local `ward run python3 -c pass`, or None
    when this build's runtime does not attest (no audit record appears)."""
    import statistics
    import time
    from conftest import PY, WARD, base_env
    meas = subprocess.run([str(WARD), "measure", PY], capture_output=True, text=True,
                          env=base_env()).stdout.strip()
    doc = {"name": "startup", "version": "0.3",
           "services": [{"name": "py", "mrenclaves": [meas], "command": [PY, "-c", "pass"]}],
           "security": {"attestation": {"tolerate": ["simulation"]}}}
    create(cas, cert, doc)
    local = base_env()
    attested = base_env(WARD_CAS_ADDR=cas.http, WARD_CAS_ATTEST_ADDR=cas.attest_addr, WARD_CONFIG_ID="startup/py",
                        WARD_CAS_FINGERPRINT=cas.fpr, WARD_SIM_PLATFORM_DIR=str(cas.simdir))
    n0 = audit_len(cas, cert, "startup")
    r = subprocess.run([str(WARD), "run", PY, "-c", "pass"], env=attested, capture_output=True, text=True)
    if r.returncode != 0 or audit_len(cas, cert, "startup") == n0:
        print(f"attested start-up failed: {r.stderr.strip()}", file=sys.stderr)
        return None
    t = {"local": [], "attested": []}
    for _ in range(reps):
        for k, env in (("local", local), ("attested", attested)):
            t0 = time.perf_counter()
            r = subprocess.run([str(WARD), "run", PY, "-c", "pass"], env=env, capture_output=True)
            t[k].append(time.perf_counter() - t0)
            if r.returncode != 0:
                sys.exit(f"ward run failed: {r.stderr}")
    return statistics.median(t["local"]), statistics.median(t["attested"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--startup-reps", type=int, default=30)
    ap.add_argument("--no-pin", action="store_true", help="skip the run with server and generator on separate CPUs")
    a = ap.parse_args()
    load0 = " ".join(open("/proc/loadavg").read().split()[:3])
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        cas = Cas(d, extra=["--log", "warn"])
        cas.start()
        try:
            cert, _ = make_client_cert(d, "bench")
            create(cas, cert, session_doc())
            rows = []
            for n in (1, 8, 64):
                att = run(cas, n, a.seconds, a.count, False)
                base = run(cas, n, a.seconds, a.count, True)
                rows.append((n, att, base))
            pinned = None
            if os.cpu_count() >= 2 and not a.no_pin:
                # the server on CPU 0 (all its threads), the load generator
                # on CPU 1: the server's own capacity on one core
                subprocess.run(["taskset", "-a", "-p", "-c", "0", str(cas.proc.pid)], check=True,
                               capture_output=True)
                pinned = run(cas, 8, a.seconds, a.count, False, gen_cpu=1)
                subprocess.run(["taskset", "-a", "-p", "-c", f"0-{os.cpu_count() - 1}", str(cas.proc.pid)],
                               check=True, capture_output=True)
            st = startup(cas, cert, a.startup_reps)
        finally:
            cas.stop()
    print("| clients | attestations/s | p50 ms | p99 ms | server CPU ms/attestation | client CPU ms/attestation | baseline TLS+GET/s | baseline p50 ms | baseline p99 ms | baseline server CPU ms | attest/baseline throughput |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, att, base in rows:
        print(f"| {n} | {att['per_second']:.0f} | {att['p50_ms']:.2f} | {att['p99_ms']:.2f} | {att['server_cpu_ms']:.2f} | "
              f"{att['client_cpu_ms']:.2f} | "
              f"{base['per_second']:.0f} | {base['p50_ms']:.2f} | {base['p99_ms']:.2f} | {base['server_cpu_ms']:.2f} | "
              f"{att['per_second'] / base['per_second']:.2f} |")
    sc = sum(r[1]["server_cpu_ms"] for r in rows) / len(rows)
    print(f"({rows[0][1]['count'] + rows[1][1]['count'] + rows[2][1]['count']} attestations in total, "
          f"{os.cpu_count()} CPUs; client and server share them; load average before the run {load0}; "
          f"server alone on all CPUs: ~{1000 * os.cpu_count() / sc:.0f} attestations/s at {sc:.2f} ms CPU each)")
    if pinned is not None:
        print(f"pinned, 8 clients, server on CPU 0 and load generator on CPU 1: {pinned['per_second']:.0f} attestations/s, "
              f"p50 {pinned['p50_ms']:.2f} ms, p99 {pinned['p99_ms']:.2f} ms, server CPU {pinned['server_cpu_ms']:.2f} ms, "
              f"client CPU {pinned['client_cpu_ms']:.2f} ms per attestation")
    if st is None:
        print("start-up: this build's runtime does not attest to a CAS (skipped)")
    else:
        print(f"start-up, python3 -c pass (median of {a.startup_reps}, interleaved): local ward run "
              f"{1000 * st[0]:.1f} ms | CAS-attested {1000 * st[1]:.1f} ms  ratio {st[1] / st[0]:.2f}")


if __name__ == "__main__":
    main()
