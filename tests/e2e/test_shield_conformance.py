"""CPython's own regression tests for files and I/O, run natively, under
`ward run`, and under `ward run` with the working directory and TMPDIR inside
an encrypted volume (tests/conformance/run.py --ci: a representative subset;
the full set is `tests/conformance/run.py`). Every test whose outcome differs
between the last two must be listed with its reason in known.txt."""
import json
import os
import subprocess

from conftest import BUILD, PY, ROOT, needs_runtime

pytestmark = needs_runtime


def test_cpython_io_tests_match_with_cwd_and_tmpdir_in_a_volume(tmp_path):
    out = tmp_path / "conformance.json"
    env = dict(os.environ, WARD_BUILD=str(BUILD))
    p = subprocess.run([PY, str(ROOT / "tests" / "conformance" / "run.py"), "--ci", "--json", str(out)],
                       capture_output=True, text=True, env=env, timeout=900)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    data = json.loads(out.read_text())
    # The subset really ran: hundreds of tests in each configuration.
    for k in ("native", "enclave", "shield"):
        assert sum(int(x.split()[-1]) for x in data["counts"][k].split(", ")) > 300, data["counts"]
