"""Events: an entry of the activity log announced on the broker once its transaction has committed.

The message is a doorbell ({"customer_id", "id", "at", "request"}: the customer, the event's id, when it was
announced, the request that recorded it). A listener that has released every event before that id knows the
next one is committed and needs no read of the log to release it; any other listener reads the log. So a lost
message costs latency, never data, and the log stays the truth.

Channel names carry a hash tag (the part in braces), so that on Redis Cluster's sharded pub/sub (SPUBLISH,
SSUBSCRIBE) a customer's channel lives on the shard of that customer's cache entries (app.cache.key) and each
shop-wide channel on one shard. Renaming a channel is a contract change between versions: during a rolling
deploy that renames one, the new processes miss the old ones' doorbell and see their events on the log's
safety poll instead (seconds late, none lost).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection

from app import logs
from app.live.broker import Broker, BrokerUnavailable
from app.metrics import EVENTS_PUBLISHED

log = logging.getLogger(__name__)

ACTIVITY_CHANNEL = "c360:{activity}"
# The id of a staff account whose row changed (app.live.hub.Hub.user_changed).
USERS_CHANNEL = "c360:{users}"


def customer_channel(customer_id: int) -> str:
    return f"c360:{{customer:{customer_id}}}:events"


async def announce(broker: Broker, events: Iterable[tuple[int, int]]) -> None:
    """Publish (customer_id, event_id) pairs; a broker outage is logged, not raised (the log has them)."""
    request = logs.request_id()
    for customer_id, event_id in events:
        message = json.dumps(
            {"customer_id": customer_id, "id": event_id, "at": round(time.time(), 6), "request": request},
            separators=(",", ":"),
        )
        try:
            await broker.publish(customer_channel(customer_id), message)
            await broker.publish(ACTIVITY_CHANNEL, message)
            EVENTS_PUBLISHED.inc()
        except BrokerUnavailable as exc:
            log.warning(
                "event %s of customer %s not announced, broker unavailable: %s", event_id, customer_id, exc
            )
            return


async def commit_and_announce(
    conn: AsyncConnection, broker: Broker, events: Iterable[tuple[int, int]]
) -> None:
    """Commit the write and its log entries, then ring the doorbell: never before the commit, or a listener
    could read the log before the entry is visible."""
    await conn.commit()
    await announce(broker, events)
