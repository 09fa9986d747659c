"""The WAL's on-disk format: record lines, segment names, and the checks that find a torn tail.

One record per line: ``<seq: 16 hex> <crc32: 8 hex> <payload length: 8 hex> <payload>\\n``, the CRC
covering the sequence, the length and the payload (see :mod:`state.wal`).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from core.logs import get_logger

__all__ = [
    "PREFIX",
    "SUFFIX",
    "datasync",
    "encode_line",
    "fsync_dir",
    "parse_line",
    "scan_segment",
    "segment_name",
    "truncate_torn",
]

log = get_logger("state.wal")

PREFIX = "wal-"
SUFFIX = ".log"
_HEADER = 16 + 1 + 8 + 1 + 8 + 1  # "seq crc len " before the payload


def encode_line(seq: int, payload: bytes) -> bytes:
    head = b"%016x" % seq
    length = b"%08x" % len(payload)
    crc = zlib.crc32(payload, zlib.crc32(length, zlib.crc32(head)))
    return b"%s %08x %s %s\n" % (head, crc, length, payload)


def parse_line(line: bytes) -> tuple[int, bytes] | None:
    """(seq, payload) of a well-formed record line, else ``None``."""
    if len(line) < _HEADER + 1 or not line.endswith(b"\n"):
        return None
    if line[16:17] != b" " or line[25:26] != b" " or line[34:35] != b" ":
        return None
    head, crc_hex, length = line[0:16], line[17:25], line[26:34]
    payload = line[_HEADER:-1]
    try:
        seq, crc, size = int(head, 16), int(crc_hex, 16), int(length, 16)
    except ValueError:
        return None
    if size != len(payload) or crc != zlib.crc32(payload, zlib.crc32(length, zlib.crc32(head))):
        return None
    return seq, payload


def segment_name(first_seq: int) -> str:
    return f"{PREFIX}{first_seq:020d}{SUFFIX}"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def datasync(fd: int) -> None:
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


def scan_segment(path: Path) -> tuple[int, int, int]:
    """(records, first seq, byte length of the valid prefix) of a segment, stopping at the first bad line."""
    count, first, last, good = 0, 0, 0, 0
    with path.open("rb") as f:
        for line in f:
            parsed = parse_line(line)
            if parsed is None or (count and parsed[0] != last + 1):
                break
            if not count:
                first = parsed[0]
            count, last = count + 1, parsed[0]
            good += len(line)
    return count, first, good


def truncate_torn(path: Path, good: int, size: int) -> None:
    """Cut a segment back to its valid prefix of ``good`` bytes (fsynced); see the module docstring."""
    with path.open("r+b") as f:
        f.seek(good)
        tail = f.read()
        lines = tail.splitlines(keepends=True)
        looked_valid = sum(1 for line in lines if parse_line(line) is not None)
        if looked_valid:
            keep = path.with_name(f"{path.name}.{good}.torn")
            keep.write_bytes(tail)
            log.error(
                "WAL %s: damaged record at byte %d followed by %d valid-looking record(s) that were "
                "never acknowledged; dropped (bytes kept in %s)",
                path.name,
                good,
                looked_valid,
                keep.name,
            )
        else:
            log.warning("WAL %s: torn last record (%d bytes) truncated", path.name, size - good)
        f.truncate(good)
        f.flush()
        os.fsync(f.fileno())
