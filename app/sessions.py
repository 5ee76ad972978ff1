"""The accounts behind session cookies, kept in process so that a request costs no query to know its user.

A cached account is trusted for SESSION_CHECK seconds at most, then read again: that bounds how late any
process can learn of a change it was not told about (the broker down, or its message lost). Changes are told:
the process that commits one evicts the account at once, and the others when the broker's message arrives
(app.live.hub). The session cookie is still checked against the account on every request (app.web.access).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from time import monotonic

from sqlalchemy.ext.asyncio import AsyncConnection

from app.users import User, get_user

# How stale an account may be anywhere: cached users here, open sockets' sessions in app.live.hub.
SESSION_CHECK = 5.0
# A shop has a few thousand staff at most; beyond this the entries read longest ago go first.
MAX_ENTRIES = 10_000


class UserCache:
    def __init__(self, *, trust_for: float = SESSION_CHECK, max_entries: int = MAX_ENTRIES) -> None:
        self.trust_for = trust_for
        self.max_entries = max_entries
        self._entries: OrderedDict[int, tuple[float, User]] = OrderedDict()
        # Raised by every eviction: a read that an eviction overtook may have seen the row before the change.
        self._evictions = 0

    async def get(self, user_id: int, connect: Callable[[], Awaitable[AsyncConnection]]) -> User | None:
        """The account, from memory when read less than `trust_for` seconds ago and not changed since;
        else read through `connect` (called only then, so a request served from memory checks out no
        connection for it)."""
        entry = self._entries.get(user_id)
        started = monotonic()
        if entry is not None and started - entry[0] < self.trust_for:
            return entry[1]
        evictions = self._evictions
        user = await get_user(await connect(), user_id)
        # Aged from before the read; not kept if an eviction came during it (it may describe the old row).
        if user is not None and evictions == self._evictions:
            self._entries[user_id] = (started, user)
            self._entries.move_to_end(user_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return user

    def evict(self, user_id: int) -> None:
        """Forget an account whose row has changed: the next request reads it again."""
        self._evictions += 1
        self._entries.pop(user_id, None)

    def __contains__(self, user_id: int) -> bool:
        return user_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)
