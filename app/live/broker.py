"""The doorbell of live updates: publish a short message on a channel, listen to channels.

Two implementations with one interface: Redis pub/sub (REDIS_URL set, any number of processes) and an
in-process broker (the embedded default, one process). The event log in the database stays the truth;
a message lost here is recovered from the log, so neither broker needs to be durable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

# Bounded so a stalled listener cannot grow memory without limit; it loses messages instead, which the
# event log makes good.
LISTENER_QUEUE_SIZE = 10_000


class BrokerUnavailable(Exception):
    """The broker cannot be reached right now."""


class Broker(Protocol):
    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, message: str) -> None: ...

    def listen(self, *channels: str) -> AsyncIterator[tuple[str, str]]: ...

    async def ping(self) -> bool: ...


class MemoryBroker:
    """Pub/sub inside one process."""

    name = "memory"

    def __init__(self) -> None:
        self._listeners: dict[str, set[asyncio.Queue[tuple[str, str]]]] = {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self._listeners.clear()

    async def publish(self, channel: str, message: str) -> None:
        for queue in self._listeners.get(channel, ()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((channel, message))

    async def listen(self, *channels: str) -> AsyncIterator[tuple[str, str]]:
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(LISTENER_QUEUE_SIZE)
        for channel in channels:
            self._listeners.setdefault(channel, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            for channel in channels:
                listeners = self._listeners.get(channel)
                if listeners is not None:
                    listeners.discard(queue)
                    if not listeners:
                        del self._listeners[channel]

    async def ping(self) -> bool:
        return True


class RedisBroker:
    """Redis pub/sub. One client for publishing; each listen() holds one subscriber connection, so a
    process should listen once and fan out itself (see live.hub)."""

    name = "redis"

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: redis.Redis | None = None

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.from_url(
                self.url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15
            )
        return self._client

    async def start(self) -> None:
        # Connect lazily: the app must start and serve pages while Redis is down.
        pass

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self.client.publish(channel, message)
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def listen(self, *channels: str) -> AsyncIterator[tuple[str, str]]:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*channels)
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is not None and message["type"] == "message":
                    yield message["channel"].decode(), message["data"].decode()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False


def create_broker(redis_url: str | None) -> Broker:
    return RedisBroker(redis_url) if redis_url else MemoryBroker()
