"""Limits inside the enclave: no new processes, not dumpable, bounded heap
and stack, dlopen policy."""
import ctypes
import os
import pwd
import subprocess
import time

import pytest

from conftest import BUILD, PY, WARD, base_env, needs_heap_bound, needs_runtime, one_line, ward

pytestmark = needs_runtime


def py(code, *opts, env=None, timeout=60):
    return ward("run", *opts, PY, "-c", code, env=env, timeout=timeout)


PROCESS_CALLS = {
    "os.fork()": ("os.fork()", "fork()"),
    "subprocess": ("subprocess.run(['true'])", "vfork()"),
    "multiprocessing": ("multiprocessing.Pool(2)", "fork()"),
    "posix_spawn": ("os.posix_spawn('/bin/true', ['true'], {})", "posix_spawn()"),
    "popen": ("os.popen('true').read()", "fork()"),
    "execv": ("os.execv('/bin/true', ['true'])", "execv()"),
}


@pytest.mark.parametrize("name", sorted(PROCESS_CALLS))
def test_process_creation_raises_and_says_why(name):
    call, named = PROCESS_CALLS[name]
    code = ("import os, subprocess, multiprocessing\n"
            f"try:\n    {call}\nexcept OSError as e:\n    print('raised', type(e).__name__, e.errno)\n"
            "print('still alive')")
    r = py(code, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "raised PermissionError 1\nstill alive\n"
    lines = one_line(r.stderr)
    assert f"ward: {named} is not permitted inside the enclave: an enclave runs exactly one process (use threads instead)" in lines


def test_os_system_fails():
    r = py("import os; print(os.system('true'))")
    assert r.stdout == "-1\n"
    assert any("system() is not permitted" in l for l in one_line(r.stderr))


@pytest.mark.parametrize("nr,args,named", [
    (57, (), "fork()"),
    (58, (), "vfork()"),
    (56, (17, 0, 0, 0, 0), "clone() without CLONE_THREAD"),
    (59, (b"/bin/true", 0, 0), "execve()"),
])
def test_direct_system_calls_are_refused_by_seccomp(nr, args, named):
    code = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            f"r = libc.syscall({nr}, *{args!r})\nprint(r, ctypes.get_errno())")
    r = py(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "-1 1\n"
    assert any(f"{named} is not permitted" in l for l in one_line(r.stderr))


def test_threads_keep_working():
    r = ward("run", PY, str(BUILD.parent / "examples" / "threads_example.py"))
    assert r.returncode == 0
    assert r.stdout.endswith("threads: 8 done\n")
    native = subprocess.run([PY, str(BUILD.parent / "examples" / "threads_example.py")],
                            capture_output=True, text=True)
    assert r.stdout == native.stdout


def _as_nobody():
    nobody = pwd.getpwnam("nobody")
    def demote():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    return demote


def _can_run_as_nobody():
    try:
        r = subprocess.run([str(WARD), "--version"], preexec_fn=_as_nobody(), capture_output=True)
        return r.returncode == 0
    except (KeyError, PermissionError):
        return False


def _ptrace_attach(pid, demote):
    code = ("import ctypes, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "pid = int(sys.argv[1])\nr = libc.ptrace(16, pid, 0, 0)\n"
            "print(r, ctypes.get_errno())\n"
            "if r == 0:\n    import os; os.waitpid(pid, 0); libc.ptrace(17, pid, 0, 0)\n")
    return subprocess.run([PY, "-c", code, str(pid)], preexec_fn=demote, capture_output=True,
                          text=True, timeout=30).stdout.split()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to a second unprivileged user")
def test_not_dumpable_and_no_ptrace_from_same_user(tmp):
    if not _can_run_as_nobody():
        pytest.skip("the build directory is not readable by nobody")
    demote = _as_nobody()
    os.chmod(tmp, 0o777)
    # nobody cannot write below pytest's private tmp: no engine image store.
    env = base_env(XDG_CACHE_HOME=str(tmp / "cache"), HOME=str(tmp), WARD_ENGINE_IMAGE="0")
    sleeper = "import time, sys; print('up', flush=True); time.sleep(60)"
    # Baseline: the same user can attach to a native process.
    native = subprocess.Popen([PY, "-c", sleeper], preexec_fn=demote, stdout=subprocess.PIPE, text=True)
    enclave = subprocess.Popen([str(WARD), "run", PY, "-c", sleeper], env=env, preexec_fn=demote,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert native.stdout.readline() == "up\n"
        assert enclave.stdout.readline() == "up\n"
        assert _ptrace_attach(native.pid, demote)[0] == "0"
        assert _ptrace_attach(enclave.pid, demote) == ["-1", "1"]  # EPERM
        # Not dumpable: /proc/PID belongs to root, the core limit is zero.
        assert os.stat(f"/proc/{native.pid}/environ").st_uid != 0
        assert os.stat(f"/proc/{enclave.pid}/environ").st_uid == 0
        limits = open(f"/proc/{enclave.pid}/limits").read()
        assert any(l.startswith("Max core file size") and l.split()[4:6] == ["0", "0"]
                   for l in limits.splitlines())
    finally:
        native.kill()
        enclave.kill()
        native.wait()
        enclave.wait()


def test_cannot_make_itself_dumpable_again():
    r = py("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
           "print(libc.prctl(4, 1, 0, 0, 0), ctypes.get_errno(), libc.prctl(3, 0, 0, 0, 0))")
    assert r.stdout == "-1 1 0\n"


@needs_heap_bound
def test_heap_limit_gives_memory_error_and_names_the_setting():
    code = ("try:\n    b = bytearray(512 * 1024 * 1024)\n    print('allocated')\n"
            "except MemoryError:\n    print('MemoryError')\n")
    r = py(code, "--heap", "256M")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "MemoryError\n"
    lines = one_line(r.stderr)
    assert len(lines) == 1
    assert "WARD_HEAP=256M" in lines[0] and "--heap" in lines[0] and "WARD_HEAP=512M" in lines[0]
    # The same allocation fits in a larger heap.
    r = py(code, "--heap", "1G")
    assert r.stdout == "allocated\n" and one_line(r.stderr) == []


@needs_heap_bound
def test_heap_exhaustion_by_many_objects():
    code = ("l = []\ntry:\n    while True:\n        l.append(bytes(1 << 20))\n"
            "except MemoryError:\n    n = len(l); del l; print('MemoryError', n < 200)\n")
    r = py(code, "--heap", "128M")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "MemoryError True\n"
    assert any("WARD_HEAP=128M" in l for l in one_line(r.stderr))


@needs_heap_bound
def test_threads_beyond_the_heap_bound_name_the_settings():
    """Each thread's stack counts against WARD_HEAP: the thread that does
    not fit fails as natively on a memory limit (RuntimeError), with one
    line naming both settings; smaller stacks let all of them start."""
    code = ("import threading\nev = threading.Event(); ts = []\ntry:\n"
            "    for i in range(200):\n        t = threading.Thread(target=ev.wait); t.start(); ts.append(t)\n"
            "except RuntimeError as e:\n    print('stopped', e)\nev.set()\nprint(len(ts) == 200)\n")
    r = ward("run", "--heap", "256M", PY, "-c", code)
    assert r.returncode == 0 and r.stdout == "stopped can't start new thread\nFalse\n", r.stderr
    assert one_line(r.stderr) == [
        "ward: cannot start a thread: its stack does not fit in the heap bound (WARD_HEAP=256M, and each thread's "
        "stack takes WARD_STACK=8M of it); give threads smaller stacks with --stack (e.g. --stack 1M) or raise --heap"]
    r = ward("run", "--heap", "256M", "--stack", "1M", PY, "-c", code)
    assert (r.returncode, r.stdout, r.stderr) == (0, "True\n", "")


def test_stack_overflow_names_the_setting(tmp):
    prog = tmp / "deep.py"
    prog.write_text("import sys\nsys.setrecursionlimit(10**8)\nl = []\n"
                    "for i in range(10**7):\n    l = [l]\nprint(len(repr(l)))\n")
    r = ward("run", "--stack", "1M", PY, prog)
    assert r.returncode == -11
    lines = one_line(r.stderr)
    assert lines == ["ward: stack overflow: the program used more than WARD_STACK=1M of stack; "
                     "raise it with --stack or WARD_STACK (e.g. WARD_STACK=4M)"]


def test_dlopen_policy_0_refuses_after_start():
    code = ("try:\n    import _ssl\n    print('loaded')\nexcept ImportError as e:\n"
            "    print('ImportError', 'WARD_ALLOW_DLOPEN=0' in str(e))\n"
            "try:\n    import ctypes\nexcept ImportError as e:\n    print('ImportError', 'WARD_ALLOW_DLOPEN=0' in str(e))\n")
    r = py(code, "--allow-dlopen", "0")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ImportError True\nImportError True\n"
    assert any("libraries may not be loaded after start" in l for l in one_line(r.stderr))


def test_dlopen_policy_2_loads_and_warns_once():
    r = py("import _ssl, _hashlib, ctypes; ctypes.CDLL('libz.so.1'); print('ok')", "--allow-dlopen", "2")
    assert r.stdout == "ok\n"
    warnings = [l for l in one_line(r.stderr) if "not authenticated" in l]
    assert len(warnings) == 1


def test_default_settings_run_the_common_imports():
    r = py("import json, ssl, sqlite3, numpy; print(numpy.arange(3).sum())")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "3\n"


def test_dlopen_policy_1_refuses_unauthenticated_libraries():
    code = ("try:\n    import _ssl\n    print('loaded')\nexcept ImportError as e:\n"
            "    print('ImportError', 'only libraries in an authenticated or encrypted region' in str(e),"
            " 'WARD_ALLOW_DLOPEN=1' in str(e))\n")
    # Without the engine image, lib-dynload is an unauthenticated directory.
    r = py(code, "--no-engine-image", "--allow-dlopen", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ImportError True True\n"
