"""Hostile files made cheaply, and the peak memory of a command (issue 14).

A zip member of 1.5 GB of zeros and a PNG of 16000 x 16000 black pixels are a few
hundred kB to a few MB on disk; they are written without ever holding their
uncompressed bytes: after a full flush deflate keeps no history, so the compressed
form of one block of zeros, repeated, is the compressed form of many.
"""

import os
import struct
import subprocess
import tempfile
import time
import zlib

_BLOCK = 1 << 24  # 16 MiB of zeros per compressed block


def _zeros_deflated(size):
    """Raw deflate of `size` zero bytes, built from repeats of one flushed block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(_BLOCK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(size, _BLOCK)
    tail = compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FINISH)
    return block * blocks + tail


def _zeros_crc32(size):
    crc, zeros = 0, bytes(_BLOCK)
    for start in range(0, size, _BLOCK):
        crc = zlib.crc32(zeros[: min(_BLOCK, size - start)], crc)
    return crc


def write_zeros_zip(path, member, size):
    """A zip with one deflated `member` of `size` zero bytes (size < 4 GiB)."""
    data = _zeros_deflated(size)
    name = member.encode()
    # Version 20, no flags, deflate (8), no time, CRC, sizes, name length, no extra.
    fields = struct.pack("<HHHIIIIHH", 20, 0, 8, 0, _zeros_crc32(size), len(data),
                         size, len(name), 0)  # fmt: skip
    local = b"PK\x03\x04" + fields + name
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", 20)
        + fields
        + struct.pack("<HHHII", 0, 0, 0, 0, 0)  # comment, disk, attributes, offset 0
        + name
    )
    end = b"PK\x05\x06" + struct.pack(
        "<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0
    )
    with open(path, "wb") as file:
        file.write(local + data + central + end)


def _png_chunk(kind, data):
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data))
    )


def write_black_png(path, height, width):
    """An 8-bit RGB PNG of zeros: each row is filter byte 0 and 3 x width zeros."""
    size = height * (1 + 3 * width)
    adler32 = (size % 65521) << 16 | 1  # of zeros only: a = 1, b = size
    idat = b"\x78\xda" + _zeros_deflated(size) + struct.pack(">I", adler32)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as file:
        file.write(
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b"")
        )


def _high_water_mark(pid):
    """``VmHWM`` of /proc/<pid>/status in bytes (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(args, *, cwd, timeout=300):
    """Runs `args`; returns `(exit status, stdout, stderr, peak RSS in bytes)`.

    The peak is the child's ``VmHWM``, polled every 10 ms while it runs: a high-water
    mark of the child's own address space. Not `ru_maxrss`: Linux carries the
    parent's high-water mark across the child's exec, so a child of a big pytest
    worker reported the worker's 5 GiB (CI, issue 14's zip-bomb test).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True
        )
        deadline = time.monotonic() + timeout
        peak = 0
        while True:
            peak = max(peak, _high_water_mark(process.pid))
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                raise subprocess.TimeoutExpired(args, timeout)
            time.sleep(0.01)
        process.returncode = os.waitstatus_to_exitcode(status)  # Popen: reaped
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read(), err.read(), peak
