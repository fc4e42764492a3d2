"""Crash test through the shield: an unmodified SQLite program (Python's
sqlite3) commits numbered transactions to a database in an encrypted
volume under `ward run` and is killed with SIGKILL at random moments, in
the rollback-journal and the WAL mode (whose -shm file is a shared
writable mapping). After each kill:
  - `ward fs verify` finds no integrity error;
  - the database opens and `PRAGMA integrity_check` says ok;
  - every transaction the program saw committed is there, and none that it
    did not start.
A longer soak: WARD_CRASH_SQLITE_ROUNDS=200 WARD_CRASH_SEED=7."""
import os
import random
import signal
import subprocess
import time

from conftest import PY, WARD, base_env, ward
from test_shield import make_volume

ROUNDS = int(os.environ.get("WARD_CRASH_SQLITE_ROUNDS", "8"))
SEED = int(os.environ.get("WARD_CRASH_SEED", "1234"))

WRITER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1] + '/app.db', isolation_level=None)
db.execute('PRAGMA journal_mode=' + sys.argv[2])
db.execute('CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, pad BLOB)')
i = db.execute('SELECT coalesce(max(seq), 0) FROM t').fetchone()[0]
while True:
    i += 1
    print('B', i, flush=True)
    db.execute('BEGIN')
    db.execute('INSERT INTO t VALUES (?, randomblob(?))', (i, 100 + (i * 7919) % 20000))
    if i % 5 == 0:
        db.execute('DELETE FROM t WHERE seq = ?', (i - 3,))
        db.execute('INSERT INTO t VALUES (?, zeroblob(10))', (i - 3,))
    db.execute('COMMIT')
    print('C', i, flush=True)
"""

CHECK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1] + '/app.db')
ok = db.execute('PRAGMA integrity_check').fetchone()[0]
if db.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()[0] == 0:
    print(ok, 0, 0)  # killed before the table was created
else:
    print(ok, *db.execute('SELECT coalesce(max(seq), 0), count(*) FROM t').fetchone())
"""


def test_sqlite_killed_at_random_points(tmp):
    vol, key = make_volume(tmp, {"readme.txt": "a database lives here"})
    rng = random.Random(SEED)
    committed = 0
    for rnd in range(ROUNDS):
        mode = "wal" if rnd % 2 else "delete"
        p = subprocess.Popen([str(WARD), "run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", WRITER,
                              str(vol), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env())
        time.sleep(rng.uniform(0.3, 1.2))
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate()
        assert p.returncode == -signal.SIGKILL, err
        started = committed
        for ln in out.decode().splitlines():
            f = ln.split()
            if len(f) == 2 and f[0] == "C":
                committed = int(f[1])
            elif len(f) == 2 and f[0] == "B":
                started = int(f[1])
        r = ward("fs", "verify", vol, "--key-file", key)
        assert r.returncode == 0, f"round {rnd} ({mode}): {r.stderr}"
        r = ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", CHECK, vol)
        assert r.returncode == 0, f"round {rnd} ({mode}): {r.stderr}"
        ok, top, count = r.stdout.split()
        top, count = int(top), int(count)
        assert ok == "ok", f"round {rnd} ({mode}): integrity_check says {r.stdout}"
        assert committed <= top <= started, f"round {rnd} ({mode}): max seq {top}, committed {committed}, started {started}"
        assert count == top, f"round {rnd} ({mode}): {count} rows for max seq {top}"
        committed = top
    assert committed > 0, "no transaction committed in any round"
