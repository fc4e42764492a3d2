#!/usr/bin/python3
"""Benchmark of ward-cas attestation on loopback.

Starts a private ward-cas (temporary data directory, ephemeral ports),
creates one session, then runs the stand-in enclave load generator
(build/tests/unit/cas/cas-probe bench) with 1, 8 and 64 concurrent clients.
Every attestation is a full one: fresh enclave key, TLS 1.3 handshake with a
client certificate, challenge, simulation evidence signed and verified
(Ed25519), policy decision, audit record, configuration returned.
Baseline in the same run: a TLS 1.3 handshake with a client certificate and
GET /healthz on the same server (the transport cost alone).

Usage: /usr/bin/python3 bench/bench_cas.py [--seconds S] [--count N]
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


def run(cas, clients, seconds, count, baseline):
    c0 = cpu(cas.proc.pid)
    args = [str(BUILD / "tests/unit/cas/cas-probe"), "bench", cas.attest_addr, cas.fpr, "myapp/web", M1,
            str(clients), str(seconds), str(count)]
    if baseline:
        args += ["--baseline", cas.http]
    r = subprocess.run(args, capture_output=True, text=True, env=cas.env(), timeout=seconds + 120)
    if r.returncode != 0:
        sys.exit(f"bench failed: {r.stderr}")
    res = json.loads(r.stdout)
    res["server_cpu_ms"] = 1000 * (cpu(cas.proc.pid) - c0) / max(res["count"], 1)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--count", type=int, default=20000)
    a = ap.parse_args()
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
        finally:
            cas.stop()
    print("| clients | attestations/s | p50 ms | p99 ms | server CPU ms/attestation | baseline TLS+GET/s | baseline p50 ms | baseline p99 ms | baseline server CPU ms | attest/baseline throughput |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, att, base in rows:
        print(f"| {n} | {att['per_second']:.0f} | {att['p50_ms']:.2f} | {att['p99_ms']:.2f} | {att['server_cpu_ms']:.2f} | "
              f"{base['per_second']:.0f} | {base['p50_ms']:.2f} | {base['p99_ms']:.2f} | {base['server_cpu_ms']:.2f} | "
              f"{att['per_second'] / base['per_second']:.2f} |")
    print(f"({rows[0][1]['count'] + rows[1][1]['count'] + rows[2][1]['count']} attestations in total, "
          f"{os.cpu_count()} CPUs; client and server share them)")


if __name__ == "__main__":
    main()
