"""Shared fixtures for the end-to-end tests: real `ward` processes."""
import os
import subprocess
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("WARD_BUILD", "build")
WARD = BUILD / "ward"
RUNTIME = BUILD / "libward-rt.so"
PY = "/usr/bin/python3"
SANITIZED = os.environ.get("WARD_SANITIZED") == "1"

# Under AddressSanitizer the runtime still enters every engine (the sanitizer
# library is preloaded first), but the heap bound is off: ASan owns malloc and
# its shadow memory would exceed any data limit.
needs_runtime = pytest.mark.usefixtures()
needs_heap_bound = pytest.mark.skipif(
    SANITIZED, reason="sanitizer build: the heap bound is not applied under AddressSanitizer")


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARD_")}
    env.pop("LD_PRELOAD", None)
    env["WARD_MODE"] = "sim"
    # A private hash cache per test session keeps runs independent of $HOME.
    env.setdefault("XDG_CACHE_HOME", str(BUILD / "test-cache"))
    # The engine image (on by default for python3 and pypy3) is built once
    # per test session, not per $HOME.
    env.setdefault("XDG_DATA_HOME", str(BUILD / "test-data"))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def ward(*args, env=None, input=None, timeout=120, cwd=None):
    """Runs `ward ARGS...` and returns the CompletedProcess (text mode)."""
    return subprocess.run([str(WARD), *map(str, args)], env=env or base_env(),
                          input=input, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def one_line(stderr):
    """The ward: lines of stderr (messages users see)."""
    return [l for l in stderr.splitlines() if l.startswith("ward:")]


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
