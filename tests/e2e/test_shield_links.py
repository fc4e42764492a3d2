"""File shield, symbolic links inside an encrypted region: each snippet runs
natively (in a plain directory) and under `ward run` (working directory
inside an encrypted volume) and must print the same; the volume verifies
afterwards, holds the links as sealed entries (no symlink on disk, the
target not in plaintext), and a second run sees them."""
import os

from conftest import PY, base_env, needs_runtime, one_line, ward
from test_shield_posix import make_volume, native, same, shielded

pytestmark = needs_runtime


TREE = {"d/f.txt": b"hello\n", "d/sub/g.txt": b"deep\n", "top.txt": b"top\n"}


def test_create_read_stat_and_list_links(tmp):
    code = """
        import os, stat
        os.symlink('d/f.txt', 'lf')
        os.symlink('d', 'ld')
        os.symlink('nowhere', 'dangling')
        os.symlink('../top.txt', 'd/up')
        print(os.readlink('lf'), os.readlink('ld'), os.readlink('dangling'), os.readlink('d/up'))
        print(open('lf').read().strip(), open('ld/sub/g.txt').read().strip(), open('d/up').read().strip())
        st = os.lstat('lf')
        print(stat.S_ISLNK(st.st_mode), st.st_size, stat.S_IMODE(st.st_mode) == 0o777)
        print(stat.S_ISREG(os.stat('lf').st_mode), os.stat('lf').st_size, stat.S_ISDIR(os.stat('ld').st_mode))
        print(os.path.islink('lf'), os.path.islink('d'), os.path.exists('dangling'), os.path.lexists('dangling'))
        print(sorted((e.name, e.is_symlink(), e.is_dir(), e.is_file()) for e in os.scandir('.')))
        print(sorted(os.listdir('ld')), sorted(os.listdir('ld/')))
        try:
            open('dangling')
        except OSError as e:
            print('dangling', e.errno)
        try:
            os.readlink('top.txt')
        except OSError as e:
            print('not a link', e.errno)
        try:
            os.symlink('x', 'lf')
        except OSError as e:
            print('exists', e.errno)
        print(os.access('lf', os.R_OK), os.access('dangling', os.F_OK))
    """
    _, s, vol, key = same(tmp, code, TREE)
    # the links are volume entries: sealed files on disk, no symlink, and
    # their targets are not in plaintext there
    for name in ("lf", "ld", "dangling", "d/up"):
        assert not os.path.islink(vol / name)
        assert os.path.isfile(vol / name)
    assert b"nowhere" not in (vol / "dangling").read_bytes()
    r = ward("fs", "ls", vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    assert "lf -> d/f.txt" in r.stdout and "dangling -> nowhere" in r.stdout
    # a second run sees them
    r = shielded(vol, key, "import os; print(os.readlink('ld'), open('ld/f.txt').read().strip())")
    assert (r.returncode, r.stdout) == (0, "d hello\n"), r.stderr


def test_resolution_dotdot_loops_and_nofollow(tmp):
    code = """
        import os, errno
        os.symlink('d/sub', 'ls')
        print(open('ls/../f.txt').read().strip())       # '..' after a link goes up from its target
        os.symlink('loop2', 'loop1'); os.symlink('loop1', 'loop2')
        for p in ('loop1', 'loop1/x'):
            try:
                os.stat(p)
            except OSError as e:
                print(p, errno.errorcode[e.errno])
        print(os.lstat('loop1').st_size)
        os.symlink('d/f.txt', 'lf')
        try:
            os.open('lf', os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            print('nofollow', errno.errorcode[e.errno])
        os.symlink('created.txt', 'dang')
        try:
            os.open('dang', os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except OSError as e:
            print('excl', errno.errorcode[e.errno])
        fd = os.open('dang', os.O_CREAT | os.O_WRONLY, 0o644)  # creates the target
        os.write(fd, b'made through a link'); os.close(fd)
        print(open('created.txt').read(), os.path.islink('dang'))
        print(os.path.realpath('ls/g.txt') == os.path.join(os.getcwd(), 'd/sub/g.txt'))
        import pathlib
        print(pathlib.Path('lf').resolve().relative_to(os.getcwd()))
        try:
            os.stat('lf/x')
        except OSError as e:
            print('file as dir', errno.errorcode[e.errno])
    """
    same(tmp, code, TREE)


def test_change_links_rename_unlink_chdir_walk_copy(tmp):
    code = """
        import os, shutil, stat
        start = os.getcwd()
        os.symlink('d', 'ld')
        os.rename('ld', 'ld2')                     # the link moves, not its target
        print(os.readlink('ld2'), os.path.isdir('d'))
        os.symlink('top.txt', 'lt')
        os.replace('lt', 'ld2')                     # a link replaces a link
        print(os.readlink('ld2'))
        os.unlink('ld2')                            # removes the link only
        print(os.path.exists('ld2'), open('top.txt').read().strip())
        os.symlink('d/sub', 'ls')
        os.chmod('ls', 0o700)                       # follows: the directory changes
        print(oct(stat.S_IMODE(os.stat('d/sub').st_mode)), stat.S_ISLNK(os.lstat('ls').st_mode))
        os.utime('ls', (1000000000, 1000000000), follow_symlinks=False)
        print(os.lstat('ls').st_mtime, os.stat('ls').st_mtime != 1000000000)
        os.chdir('ls')                              # the working directory is the physical one
        print(os.path.relpath(os.getcwd(), start), open('g.txt').read().strip())
        os.chdir(start)
        print(sorted((r, sorted(ds), sorted(fs)) for r, ds, fs in os.walk('.')))
        print(sorted((r, sorted(ds), sorted(fs)) for r, ds, fs in os.walk('.', followlinks=True)))
        shutil.copytree('.', 'copy', symlinks=True)
        print(os.readlink('copy/ls'), sorted(os.listdir('copy')))
        shutil.rmtree('copy')
        shutil.copytree('.', 'copy', symlinks=False)   # through the link (copystat: owner; xattrs unsupported)
        print(os.path.islink('copy/ls'), sorted(os.listdir('copy/ls')))
        os.chown('ls', os.getuid(), os.getgid()); os.lchown('ls', os.getuid(), os.getgid())
        print(os.statvfs('ls/g.txt').f_bsize > 0, os.pathconf('ls', 'PC_NAME_MAX'))  # xattrs: test_shield.py
        shutil.rmtree('copy')
        shutil.copytree('d', 'copy2', symlinks=False)
        os.symlink('copy2', 'lc')
        try:
            shutil.rmtree('lc')
        except OSError as e:
            print('rmtree on a link', type(e).__name__)
        os.unlink('lc'); shutil.rmtree('copy2')
        try:
            os.rmdir('ls')
        except OSError as e:
            print('rmdir a link', e.errno)
        try:
            os.link('top.txt', 'hard')
        except OSError as e:
            print('hard link', e.errno)
        print(sorted(os.listdir('.')))
    """
    _, s, _, _ = same(tmp, code, TREE)
    assert "'hard'" in s.stdout  # the hard link was made, as natively


def test_link_out_of_the_region_reaches_the_plain_file(tmp):
    outside = tmp / "outside.txt"
    outside.write_text("plain outside\n")
    vol, key = make_volume(tmp, TREE)
    code = f"""
        import os
        os.symlink({str(outside)!r}, 'out')
        print(open('out').read().strip(), os.readlink('out') == {str(outside)!r})
        os.symlink('/usr/bin', 'bin')
        print(os.path.isfile('bin/env'))
    """
    r = shielded(vol, key, code)
    assert (r.returncode, r.stdout) == (0, "plain outside True\nTrue\n"), r.stderr
    # --deny-outside: a link does not open a way out
    r = shielded(vol, key, "print(open('out').read())", "--deny-outside")
    assert r.returncode != 0
    assert f"cannot open {outside}: it is outside every region" in r.stderr


def test_tampered_link_fails_verification_with_one_line(tmp):
    vol, key = make_volume(tmp, TREE)
    r = shielded(vol, key, "import os; os.symlink('d/f.txt', 'lf')")
    assert r.returncode == 0, r.stderr
    data = bytearray((vol / "lf").read_bytes())
    data[2] ^= 1
    (vol / "lf").write_bytes(bytes(data))
    r = shielded(vol, key, """
        import os
        for f in (lambda: os.readlink('lf'), lambda: open('lf').read()):
            try:
                print(f())
            except OSError as e:
                print('error', e.errno)
    """)
    assert (r.returncode, r.stdout) == (74, "error 5\nerror 5\n"), r.stderr
    assert one_line(r.stderr) == [
        f"ward: cannot read the link {vol}/lf: chunk 0: authentication failed (data modified, swapped or replayed "
        f"outside the enclave); the encrypted region {vol} was changed outside the enclave",
        "ward: exiting with status 74 instead of 0: 2 reads failed verification during the run (see above), so its "
        "result cannot be trusted"]
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode != 0 and "lf" in r.stderr


def test_virtual_environment_in_a_volume(tmp):
    """A virtual environment's layout (lib64 -> lib, bin/python3 -> the
    system interpreter) encrypted as it is: its packages import through the
    lib64 link; its bin/python3 cannot be started by the kernel, and ward
    run says what to run instead."""
    venv = tmp / "venv"
    pkg = venv / "lib" / "python3.11" / "site-packages" / "hello"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("print('hello from the encrypted venv')\n")
    (venv / "bin").mkdir()
    os.symlink(PY, venv / "bin" / "python3")
    os.symlink("lib", venv / "lib64")
    vol, key = tmp / "venv.vol", tmp / "venv.key"
    r = ward("fs", "encrypt", venv, vol, "--key-file", key)
    assert r.returncode == 0, r.stderr
    r = ward("run", "--volume", f"{vol}:{key}", "--", PY, "-c", "import hello, os; print(os.readlink('venv.vol/lib64'))",
             cwd=tmp, env=dict(base_env(), PYTHONPATH="venv.vol/lib64/python3.11/site-packages"))
    assert (r.returncode, r.stdout) == (0, "hello from the encrypted venv\nlib\n"), r.stderr
    r = ward("run", "--volume", f"{vol}:{key}", "--", "venv.vol/bin/python3", "-c", "pass", cwd=tmp)
    assert (r.returncode, one_line(r.stderr)) == (126, [
        f"ward: cannot run venv.vol/bin/python3: it lies in the encrypted volume {vol}, whose files only the enclave "
        f"can read, so the kernel cannot start it; run the interpreter from outside the volume and give it the code "
        f"inside (ward run --volume {vol}:KEYFILE -- /usr/bin/python3 {vol}/main.py; for a virtual environment, add "
        f"its site-packages to PYTHONPATH)"])


def test_hard_links(tmp):
    code = """
        import os, errno
        os.link('top.txt', 'hard')
        a, b = os.stat('top.txt'), os.stat('hard')
        print(a.st_nlink, b.st_nlink, a.st_ino == b.st_ino, os.path.samefile('top.txt', 'hard'))
        with open('hard', 'a') as f:
            f.write('appended through the second path\\n')
        print(open('top.txt').read(), end='')
        fd = os.open('top.txt', os.O_RDONLY)
        os.unlink('top.txt')                       # the other path keeps the file
        print(os.fstat(fd).st_nlink, os.stat('hard').st_nlink, open('hard').read().splitlines()[0])
        os.rename('hard', 'd/moved')
        os.link('d/moved', 'd/sub/again')
        os.unlink('d/moved')
        print(os.fstat(fd).st_nlink, sorted(os.listdir('d/sub')))
        os.unlink('d/sub/again')
        print(os.fstat(fd).st_nlink, os.read(fd, 4)); os.close(fd)
        os.symlink('d/f.txt', 'sl')
        os.link('sl', 'ln2')                          # link(2) does not follow: a link again
        print(os.path.islink('ln2'), os.readlink('ln2'), open('ln2').read(), end='')
        dfd = os.open('.', os.O_RDONLY)
        os.link('sl', 'viaf', src_dir_fd=dfd)         # linkat(AT_SYMLINK_FOLLOW): the file
        os.close(dfd)
        print(os.stat('d/f.txt').st_nlink, os.path.islink('viaf'))
        for args in (('d', 'dl'), ('missing', 'x'), ('d/f.txt', 'viaf')):
            try:
                os.link(*args)
            except OSError as e:
                print(args[0], errno.errorcode[e.errno])
    """
    n, s, vol, key = same(tmp, code, TREE)
    # the second path is a hard link on disk too, and a later run sees it
    assert os.stat(vol / "viaf").st_ino == os.stat(vol / "d" / "f.txt").st_ino
    r = shielded(vol, key, "import os; print(os.stat('viaf').st_nlink, open('viaf').read(), end='')")
    assert (r.returncode, r.stdout) == (0, "2 hello\n"), r.stderr
    # a path out of the region cannot be linked into it (as between file systems)
    outside = tmp / "outside.txt"
    outside.write_text("x")
    r = shielded(vol, key, f"""
        import os
        try:
            os.link({str(outside)!r}, 'in')
        except OSError as e:
            print(e.errno)
    """)
    assert (r.returncode, r.stdout) == (0, "18\n"), r.stderr


def test_c_realpath_and_shared_mappings_through_hard_links(tmp):
    """The C library's realpath() resolves links with calls the shield
    cannot see: the shield's own realpath must give the kernel's answer.
    Two paths of one file mapped shared see each other's stores at once
    (one image per file, not per path)."""
    code = """
        import ctypes, mmap, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.realpath.restype = ctypes.c_void_p
        libc.realpath.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        libc.free.argtypes = [ctypes.c_void_p]
        os.symlink('d/sub', 'ls')
        os.symlink('nowhere', 'dangling')
        for p in (b'ls/g.txt', b'ls/../f.txt', b'dangling', b'ls/missing'):
            r = libc.realpath(p, None)
            if r:
                print(os.path.relpath(ctypes.string_at(r).decode(), os.getcwd()))
                libc.free(r)
            else:
                print('error', ctypes.get_errno())
        os.link('top.txt', 'other')
        fa, fb = os.open('top.txt', os.O_RDWR), os.open('other', os.O_RDWR)
        ma, mb = mmap.mmap(fa, 4), mmap.mmap(fb, 4)
        ma[0:3] = b'TOP'
        print(mb[0:4])
        ma.close(); mb.close(); os.close(fa); os.close(fb)
        print(open('other', 'rb').read())
    """
    same(tmp, code, TREE)
