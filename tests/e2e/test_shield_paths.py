"""Paths the file shield must treat as the kernel does: the same Python
snippet runs natively in a plain directory and under `ward run` with its
working directory inside an encrypted volume; the transcripts must match,
the volume must still verify, and no plaintext may reach the disk."""
import subprocess
import textwrap

from conftest import PY, WARD, base_env, needs_runtime, ward

pytestmark = needs_runtime

PRELUDE = """
import errno, os, shutil
def t(name, f):
    try:
        print(name, repr(f()))
    except OSError as e:
        print(name, errno.errorcode[e.errno])
"""


def both(tmp, body):
    """Runs body natively and in a volume; returns (native, shield, vol, key)."""
    code = PRELUDE + textwrap.dedent(body)
    nat = tmp / "native"
    nat.mkdir()
    n = subprocess.run([PY, "-c", code], cwd=nat, capture_output=True, text=True, timeout=120)
    assert n.returncode == 0, n.stderr
    empty, vol, key = tmp / "empty", tmp / "v.vol", tmp / "v.key"
    empty.mkdir()
    assert ward("fs", "encrypt", empty, vol, "--key-file", key).returncode == 0
    s = subprocess.run([str(WARD), "run", "--volume", f"{vol}:{key}", "--", PY, "-c", code], cwd=vol,
                       capture_output=True, text=True, env=base_env(), timeout=120)
    assert s.returncode == 0, s.stderr
    r = ward("fs", "verify", vol, "--key-file", key)
    assert r.returncode == 0, r.stdout + r.stderr
    return n.stdout, s.stdout, vol, key


def test_empty_path_is_no_such_file(tmp):
    # '' once meant the working directory: shutil.rmtree('') removed it
    native, shield, vol, key = both(tmp, """
        os.makedirs('sub/x'); open('sub/f', 'w').close(); os.chdir('sub')
        t('rmtree', lambda: shutil.rmtree(''))
        t('rmdir', lambda: os.rmdir(''))
        t('chmod', lambda: os.chmod('', 0o700))
        t('stat', lambda: os.stat('').st_size)
        t('exists', lambda: os.path.exists(''))
        t('access', lambda: os.access('', os.F_OK))
        t('open', lambda: open('', 'rb'))
        t('listdir', lambda: sorted(os.listdir('.')))
    """)
    assert shield == native
    assert "rmtree ENOENT" in shield and "listdir ['f', 'x']" in shield


def test_names_longer_than_255_bytes_change_nothing(tmp):
    # a rename to a 256-byte name was recorded before the disk refused it
    # (the source vanished); a failed create left a ghost entry
    native, shield, vol, key = both(tmp, """
        open('src', 'wb').write(b'DATA')
        os.mkdir('d'); open('d/in', 'w').write('x')
        t('rename', lambda: os.rename('src', 'c' * 256))
        t('rename_dir', lambda: os.rename('d', 'e' * 256))
        t('src', lambda: open('src', 'rb').read())
        t('d', lambda: open('d/in').read())
        t('create', lambda: open('a' * 256, 'wb'))
        t('mkdir', lambda: os.mkdir('b' * 256))
        t('stat', lambda: os.stat('a' * 256))
        t('unlink', lambda: os.unlink('a' * 256))
        t('listdir', lambda: sorted(os.listdir('.')))
    """)
    assert shield == native
    assert "rename ENAMETOOLONG" in shield and "src b'DATA'" in shield
    r = ward("fs", "ls", vol, "--key-file", key)
    assert sorted(r.stdout.split()) == ["d/", "d/in", "src"], r.stdout


def test_path_too_long_to_place_never_reaches_the_disk(tmp):
    # a relative path whose absolute form passes PATH_MAX used to go to the
    # disk unseen: plaintext inside the volume
    native, shield, vol, key = both(tmp, """
        made = 0
        for i in range(17):
            try:
                os.mkdir('d' * 240)
            except OSError as e:
                print('mkdir stops at', made, errno.errorcode[e.errno])
                break
            os.chdir('d' * 240)
            made += 1
        t('deep', lambda: open('f' * 250, 'wb').write(b'SECRET-DEEP'))
        if os.path.exists('f' * 250):
            print('copy', open('f' * 250, 'rb').read() == b'SECRET-DEEP')
            os.unlink('f' * 250)
        for i in range(made):  # natively deeper than PATH_MAX: tools cannot remove it
            os.chdir('..')
            os.rmdir('d' * 240)
    """)
    # natively the kernel goes deeper than PATH_MAX; the volume stops there
    # with ENAMETOOLONG (docs/file-shield.md)
    assert "mkdir stops at 16 ENAMETOOLONG" in shield or "deep ENAMETOOLONG" in shield, shield
    for p in vol.rglob("*"):
        if p.is_file():
            assert b"SECRET-DEEP" not in p.read_bytes()


def test_dot_components_are_resolved_as_the_kernel_does(tmp):
    # lexical normalisation once made rmdir('d/.') remove d, rename('file/')
    # rename a file, and open('missing/../h', 'w') create h
    native, shield, vol, key = both(tmp, """
        os.mkdir('d'); os.mkdir('dd'); os.mkdir('dd/x')
        open('file', 'w').write('F'); open('g', 'w').write('G')
        t('rmdir d/.', lambda: os.rmdir('d/.'))
        t('rmdir .', lambda: os.rmdir('.'))
        t('rmdir dd/..', lambda: os.rmdir('dd/..'))
        t('mkdir d/.', lambda: os.mkdir('d/.'))
        t('rename d/.', lambda: os.rename('d/.', 'x'))
        t('rename file/', lambda: os.rename('file/', 'x'))
        t('rename to x/', lambda: os.rename('file', 'x/'))
        t('stat file/', lambda: os.stat('file/').st_size)
        t('unlink file/', lambda: os.unlink('file/'))
        t('unlink d/', lambda: os.unlink('d/'))
        t('exists missing/..', lambda: os.path.exists('missing/..'))
        t('open missing/../h', lambda: open('missing/../h', 'w'))
        t('open file/../g', lambda: open('file/../g').read())
        t('open dd/../g', lambda: open('dd/../g').read())
        t('open dd/x/../../g', lambda: open('dd/x/../../g').read())
        t('listdir', lambda: sorted(os.listdir('.')))
        t('file', lambda: open('file').read())
    """)
    assert shield == native
    assert "rmdir d/. EINVAL" in shield and "listdir ['d', 'dd', 'file', 'g']" in shield


def test_directory_times_move_as_natively(tmp):
    # directory mtimes never changed inside a volume, so the import system's
    # directory cache missed a module written after the first import
    native, shield, vol, key = both(tmp, """
        import sys, time
        os.mkdir('pkg'); open('pkg/m1.py', 'w').write('X = 1')
        sys.path.insert(0, 'pkg'); import m1
        time.sleep(0.05); open('pkg/m2.py', 'w').write('X = 2')
        import m2; print('m2', m2.X)
        def changes(op):
            a = os.stat('pkg').st_mtime_ns; time.sleep(0.02); op(); return os.stat('pkg').st_mtime_ns != a
        t('create', lambda: changes(lambda: open('pkg/new', 'w').close()))
        t('unlink', lambda: changes(lambda: os.unlink('pkg/new')))
        t('mkdir', lambda: changes(lambda: os.mkdir('pkg/sub')))
        t('rmdir', lambda: changes(lambda: os.rmdir('pkg/sub')))
        t('rename', lambda: changes(lambda: os.rename('pkg/m2.py', 'pkg/m3.py')))
        t('write', lambda: changes(lambda: open('pkg/m3.py', 'a').write('#')))
        os.utime('pkg', (5, 5)); t('utime', lambda: os.stat('pkg').st_mtime)
        os.utime('.', (7, 7)); t('utime root', lambda: os.stat('.').st_mtime)
        os.chmod('.', 0o700); t('chmod root', lambda: oct(os.stat('.').st_mode & 0o777))
        t('nlink root', lambda: os.stat('.').st_nlink)
    """)
    assert shield == native
    assert "m2 2" in shield and "create True" in shield


def test_truncation_to_the_same_size_sets_the_time(tmp):
    native, shield, vol, key = both(tmp, """
        import time
        open('e', 'w').close(); open('f', 'w').write('abc')
        def changes(op, p):
            a = os.stat(p).st_mtime_ns; time.sleep(0.02); op(); return os.stat(p).st_mtime_ns != a
        t('O_TRUNC empty', lambda: changes(lambda: open('e', 'w').close(), 'e'))
        t('truncate same', lambda: changes(lambda: os.truncate('f', 3), 'f'))
        t('read only', lambda: changes(lambda: open('f').read(), 'f'))
    """)
    assert shield == native
    assert "O_TRUNC empty True" in shield and "read only False" in shield
