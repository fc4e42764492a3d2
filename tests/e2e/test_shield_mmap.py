"""Shared mappings of protected files (src/runtime/shield/mmap.c): real
`ward run /usr/bin/python3 ...` processes on encrypted and ephemeral
volumes. Stores through a shared writable mapping reach the volume at
msync/flush, fsync, the last munmap and exit; mappings, read() and write()
of the same file stay coherent; a kill -9 keeps what was flushed."""
import os
import signal
import subprocess
import textwrap

from conftest import PY, WARD, base_env, needs_runtime, one_line, ward
from test_shield import make_volume

pytestmark = needs_runtime

SECRET = b"the launch code is 0000"


def run_in(vol, key, code, *args):
    return ward("run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c", textwrap.dedent(code), vol, *args)


def read_back(vol, key, name):
    r = run_in(vol, key, "import sys; sys.stdout.write(open(sys.argv[1] + '/' + sys.argv[2], 'rb').read().hex())",
               name)
    assert r.returncode == 0, r.stderr
    return bytes.fromhex(r.stdout)


def verify(vol, key):
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shared_writable_mapping_round_trip(tmp):
    vol, key = make_volume(tmp, {"m.bin": b"." * 10000})
    code = """
        import mmap, sys
        v = sys.argv[1]
        f = open(v + '/m.bin', 'r+b')
        m = mmap.mmap(f.fileno(), 0)
        m[100:100 + len(%(s)r)] = %(s)r
        m[9990:10000] = b'0123456789'
        m.flush()
        with open(v + '/m.bin', 'rb') as g:   # another descriptor, through read()
            d = g.read()
        print(d[100:100 + len(%(s)r)] == %(s)r, d[9990:], len(d))
        m.close(); f.close()
    """ % {"s": SECRET}
    r = run_in(vol, key, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True b'0123456789' 10000\n"
    assert one_line(r.stderr) == [], r.stderr
    data = read_back(vol, key, "m.bin")
    assert data[100:100 + len(SECRET)] == SECRET and data[9990:] == b"0123456789" and len(data) == 10000
    verify(vol, key)
    for p in vol.rglob("*"):
        if p.is_file():
            assert SECRET not in p.read_bytes(), p


def test_mappings_and_fd_io_are_coherent(tmp):
    vol, key = make_volume(tmp, {"m.bin": b"a" * 8192})
    code = """
        import mmap, os, sys
        v = sys.argv[1]
        fd = os.open(v + '/m.bin', os.O_RDWR)
        m1 = mmap.mmap(fd, 0)
        m2 = mmap.mmap(fd, 4096, offset=4096)
        m1[4096:4101] = b'HELLO'          # seen by the other mapping at once
        print(m2[0:5])
        m2[10:13] = b'xyz'
        print(m1[4106:4109])
        os.pwrite(fd, b'PW', 20)           # write() shows in the mappings
        print(m1[18:24])
        fd2 = os.open(v + '/m.bin', os.O_RDWR)   # a descriptor opened later
        print(os.pread(fd2, 5, 4096))             # reads the stores (not yet flushed)
        os.pwrite(fd2, b'Q', 0)
        print(m1[0:2], os.fstat(fd2).st_size)
        os.ftruncate(fd2, 12288)          # size follows in fstat and stat
        print(os.fstat(fd).st_size, os.stat(v + '/m.bin').st_size)
        m1.close(); m2.close()            # the last munmap writes back
        print(os.pread(fd, 5, 4096), os.pread(fd, 3, 4106))
        os.close(fd); os.close(fd2)
    """
    r = run_in(vol, key, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["b'HELLO'", "b'xyz'", "b'aaPWaa'", "b'HELLO'", "b'Qa' 8192",
                                     "12288 12288", "b'HELLO' b'xyz'"]
    data = read_back(vol, key, "m.bin")
    assert len(data) == 12288 and data[:2] == b"Qa" and data[20:22] == b"PW"
    assert data[4096:4101] == b"HELLO" and data[4106:4109] == b"xyz" and data[8192:] == bytes(4096)
    verify(vol, key)


def test_stores_written_back_at_exit_and_resize(tmp):
    # No flush, no close: Python unmaps m at exit (the last munmap writes
    # back); c is mapped with the C library's mmap and never unmapped (the
    # runtime writes it back at exit). resize() is ftruncate + mremap of the
    # whole mapping.
    vol, key = make_volume(tmp, {"m.bin": b"b" * 5000, "c.bin": b"c" * 4096})
    code = """
        import ctypes, mmap, os, sys
        f = open(sys.argv[1] + '/m.bin', 'r+b')
        m = mmap.mmap(f.fileno(), 0)
        m.resize(20000)
        m[19990:20000] = b'END-OF-MAP'
        m[0:5] = b'START'
        print(len(m), m.size())
        fd = os.open(sys.argv[1] + '/c.bin', os.O_RDWR)
        libc = ctypes.CDLL(None)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        a = libc.mmap(None, 4096, 3, 1, fd, 0)   # PROT_READ|PROT_WRITE, MAP_SHARED
        ctypes.memmove(a + 100, b'AT-EXIT', 7)
    """
    r = run_in(vol, key, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "20000 20000\n"
    data = read_back(vol, key, "m.bin")
    assert len(data) == 20000 and data[:5] == b"START" and data[19990:] == b"END-OF-MAP"
    assert data[5:5000] == b"b" * 4995 and data[5000:19990] == bytes(14990)
    assert read_back(vol, key, "c.bin") == b"c" * 100 + b"AT-EXIT" + b"c" * (4096 - 107)
    verify(vol, key)


def test_numpy_memmap_round_trip(tmp):
    vol, key = make_volume(tmp, {"seed": "x"})
    code = """
        import numpy as np, sys
        v = sys.argv[1]
        a = np.memmap(v + '/arr.f64', dtype='float64', mode='w+', shape=(1000,))
        a[:] = np.arange(1000)
        a.flush(); del a
        b = np.memmap(v + '/arr.f64', dtype='float64', mode='r+', shape=(1000,))
        b[::2] *= -1
        b.flush()
        print(float(b.sum()), float(np.fromfile(v + '/arr.f64', dtype='float64')[999]))
        del b
    """
    r = run_in(vol, key, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "500.0 999.0\n"
    r = run_in(vol, key, "import numpy as np, sys; a = np.fromfile(sys.argv[1] + '/arr.f64'); "
               "print(float(a[0]), float(a[1]), float(a[998]), float(a.sum()))")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "-0.0 1.0 -998.0 500.0\n"
    verify(vol, key)


def _run_and_kill(vol, key, code):
    p = subprocess.Popen([str(WARD), "run", "--volume", "%s:%s" % (vol, key), "--", PY, "-c",
                          textwrap.dedent(code), str(vol)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base_env(), text=True)
    line = p.stdout.readline()
    assert line == "ready\n", line + p.stderr.read()
    p.send_signal(signal.SIGKILL)
    p.communicate()
    assert p.returncode == -signal.SIGKILL


def test_kill_after_flush_keeps_flushed_bytes(tmp):
    vol, key = make_volume(tmp, {"m.bin": b"o" * 10000})
    code = """
        import mmap, sys, time
        f = open(sys.argv[1] + '/m.bin', 'r+b')
        m = mmap.mmap(f.fileno(), 0)
        m[0:7] = b'FLUSHED'
        m.flush()
        m[5000:5007] = b'PENDING'         # never flushed
        print('ready', flush=True)
        time.sleep(60)
    """
    _run_and_kill(vol, key, code)
    verify(vol, key)
    data = read_back(vol, key, "m.bin")
    assert data[:7] == b"FLUSHED" and len(data) == 10000
    assert data[5000:5007] == b"ooooooo"


def test_kill_before_flush_keeps_old_content(tmp):
    vol, key = make_volume(tmp, {"m.bin": b"o" * 10000})
    code = """
        import mmap, sys, time
        f = open(sys.argv[1] + '/m.bin', 'r+b')
        m = mmap.mmap(f.fileno(), 0)
        m[0:7] = b'PENDING'
        print('ready', flush=True)
        time.sleep(60)
    """
    _run_and_kill(vol, key, code)
    verify(vol, key)
    r = run_in(vol, key, "import sys; print(open(sys.argv[1] + '/m.bin', 'rb').read() == b'o' * 10000)")
    assert r.returncode == 0, r.stderr  # no integrity error (that would exit 74)
    assert r.stdout == "True\n"


def test_refusals_as_native(tmp):
    vol, key = make_volume(tmp, {"m.bin": b"0123456789" * 1000})
    code = """
        import ctypes, errno, mmap, os, sys
        v = sys.argv[1]
        f = open(v + '/m.bin', 'rb')
        try:
            mmap.mmap(f.fileno(), 0)               # shared + write on a read-only descriptor
        except PermissionError as e:
            print('ro', errno.errorcode[e.errno])
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        c = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        c[0:1] = b'X'
        print(m[10:13], c[0:3])
        # remapping part of a shared mapping of a protected file is refused
        g = open(v + '/m.bin', 'r+b')
        w = mmap.mmap(g.fileno(), 8192)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mremap.restype = ctypes.c_void_p
        libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]
        base = ctypes.addressof(ctypes.c_char.from_buffer(w))
        r = libc.mremap(base + 4096, 4096, 8192, 1)   # MREMAP_MAYMOVE
        print('mremap', r == ctypes.c_void_p(-1).value, errno.errorcode[ctypes.get_errno()])
        w[0:1] = b'W'
        w.close()
        print(open(v + '/m.bin', 'rb').read(3))
    """
    r = run_in(vol, key, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["ro EACCES", "b'012' b'X12'", "mremap True ENODEV", "b'W12'"]
    lines = one_line(r.stderr)
    assert len(lines) == 1 and "m.bin" in lines[0] and "remapping part of a mapping" in lines[0], r.stderr


MPROTECT_CODE = """
    import ctypes, errno, os, sys
    d = sys.argv[1]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    PROT_READ, PROT_WRITE, MAP_SHARED = 1, 2, 1
    def mapped(flags):
        fd = os.open(d + '/m.bin', flags)
        p = libc.mmap(None, 8192, PROT_READ, MAP_SHARED, fd, 0)
        assert p != ctypes.c_void_p(-1).value
        return fd, p
    fd, p = mapped(os.O_RDONLY)         # read-only descriptor: the kernel refuses
    rc = libc.mprotect(p, 8192, PROT_READ | PROT_WRITE)
    print('ro', rc, errno.errorcode[ctypes.get_errno()])
    libc.mremap.restype = ctypes.c_void_p
    libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]
    q = libc.mremap(p, 8192, 1 << 20, 1)   # MREMAP_MAYMOVE: still not writable where it went
    rc = libc.mprotect(q, 8192, PROT_READ | PROT_WRITE)
    print('moved', q != p, rc, errno.errorcode[ctypes.get_errno()])
    libc.munmap(q, 1 << 20); os.close(fd)
    fd, p = mapped(os.O_RDWR)           # read-write descriptor: allowed, stores kept
    print('rw', libc.mprotect(p, 8192, PROT_READ | PROT_WRITE))
    ctypes.memmove(p + 5000, b'STORED', 6)
    libc.munmap(p, 8192); os.close(fd)
    print(open(d + '/m.bin', 'rb').read()[4998:5008])
"""


def test_mprotect_to_writable_as_native(tmp):
    """A read-only shared mapping given PROT_WRITE by mprotect: refused on a
    read-only descriptor, and its stores written back on a read-write one,
    exactly as on a plain file."""
    plain = tmp / "plain"
    plain.mkdir()
    (plain / "m.bin").write_bytes(b"." * 8192)
    native = subprocess.run([PY, "-c", textwrap.dedent(MPROTECT_CODE), plain], capture_output=True, text=True)
    assert native.returncode == 0, native.stderr
    assert native.stdout.splitlines() == ["ro -1 EACCES", "moved True -1 EACCES", "rw 0", "b'..STORED..'"]
    vol, key = make_volume(tmp, {"m.bin": b"." * 8192})
    r = run_in(vol, key, MPROTECT_CODE)
    assert r.returncode == 0, r.stderr
    assert r.stdout == native.stdout
    assert read_back(vol, key, "m.bin")[4998:5008] == b"..STORED.."   # in the volume, after the run
    verify(vol, key)


def test_ephemeral_region_shared_mapping(tmp):
    eph = tmp / "scratch"
    code = """
        import mmap, os, sys
        p = sys.argv[1] + '/t.bin'
        with open(p, 'wb') as f:
            f.write(bytes(4096))
        with open(p, 'r+b') as f, mmap.mmap(f.fileno(), 0) as m:
            m[0:6] = b'secret'
            m.flush()
            print(open(p, 'rb').read(6))
    """
    r = ward("run", "--ephemeral", eph, "--", PY, "-c", textwrap.dedent(code), eph)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "b'secret'\n"
    assert not eph.exists()


def test_sqlite_mmap_reader_sees_other_connections_writes(tmp):
    # With mmap_size, SQLite reads pages through a shared read-only mapping
    # of the database (opened read-write) and writes with pwrite: the
    # mapping must show another connection's committed writes. (A snapshot
    # copy showed connection b the old rows.)
    vol, key = make_volume(tmp, {"seed": "x"})
    code = """
        import sqlite3, sys
        p = sys.argv[1] + '/b.db'
        a = sqlite3.connect(p, isolation_level=None)
        a.execute('create table t (k integer primary key, v text)')
        a.executemany('insert into t (v) values (?)', [('old %d' % i,) for i in range(2000)])
        b = sqlite3.connect(p, isolation_level=None)
        b.execute('pragma mmap_size=268435456')
        print(b.execute('select count(*), sum(v like "old%") from t').fetchone())
        a.execute('update t set v = "new"')
        print(b.execute('select count(*), sum(v = "new") from t').fetchone(), b.execute('pragma integrity_check').fetchone())
    """
    r = run_in(vol, key, code)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "(2000, 2000)\n(2000, 2000) ('ok',)\n"
    verify(vol, key)
