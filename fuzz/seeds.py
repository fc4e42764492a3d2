"""Seed corpora for the fuzz targets that have no samples in the test vectors.

  seeds.py manifest WARD OUT_DIR   real manifests of small volumes made by
      `ward`, in both of fuzz_manifest's modes: the file as it is (first
      byte 0) and its records re-framed (first byte 1 authenticated, 3
      encrypted)
  seeds.py policy DOC.md OUT_DIR   every ```yaml block of the session
      language's documentation, for fuzz_policy (first byte 0: auto)"""
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


def policies(doc, out):
    out.mkdir(parents=True, exist_ok=True)
    block, n = None, 0
    for line in pathlib.Path(doc).read_text().splitlines(keepends=True):
        if block is None and line.startswith("```yaml"):
            block = []
        elif block is not None and line.startswith("```"):
            n += 1
            (out / ("seed-doc-%d" % n)).write_bytes(b"\0" + "".join(block).encode())
            block = None
        elif block is not None:
            block.append(line)


def manifests(ward, out):
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
    if len(sys.argv) != 4 or sys.argv[1] not in ("manifest", "policy"):
        sys.exit(__doc__)
    (manifests if sys.argv[1] == "manifest" else policies)(sys.argv[2], pathlib.Path(sys.argv[3]))
