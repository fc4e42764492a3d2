"""ward-cas with its store in PostgreSQL (--postgres / WARD_CAS_POSTGRES): the
CAS flows of test_cas.py against a private PostgreSQL cluster started for the
test session, restarts, two CAS instances sharing one database (and racing on
the same predecessor), no plaintext secret in the database, and the errors."""
import glob
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

import test_attested_run
import test_cas
import test_cas_robust
from test_cas import M1, Cas, _stop_leftover_servers, make_client_cert, session_doc  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def _server_bindir():
    def version(p):
        m = re.search(r"/postgresql/(\d+)/", p)
        return int(m.group(1)) if m else 0
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return pathlib.Path(found[-1]).parent if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """A private cluster: a data directory and a Unix socket in one temporary
    directory, and a loopback TCP port; trust authentication, role postgres."""

    def __init__(self, bindir):
        self.bin = bindir
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="ward-pg-"))  # short: socket paths are bounded
        self.port = _free_port()
        self.n = 0
        self.as_user = []
        if os.geteuid() == 0:  # the server refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def server(self, tool, *args):
        return subprocess.run([*self.as_user, str(self.bin / tool), *map(str, args)],
                              capture_output=True, text=True, timeout=120, cwd=self.dir)

    def start(self):
        r = self.server("initdb", "-D", self.dir / "data", "-A", "trust", "-U", "postgres", "-E", "UTF8",
                        "--locale=C", "--no-sync")
        assert r.returncode == 0, r.stderr
        r = self.server("pg_ctl", "-D", self.dir / "data", "-l", self.dir / "log", "-w", "-t", "60", "-o",
                        f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1", "start")
        assert r.returncode == 0, r.stderr + (self.dir / "log").read_text()

    def stop(self):
        self.server("pg_ctl", "-D", self.dir / "data", "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, tool, db, *args, input=None):
        return subprocess.run([str(self.bin / tool), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
                               *map(str, args), db], capture_output=True, text=True, timeout=60, input=input)

    def new_db(self):
        self.n += 1
        name = f"cas{self.n}"
        r = self.client("createdb", name)
        assert r.returncode == 0, r.stderr
        return name

    def conninfo(self, db):
        """The key=value form over the Unix socket."""
        return f"host={self.dir} port={self.port} user=postgres dbname={db}"

    def uri(self, db):
        """The URI form over loopback TCP."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def sql(self, db, query):
        r = self.client("psql", db, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", query)
        assert r.returncode == 0, r.stderr
        return r.stdout


@pytest.fixture(scope="session")
def pg():
    bindir = _server_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                    "(install the Debian package postgresql: scripts/install-deps.sh)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root needs runuser to start PostgreSQL as the postgres user")
    c = PgCluster(bindir)
    try:
        c.start()
        yield c
    finally:
        c.stop()


class PgCas(Cas):
    """A ward-cas whose store is a PostgreSQL database (by option or by
    WARD_CAS_POSTGRES)."""

    def __init__(self, tmp, conninfo, via_env=False):
        super().__init__(tmp, extra=() if via_env else ("--postgres", conninfo))
        self.conninfo, self.via_env = conninfo, via_env

    def env(self):
        env = super().env()
        if self.via_env:
            env["WARD_CAS_POSTGRES"] = self.conninfo
        return env


@pytest.fixture
def db(pg):
    return pg.new_db()


@pytest.fixture
def cas(tmp_path, pg, db):
    c = PgCas(tmp_path, pg.conninfo(db))
    c.start()
    yield c
    if c.proc:
        rc, err = c.stop()
        assert rc == 0, err  # a clean exit (and no leak under AddressSanitizer)


@pytest.fixture
def alice(tmp_path):
    return make_client_cert(tmp_path, "alice")


def one_ward_line(err):
    return [l for l in err.splitlines() if l.startswith("ward:")]


# The flows of the SQLite tests, unchanged, against a PostgreSQL store.
@pytest.mark.parametrize("flow", [test_cas.test_session_lifecycle, test_cas.test_attest_allowed_returns_config,
                                  test_cas.test_attest_denials, test_cas.test_volume_tags_rollback_and_crash,
                                  test_cas.test_metrics_count_decisions, test_cas_robust.test_malformed_documents,
                                  test_cas_robust.test_attest_port_protocol_violations],
                         ids=lambda f: f.__name__[5:])
def test_flows(flow, cas, alice, tmp_path):
    args = {"cas": cas, "alice": alice, "tmp_path": tmp_path}
    names = flow.__code__.co_varnames[:flow.__code__.co_argcount]
    if "seeded" in names:  # test_cas_robust's fixture: one session, one attestation
        test_cas.create(cas, alice[0], session_doc())
        assert cas.attest("myapp/web", M1).returncode == 0
        args["seeded"] = (cas, alice[0])
    flow(*[args[n] for n in names])
    assert not (cas.data / "cas.db").exists()  # nothing of the store in the data directory
    assert sorted(p.name for p in cas.data.iterdir()) == ["master.key"]


def test_attested_run_gets_its_config(cas, tmp_path):
    cas.client, _ = make_client_cert(tmp_path, "owner")
    test_attested_run.test_policy_driven_run(cas, tmp_path)


def test_restart_keeps_everything_and_no_plaintext_in_the_database(tmp_path, pg, db, alice):
    cert, _ = alice
    c = PgCas(tmp_path, pg.uri(db), via_env=True)
    out = c.start()
    assert "store in PostgreSQL" in out
    h = test_cas.create(c, cert, session_doc())
    key = str(tmp_path / "enclave.pem")
    pw = json.loads(c.attest("myapp/web", M1, "data=", key=key).stdout)["secrets"]["pw"]["value"]
    assert c.probe("tag", "--key", key, "commit", "data", "aa01").returncode == 0
    fpr = c.fpr
    rc, err = c.stop()
    assert rc == 0 and "stopped" in err
    c.start()
    try:
        assert c.fpr == fpr  # the TLS identity is in the database
        assert c.req("GET", "/v1/sessions/myapp", cert=cert).json()["hash"] == h
        cfg = json.loads(c.attest("myapp/web", M1, "data=aa01").stdout)
        assert cfg["secrets"]["pw"]["value"] == pw
        assert c.attest("myapp/web", M1, "data=").returncode == 1  # the tag survived too
        events = [e["event"] for e in c.req("GET", "/v1/sessions/myapp/audit", cert=cert).json()["entries"]]
        assert events[:2] == ["create", "attest"]
    finally:
        c.stop()
    assert pg.sql(db, "SELECT version FROM schema_version") == "1\n"
    # Everything PostgreSQL holds, printable bytes as they are: names and
    # tags in clear, no secret value (generated or explicit), no TLS key.
    dump = "".join(pg.sql(db, q) for q in (
        "SELECT name, hash, creator, encode(doc, 'escape'), encode(state, 'escape') FROM sessions",
        "SELECT key, encode(value, 'escape') FROM meta",
        "SELECT session, name, tag, pending FROM volumes",
        "SELECT * FROM enclaves", "SELECT * FROM audit"))
    assert "myapp" in dump and "aa01" in dump and h in dump  # the query sees the data
    for secret in (pw, "00112233", "PRIVATE KEY"):
        assert secret not in dump
    full = pg.client("pg_dump", db)
    assert full.returncode == 0, full.stderr
    for secret in (pw, "00112233"):
        assert secret not in full.stdout and secret.encode().hex() not in full.stdout


def test_two_instances_share_the_database(tmp_path, pg, db, alice):
    cert, _ = alice
    a = PgCas(tmp_path / "a", pg.conninfo(db))
    b = PgCas(tmp_path / "b", pg.uri(db), via_env=True)
    a.simdir = b.simdir = tmp_path / "sim"
    a.data.parent.mkdir()
    a.start()
    b.data.mkdir(parents=True)
    shutil.copy(a.data / "master.key", b.data / "master.key")  # the same master key in each
    os.chmod(b.data / "master.key", 0o600)
    b.start()
    try:
        assert a.fpr == b.fpr  # one TLS identity, kept in the database
        h = test_cas.create(a, cert, session_doc())
        assert b.req("GET", "/v1/sessions/myapp", cert=cert).json()["hash"] == h
        pw = json.loads(b.attest("myapp/web", M1).stdout)["secrets"]["pw"]["value"]
        assert json.loads(a.attest("myapp/web", M1).stdout)["secrets"]["pw"]["value"] == pw

        # Both update from the same predecessor at once: one wins, one gets 409.
        for round in range(4):
            gate = threading.Barrier(2)
            got = {}

            def put(c, label):
                doc = session_doc(predecessor=h)
                doc["services"][0]["command"] += f" --from {label}{round}"  # two different updates
                gate.wait()
                got[label] = c.req("PUT", "/v1/sessions/myapp", cert=cert, json=doc)

            ts = [threading.Thread(target=put, args=(c, l)) for c, l in ((a, "a"), (b, "b"))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            codes = sorted(r.status_code for r in got.values())
            assert codes == [200, 409], {k: r.text for k, r in got.items()}
            winner = next(r for r in got.values() if r.status_code == 200).json()["hash"]
            loser = next(r for r in got.values() if r.status_code == 409).json()
            assert loser["current_hash"] == winner
            for c in (a, b):
                assert c.req("GET", "/v1/sessions/myapp", cert=cert).json()["hash"] == winner
            h = winner

        # Both create the same new session at once: one 201, one 409.
        gate = threading.Barrier(2)
        got = {}

        def post(c, label):
            gate.wait()
            got[label] = c.req("POST", "/v1/sessions", cert=cert, json=session_doc(name="other"))

        ts = [threading.Thread(target=post, args=(c, l)) for c, l in ((a, "a"), (b, "b"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert sorted(r.status_code for r in got.values()) == [201, 409]

        # One audit log: both instances' entries, seen from either.
        entries = b.req("GET", "/v1/sessions/myapp/audit", cert=cert).json()["entries"]
        assert [e["event"] for e in entries] == ["create", "attest", "attest"] + ["update"] * 4
        assert a.req("GET", "/v1/sessions/myapp/audit", cert=cert).json()["entries"] == entries
        assert "ward_cas_sessions 2" in a.req("GET", "/metrics").text
        # A delete on one is seen by the other.
        assert b.req("DELETE", "/v1/sessions/other", cert=cert).json()["deleted"] is True
        assert a.req("GET", "/v1/sessions/other", cert=cert).status_code == 404
    finally:
        a.stop()
        b.stop()


def test_unreachable_or_wrong_conninfo(tmp_path, pg):
    closed = _free_port()
    for conninfo, needle in [
            (f"postgresql://postgres@127.0.0.1:{closed}/x", "cannot connect to the PostgreSQL store"),
            ("no-equals-sign here", "cannot connect to the PostgreSQL store"),
            (pg.conninfo("no_such_db"), 'database "no_such_db" does not exist')]:
        c = PgCas(tmp_path, conninfo)
        err = c.start(expect_ok=False)
        lines = one_ward_line(err)
        assert c.proc.returncode == 1, err
        assert len(lines) == 1 and needle in lines[0], err
        assert "--postgres or WARD_CAS_POSTGRES" in lines[0]


def test_database_of_another_master_key_is_refused(tmp_path, pg, db):
    first = PgCas(tmp_path / "first", pg.conninfo(db))
    (tmp_path / "first").mkdir()
    (tmp_path / "other").mkdir()
    first.start()
    first.stop()
    other = PgCas(tmp_path / "other", pg.conninfo(db))  # a new data directory: a new master key
    err = other.start(expect_ok=False)
    lines = one_ward_line(err)
    assert other.proc.returncode == 1
    assert len(lines) == 1 and "does not open the PostgreSQL store" in lines[0], err
    assert f"'{other.data}/master.key'" in lines[0]
    # the right key still opens it
    first.start()
    first.stop()


def test_newer_schema_is_refused(tmp_path, pg, db):
    c = PgCas(tmp_path, pg.conninfo(db))
    c.start()
    c.stop()
    pg.sql(db, "UPDATE schema_version SET version = 99")
    err = c.start(expect_ok=False)
    lines = one_ward_line(err)
    assert c.proc.returncode == 1 and len(lines) == 1 and "schema version 99" in lines[0], err


def test_database_restart_is_survived(cas, pg, db, alice):
    """A restarted server (or a fail-over) is not seen by clients: a read or
    a transaction that finds its connection lost reconnects and runs again."""
    cert, _ = alice
    h = test_cas.create(cas, cert, session_doc())
    assert cas.attest("myapp/web", M1).returncode == 0
    r = pg.server("pg_ctl", "-D", pg.dir / "data", "-l", pg.dir / "log", "-m", "fast", "-w", "restart")
    assert r.returncode == 0, r.stderr
    assert cas.req("GET", "/v1/sessions/myapp", cert=cert).json()["hash"] == h
    # the CAS's connections killed under it (a fail-over, an administrator)
    killed = pg.sql(db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        f" WHERE datname = '{db}' AND pid <> pg_backend_pid()")
    assert int(killed) >= 1
    first = cas.req("GET", "/v1/sessions/myapp", cert=cert)
    assert first.status_code == 200 and first.json()["hash"] == h
    # a single write (a denial's audit record) on connections killed while
    # pooled: it finds the connection dead at its BEGIN and is made anyway
    def denials():
        entries = cas.req("GET", "/v1/sessions/myapp/audit", cert=cert).json()["entries"]
        return [e for e in entries if e["event"] == "attest" and not e["allowed"]]
    before = len(denials())
    for _ in range(2):
        pg.sql(db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                   f" WHERE datname = '{db}' AND pid <> pg_backend_pid()")
        assert cas.attest("myapp/web", test_cas.M2).returncode == 1
    assert len(denials()) == before + 2
    # every pooled connection finds its connection lost and reconnects
    for _ in range(3):
        assert cas.req("GET", "/v1/sessions/myapp", cert=cert).json()["hash"] == h
        assert cas.attest("myapp/web", M1).returncode == 0
    h2 = cas.req("PUT", "/v1/sessions/myapp", cert=cert, json=session_doc(predecessor=h)).json()["hash"]
    assert cas.req("GET", "/v1/sessions/myapp", cert=cert).json()["hash"] == h2
