"""Seeds for fuzz_manifest: real manifests of small volumes made by `ward`,
in both of the harness's modes (fuzz/fuzz_manifest.c): the file as it is
(first byte 0) and its records re-framed (first byte 1 authenticated, 3
encrypted). Usage: manifest_seeds.py WARD OUT_DIR"""
import os
import pathlib
import struct
import subprocess
import sys
import tempfile

HDR, REC, MAC = 128, 8, 32


def records(m):
    out, off = b"", HDR
    while len(m) - off >= REC:
        t, n = struct.unpack_from("<II", m, off)
        if off + REC + n + MAC > len(m) or n > 0xFFFF:
            break
        out += struct.pack("<BH", t & 0xFF, n) + m[off + REC:off + REC + n]
        off += REC + n + MAC
    return out


def main():
    ward, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, WARD_MODE="sim")
    with tempfile.TemporaryDirectory() as t:
        t = pathlib.Path(t)
        src = t / "src"
        (src / "sub" / "deeper").mkdir(parents=True)
        (src / "a").write_bytes(b"x" * 9000)
        (src / "sub" / "b.py").write_text("print('b')\n")
        (src / "sub" / "deeper" / "empty").write_bytes(b"")
        subprocess.run([ward, "fs", "authenticate", src, "-o", t / "auth.manifest"], env=env, check=True,
                       capture_output=True)
        subprocess.run([ward, "fs", "encrypt", src, t / "enc.vol", "--key-file", t / "k"], env=env, check=True,
                       capture_output=True)
        auth = (t / "auth.manifest").read_bytes()
        enc = (t / "enc.vol" / ".ward-volume" / "manifest").read_bytes()
        (out / "seed-auth-file").write_bytes(b"\0" + auth)
        (out / "seed-auth-records").write_bytes(b"\1" + records(auth))
        (out / "seed-enc-records").write_bytes(b"\3" + records(enc))


if __name__ == "__main__":
    main()
