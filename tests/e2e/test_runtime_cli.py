"""`ward run` and `ward --help`: settings, refusals, wrapper scripts, modes."""
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import PY, WARD, base_env, needs_runtime, one_line, ward


def test_help_lists_commands():
    r = ward("--help")
    assert r.returncode == 0
    for cmd in ("run", "measure", "fs", "evidence", "ratls", "session"):
        assert re.search(rf"^  {cmd}\s", r.stdout, re.M), cmd


def test_run_help_documents_settings():
    r = ward("run", "--help")
    assert r.returncode == 0
    for word in ("--mode", "--heap", "--stack", "--allow-dlopen", "--log", "WARD_VERSION"):
        assert word in r.stdout


def test_unknown_command():
    r = ward("frobnicate")
    assert r.returncode == 2
    assert one_line(r.stderr) == ["ward: unknown command 'frobnicate'; run 'ward --help' for the list"]


def marker_program(tmp):
    """A program that proves it ran by creating a file."""
    marker = tmp / "ran"
    return marker, [PY, "-c", f"open({str(marker)!r}, 'w').close()"]


@pytest.mark.parametrize("args,env,needle", [
    (["--heap", "12Q"], {}, "invalid --heap '12Q'"),
    ([], {"WARD_HEAP": "12Q"}, "invalid WARD_HEAP '12Q'"),
    (["--mode", "fast"], {}, "invalid --mode 'fast': expected hw, sim or auto"),
    ([], {"WARD_MODE": "fast"}, "invalid WARD_MODE 'fast'"),
    (["--stack", "lots"], {}, "invalid --stack 'lots'"),
    (["--allow-dlopen", "7"], {}, "invalid --allow-dlopen '7'"),
    ([], {"WARD_LOG": "loud"}, "invalid WARD_LOG 'loud'"),
    (["--heap"], {}, None),  # missing value: the program path is taken as the value
    (["--bogus", "1"], {}, "unknown option '--bogus'"),
])
def test_invalid_settings_start_nothing(tmp, args, env, needle):
    marker, prog = marker_program(tmp)
    r = ward("run", *args, "--", *prog, env=base_env(**env))
    assert r.returncode == 125
    lines = one_line(r.stderr)
    assert len(lines) == 1, r.stderr
    if needle:
        assert needle in lines[0]
    assert not marker.exists()


def test_missing_program():
    r = ward("run")
    assert r.returncode == 125
    assert one_line(r.stderr) == ["ward: no program given; usage: ward run [OPTIONS] [--] PROGRAM [ARGS...]"]


def test_program_not_found():
    r = ward("run", "no-such-program-xyz")
    assert r.returncode == 127
    assert "not found on PATH" in one_line(r.stderr)[0]
    r = ward("run", "/nonexistent/prog")
    assert r.returncode == 127
    assert one_line(r.stderr) == ["ward: cannot run /nonexistent/prog: no such file; check the path"]


def test_static_program_refused(tmp):
    src = tmp / "s.c"
    src.write_text("int main(void){return 0;}\n")
    exe = tmp / "static"
    cc = subprocess.run(["cc", "-static", "-o", str(exe), str(src)], capture_output=True)
    if cc.returncode != 0:
        pytest.skip("no static libc to build a static test program")
    r = ward("run", exe)
    assert r.returncode == 126
    assert "statically linked" in one_line(r.stderr)[0]


def test_script_given_by_path_is_refused_with_the_fix(tmp):
    script = tmp / "tool.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    r = ward("run", script)
    assert r.returncode == 126
    line = one_line(r.stderr)[0]
    assert "it is a script (#!/bin/sh)" in line
    assert f"ward run /bin/sh {script}" in line


def wrapper_dir(tmp):
    d = tmp / "shims"
    d.mkdir()
    shim = d / "python3"
    shim.write_text("#!/usr/bin/env bash\nexec pyenv exec python3 \"$@\"\n")
    shim.chmod(0o755)
    return d


@needs_runtime
def test_wrapper_on_path_resolves_to_next_interpreter(tmp):
    d = wrapper_dir(tmp)
    env = base_env(PATH=f"{d}:/usr/bin:/bin")
    r = ward("run", "python3", "-c", "import sys; print(sys.executable)", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("/usr/bin/python3")
    lines = one_line(r.stderr)
    assert any("is a wrapper script" in l and str(d / "python3") in l for l in lines)


def test_wrapper_alone_is_refused_with_what_to_pass(tmp):
    d = wrapper_dir(tmp)
    env = base_env(PATH=str(d))
    r = ward("run", "python3", "-c", "pass", env=env)
    assert r.returncode == 126
    line = one_line(r.stderr)[0]
    assert "wrapper script" in line and "ward run /usr/bin/python3" in line


def test_setuid_program_refused(tmp):
    exe = tmp / "suid"
    shutil.copy(PY, exe)
    exe.chmod(0o4755)
    r = ward("run", exe, "-c", "pass")
    assert r.returncode == 126
    assert "set-user-ID" in one_line(r.stderr)[0]


def test_hw_mode_without_tee_fails_at_once(tmp):
    if any(os.path.exists(p) for p in ("/dev/attestation", "/sys/kernel/config/tsm/report")):
        pytest.skip("this machine has a TEE")
    marker, prog = marker_program(tmp)
    r = ward("run", "--mode", "hw", "--", *prog)
    assert r.returncode == 125
    lines = one_line(r.stderr)
    assert len(lines) == 1
    assert lines[0].startswith("ward: --mode hw: no usable TEE: ")
    for needle in ("/dev/attestation", "configfs-tsm", "/dev/tdx_guest",
                   "/dev/sev-guest", "/dev/sgx_enclave", "use --mode auto to fall back"):
        assert needle in lines[0], needle
    assert not marker.exists()
    # given in the environment, the line names the environment variable
    r = ward("run", "--", *prog, env=base_env(WARD_MODE="hw"))
    assert r.returncode == 125 and one_line(r.stderr)[0].startswith("ward: WARD_MODE=hw: no usable TEE: ")
    assert "use WARD_MODE=auto to fall back" in r.stderr and not marker.exists()


@needs_runtime
def test_auto_mode_falls_back_to_sim_and_says_so():
    env = base_env(WARD_MODE="auto")
    r = ward("run", PY, "-c", "print('ok')", env=env)
    assert r.returncode == 0
    assert r.stdout == "ok\n"
    assert any("running in simulation mode" in l for l in one_line(r.stderr))
    # An explicit sim says nothing.
    r = ward("run", PY, "-c", "print('ok')")
    assert one_line(r.stderr) == []


@needs_runtime
def test_version_printout_and_option_wins_over_env():
    env = base_env(WARD_VERSION="1", WARD_HEAP="1G")
    r = ward("run", "--heap", "2G", PY, "-c", "print('main ran')", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "main ran\n"
    err = r.stderr
    for line in ("export WARD_MODE=sim", "export WARD_HEAP=2G", "export WARD_STACK=8M",
                 "export WARD_ALLOW_DLOPEN=1", "export WARD_LOG=warn",
                 "Ward runtime: ", "Mode: sim"):
        assert line in err, line
    m = re.search(r"^Enclave hash: ([0-9a-f]{64})$", err, re.M)
    assert m
    # The printout comes before the program's first output would.
    meas = ward("measure", "--heap", "2G", PY)
    assert meas.stdout.strip() == m.group(1)


@needs_runtime
def test_program_sees_only_its_arguments_and_environment():
    env = base_env(USER_VAR="kept", WARD_LOG="error", WARD_VERSION="0")
    env["LD_PRELOAD"] = ""
    code = ("import os, sys, json; print(json.dumps({'argv': sys.argv[1:], "
            "'ward': sorted(k for k in os.environ if k.startswith('WARD_') or k == 'LD_PRELOAD'), "
            "'user': os.environ.get('USER_VAR'), "
            "'proc': [e.decode() for e in open('/proc/self/environ', 'rb').read().split(b'\\0') "
            "if e.startswith((b'WARD_', b'LD_PRELOAD='))]}))")
    r = ward("run", PY, "-c", code, "a b", "--heap", "", "--", env=env)
    assert r.returncode == 0, r.stderr
    import json
    got = json.loads(r.stdout)
    assert got == {"argv": ["a b", "--heap", "", "--"], "ward": [], "user": "kept", "proc": []}


@needs_runtime
def test_exit_status_and_signals_pass_through():
    r = ward("run", PY, "-c", "import sys; sys.exit(7)")
    assert r.returncode == 7
    r = ward("run", PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert r.returncode == -15


@needs_runtime
def test_log_levels_accepted():
    for lvl in ("error", "warn", "info", "debug"):
        r = ward("run", "--log", lvl, PY, "-c", "pass")
        assert r.returncode == 0, (lvl, r.stderr)
