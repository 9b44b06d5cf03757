"""A TCP relay that lets through a set number of bytes towards its upstream and then holds the
rest: a server's store calls through it stop part-way, at a point the test chose, instead of
wherever a poll happens to catch them. Answers flow back unhindered."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

CHUNK = 64 * 1024


@asynccontextmanager
async def bytes_then_hold(url: str, allowed: int) -> AsyncIterator[str]:
    """The URL of a relay to the plain-HTTP `url` that forwards `allowed` bytes of requests in
    all, across its connections, then stops reading them; `url` itself when it is https (a
    relay's address is not the name its certificate holds)."""
    upstream = urllib.parse.urlsplit(url)
    if upstream.scheme != "http":
        yield url
        return
    left = [allowed]
    pumps: set[asyncio.Task[None]] = set()

    async def pump(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, metred: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while chunk := await reader.read(CHUNK):
                if metred:
                    chunk = chunk[: left[0]]
                    left[0] -= len(chunk)
                writer.write(chunk)
                await writer.drain()
                if metred and not left[0]:
                    await asyncio.Event().wait()  # held until the relay closes
        writer.close()

    async def relay(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(upstream.hostname, upstream.port)
        for task in (
            asyncio.create_task(pump(client_reader, up_writer, metred=True)),
            asyncio.create_task(pump(up_reader, client_writer, metred=False)),
        ):
            pumps.add(task)
            task.add_done_callback(pumps.discard)

    listening = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield urllib.parse.urlunsplit((upstream.scheme, f"127.0.0.1:{port}", upstream.path, "", ""))
    finally:
        listening.close()
        for task in list(pumps):
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
