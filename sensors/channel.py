"""The parent's end of a worker pipe, driven by the event loop: framed bytes in and out, never blocking.

The worker side uses ``multiprocessing.connection.Connection.send_bytes``/``recv_bytes`` (a blocking loop is
all a worker needs). On POSIX a duplex ``multiprocessing.Pipe`` is a Unix socket pair, so the parent wraps its
end in an asyncio stream instead: reads are driven by the loop's reader callback (``add_reader`` under the
hood) and a frame is handed over only once all of its bytes have arrived; writes go into the transport's
buffer and are flushed whenever the socket is writable, so a large warm-up batch never stalls the loop.

Frames use the same length prefix as ``Connection``: a signed 32-bit big-endian length, or ``-1`` followed by
an unsigned 64-bit length for payloads of 2 GiB and more (``tests/test_sensor_manager_ipc.py`` pins this
against the standard library).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from multiprocessing.connection import Connection

__all__ = ["WorkerChannel", "frame"]

_SHORT = struct.Struct("!i")
_LONG = struct.Struct("!Q")
_SHORT_MAX = 0x7FFFFFFF


def frame(payload: bytes) -> bytes:
    """The length prefix ``Connection.recv_bytes`` expects, followed by ``payload``."""
    size = len(payload)
    if size > _SHORT_MAX:
        return _SHORT.pack(-1) + _LONG.pack(size) + payload
    return _SHORT.pack(size) + payload


class WorkerChannel:
    """Framed, non-blocking bytes over the parent's end of a duplex pipe."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, conn: Connection) -> WorkerChannel:
        """Take over ``conn`` (it is closed; the channel owns a duplicate of its socket)."""
        fd = os.dup(conn.fileno())
        conn.close()
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer)

    def write(self, payload: bytes) -> None:
        """Queue one frame in the transport buffer (frames leave in the order written)."""
        self._writer.write(frame(payload))

    async def drain(self) -> None:
        """Wait, without blocking the loop, while the transport buffer is above its high-water mark."""
        await self._writer.drain()

    async def send(self, payload: bytes) -> None:
        """``write`` then ``drain``."""
        self.write(payload)
        await self.drain()

    async def recv(self) -> bytes:
        """The next whole frame; ``asyncio.IncompleteReadError`` at EOF (the worker is gone)."""
        (size,) = _SHORT.unpack(await self._reader.readexactly(_SHORT.size))
        if size == -1:
            (size,) = _LONG.unpack(await self._reader.readexactly(_LONG.size))
        return await self._reader.readexactly(size)

    async def close(self) -> None:
        """Close the socket (the worker sees EOF)."""
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()
