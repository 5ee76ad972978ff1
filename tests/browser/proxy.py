"""A TCP relay between the browser and the server whose "network" a test can cut and restore.

Cutting it resets every connection through it and refuses new ones until it is restored, which is what a
browser sees when its network drops: the page's WebSocket and any request in flight fail at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class Relay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = True
        self._connections: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result()

    async def _serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._relay, sock=self._listener)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._connections |= {writer, upstream_writer}
        try:
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        finally:
            self._connections -= {writer, upstream_writer}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        if self.up:
            writer.close()  # the other side finished: pass the end on
        else:
            writer.transport.abort()

    def cut(self) -> None:
        """Reset every connection and refuse new ones."""

        def cut_now() -> None:
            self.up = False
            for writer in list(self._connections):
                writer.transport.abort()

        self._loop.call_soon_threadsafe(cut_now)

    def restore(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "up", True)

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
