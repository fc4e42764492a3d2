"""A run stopped by SIGTERM, SIGINT or SIGHUP keeps what it wrote, as
natively: the runtime commits the open files before the signal ends the
process (src/runtime/shield/term.c). A program's own handler still runs."""
import os
import signal
import subprocess
import textwrap

from conftest import PY, WARD, base_env, ward


def make_volume(tmp):
    (tmp / "src").mkdir()
    vol, key = tmp / "app.vol", tmp / "app.key"
    r = ward("fs", "encrypt", tmp / "src", vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    return vol, key


SELF_KILL = """
    import logging, os, signal, sys, time
    os.chdir(sys.argv[1])
    logging.basicConfig(filename="app.log", level=logging.INFO, format="%(message)s")
    for i in range(3):
        logging.info("record %d", i)
    fd = os.open("raw.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.write(fd, b"raw data\\n")
    with open("old.txt", "w") as f:
        f.write("old old old")
    f = open("old.txt", "w")   # truncated, still open
    f.write("new")
    f.flush()
    print("ready", flush=True)
    os.kill(os.getpid(), signal.SIG)
    time.sleep(30)
    print("not reached")
"""


def cat(vol, key, path):
    r = ward("fs", "cat", vol, path, "--key-file", key)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_self_sent_termination_signals_keep_the_writes(tmp):
    vol, key = make_volume(tmp)
    for sig in ("SIGTERM", "SIGHUP"):
        (tmp / "native").mkdir(exist_ok=True)
        prog = textwrap.dedent(SELF_KILL).replace("signal.SIG)", "signal.%s)" % sig)
        n = subprocess.run([PY, "-c", prog, tmp / "native"], capture_output=True, text=True, timeout=60)
        assert n.returncode == -getattr(signal, sig) and n.stdout == "ready\n"
        w = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", prog, vol)
        assert w.returncode == n.returncode and w.stdout == "ready\n" and w.stderr == "", w.stderr
        for f in ("app.log", "raw.txt", "old.txt"):
            assert cat(vol, key, f) == (tmp / "native" / f).read_text(), f
        assert cat(vol, key, "old.txt") == "new"
        assert ward("fs", "verify", vol, "--key-file", key).returncode == 0


BUSY_WRITER = """
    import os, sys, threading
    os.chdir(sys.argv[1])
    def writer(name):
        with open(name, "w") as f:
            i = 0
            while True:
                f.write("line %d\\n" % i)
                f.flush()
                i += 1
                if i == 1000:
                    open(name + ".ready", "w").close()
    for n in ("a.txt", "b.txt"):
        threading.Thread(target=writer, args=(n,), daemon=True).start()
    while not (os.path.exists("a.txt.ready") and os.path.exists("b.txt.ready")):
        pass
    print("ready", flush=True)
    threading.Event().wait()
"""


def test_external_sigterm_during_writes_commits_consistent_files(tmp):
    vol, key = make_volume(tmp)
    p = subprocess.Popen([str(WARD), "run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c",
                          textwrap.dedent(BUSY_WRITER), str(vol)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=base_env(), text=True)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == -signal.SIGTERM and err == "", err
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
    for name in ("a.txt", "b.txt"):
        lines = cat(vol, key, name).split("\n")
        # every line written before the commit, in order; at most the last cut
        assert len(lines) > 1000
        assert lines[:-2] == ["line %d" % i for i in range(len(lines) - 2)]


OWN_HANDLER = """
    import os, signal, sys, time
    os.chdir(sys.argv[1])
    def bye(sig, frame):
        f.write("handler ran\\n")
        sys.exit(3)
    if sys.argv[2] == "before":
        signal.signal(signal.SIGTERM, bye)
    f = open("out.txt", "w")
    f.write("written\\n")
    if sys.argv[2] == "after":
        signal.signal(signal.SIGTERM, bye)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
"""


def test_a_program_handler_for_sigterm_still_runs(tmp):
    vol, key = make_volume(tmp)
    for when in ("before", "after"):
        w = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(OWN_HANDLER), vol, when)
        assert w.returncode == 3 and w.stderr == "", (when, w.stderr)
        assert cat(vol, key, "out.txt") == "written\nhandler ran\n"


def test_a_read_only_run_leaves_the_default_action(tmp):
    """Nothing was opened for writing: no handler, no thread."""
    vol, key = make_volume(tmp)
    code = ("import os, signal, sys\n"
            "print(open('/proc/self/status').read().count('Threads:\\t1'), signal.getsignal(signal.SIGTERM))\n"
            "os.kill(os.getpid(), signal.SIGTERM)\n")
    w = ward("run", "--volume", "%s:%s:ro" % (vol, key), "--", PY, "-c", code)
    assert w.returncode == -signal.SIGTERM and w.stdout == "1 0\n", w.stderr


KILLED_LATER = """
    import os, sqlite3, sys, time
    os.chdir(sys.argv[1])
    f = open("app.log", "w")
    for i in range(100):
        f.write("line %d\\n" % i)
        f.flush()
    db = sqlite3.connect("app.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (x)")
    with db:
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(50)])
    print("written", flush=True)
    time.sleep(float(sys.argv[2]))
    os.kill(os.getpid(), 9)
"""


def test_writes_older_than_the_write_back_survive_kill_9(tmp):
    """Natively a kill -9 keeps every completed write (the page cache has
    them). In a volume, files open for writing are committed every few
    seconds, so a log still open and a SQLite database in WAL mode with
    synchronous=NORMAL (no fsync per transaction) survive a kill that comes
    later; they used to be lost entirely."""
    vol, key = make_volume(tmp)
    w = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(KILLED_LATER), vol, "7")
    assert w.returncode == -9 and w.stdout == "written\n", w.stderr
    assert cat(vol, key, "app.log") == "".join("line %d\n" % i for i in range(100))
    r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c",
             "import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1] + '/app.db')\n"
             "print(db.execute('SELECT count(*) FROM t').fetchone()[0], "
             "db.execute('PRAGMA integrity_check').fetchone()[0])", vol)
    assert (r.returncode, r.stdout) == (0, "50 ok\n"), r.stderr
    assert ward("fs", "verify", vol, "--key-file", key).returncode == 0
