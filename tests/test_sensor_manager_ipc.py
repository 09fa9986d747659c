"""The parent's asyncio channel speaks multiprocessing.Connection's framing and never stalls the loop."""

from __future__ import annotations

import asyncio
import multiprocessing
import struct
import threading

import pytest

from sensors.channel import WorkerChannel, frame


def test_frame_is_what_connection_reads() -> None:
    parent, child = multiprocessing.Pipe(duplex=True)
    try:
        for payload in (b"", b"x", bytes(range(256)) * 100):
            parent._send(frame(payload))  # type: ignore[attr-defined]  # raw bytes, no framing of its own
            assert child.recv_bytes() == payload
    finally:
        parent.close()
        child.close()


def test_long_frames_use_the_64_bit_prefix() -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return 0x80000000

    header = frame(Huge(b""))
    assert header == struct.pack("!i", -1) + struct.pack("!Q", 0x80000000)


async def test_channel_round_trip_of_large_frames_keeps_the_loop_running() -> None:
    parent, child = multiprocessing.Pipe(duplex=True)

    def echo() -> None:  # the "worker": blocking recv/send on its end
        try:
            while True:
                child.send_bytes(child.recv_bytes())
        except (EOFError, OSError):
            child.close()

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    channel = await WorkerChannel.open(parent)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async def send_all() -> None:
        for payload in payloads:
            channel.write(payload)  # queued: 8 MiB is far above the socket buffer
        await channel.drain()

    async def read_all() -> list[bytes]:
        return [await channel.recv() for _ in payloads]

    payloads = [b"a" * 10, bytes(8 * 1024 * 1024), b"z" * 70_000]
    task = asyncio.create_task(ticker())
    try:
        # Read while writing, as the SensorManager does: the echo blocks sending the 8 MiB frame back until
        # the parent reads it, so a parent that drained everything before reading would wait forever.
        async with asyncio.timeout(30):
            _, received = await asyncio.gather(send_all(), read_all())
        assert received == payloads
        assert ticks > 10  # the loop kept turning while megabytes went through
    finally:
        stop.set()
        await task
        await channel.close()
    thread.join(5)
    assert not thread.is_alive()  # the other end saw EOF


async def test_recv_raises_at_eof() -> None:
    parent, child = multiprocessing.Pipe(duplex=True)
    channel = await WorkerChannel.open(parent)
    child.send_bytes(b"last")
    child.close()
    assert await channel.recv() == b"last"
    with pytest.raises(asyncio.IncompleteReadError):
        await channel.recv()
    await channel.close()
