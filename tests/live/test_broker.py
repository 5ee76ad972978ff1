"""The broker: what is published on a channel reaches its listeners, on the in-process broker and on Redis."""

from __future__ import annotations

import asyncio

from app.live.broker import RedisBroker


async def next_messages(listener, count: int) -> list[tuple[str, str]]:
    return [await asyncio.wait_for(anext(listener), timeout=5) for _ in range(count)]


async def subscribed(broker, *channels):
    listener = broker.listen(*channels)
    first = asyncio.ensure_future(anext(listener))
    await asyncio.sleep(0.2)  # let the subscription reach the server before publishing
    return listener, first


async def test_listener_receives_its_channels_in_order(broker):
    listener, first = await subscribed(broker, "c360:test:a", "c360:test:b")
    await broker.publish("c360:test:a", "1")
    await broker.publish("c360:test:other", "not for us")
    await broker.publish("c360:test:b", "2")
    await broker.publish("c360:test:a", "3")
    received = [await asyncio.wait_for(first, 5), *await next_messages(listener, 2)]
    assert received == [("c360:test:a", "1"), ("c360:test:b", "2"), ("c360:test:a", "3")]
    await listener.aclose()


async def test_every_listener_gets_every_message(broker):
    one, first_one = await subscribed(broker, "c360:test:fanout")
    two, first_two = await subscribed(broker, "c360:test:fanout")
    await broker.publish("c360:test:fanout", "hello")
    assert await asyncio.wait_for(first_one, 5) == ("c360:test:fanout", "hello")
    assert await asyncio.wait_for(first_two, 5) == ("c360:test:fanout", "hello")
    await one.aclose()
    await two.aclose()


async def test_ping_reports_reachability(broker):
    assert await broker.ping()


async def test_unreachable_redis_is_reported_not_raised():
    broker = RedisBroker("redis://127.0.0.1:1/0")
    try:
        assert not await broker.ping()
    finally:
        await broker.close()
