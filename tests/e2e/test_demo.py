"""`make demo` keeps working: the demo script runs end to end and shows
what it claims."""
import os
import subprocess

from conftest import BUILD, ROOT


def test_demo_script():
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARD_")}
    r = subprocess.run(["sh", str(ROOT / "scripts" / "demo.sh"), BUILD.name], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    for needle in ("Enclave hash: ", "[[ 0  1  2  3  4]",
                   "ward: fork() is not permitted inside the enclave",
                   "hello from inside an encrypted volume", "result.txt read back with the key: 42",
                   "chunk 0: authentication failed", "exiting with status 74 instead of 0",
                   "created session 'demo'", "argv from the policy: ['--port', '8443']",
                   "DB_PASSWORD has 20 characters; HOME is None",
                   "ward: attestation denied by CAS: enclave hash", "DENIED", "demo finished"):
        assert needle in out, needle
