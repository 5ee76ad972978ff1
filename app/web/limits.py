"""Rate limits (quart-rate-limiter): sign-in per account and per client address, writes per user, the JSON
API per client. Kept in Redis when REDIS_URL is set, so every process shares them; in memory otherwise.

A limited request gets 429 with Retry-After, and is in the audit trail like any refused request. If Redis
cannot be reached, each process limits on its own until it can again: an outage never turns into errors.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from quart import Quart, g, has_request_context, request
from quart_rate_limiter import RateLimit, RateLimiter, limit_blueprint, rate_limit
from quart_rate_limiter.store import MemoryStore, RateLimiterStoreABC
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from app.keys import email_key
from app.web.access import current_user
from app.web.auditing import client_address

log = logging.getLogger(__name__)

# Sign-in: a person mistypes a few times; a guesser tries thousands. Both limits count every attempt.
SIGN_IN_PER_ACCOUNT = (10, timedelta(minutes=10))
SIGN_IN_PER_ADDRESS = (50, timedelta(minutes=10))  # a shop's advisors may share one address
# Writes from the pages: far above what a person clicks, far below what a script sends.
WRITES_PER_USER = (60, timedelta(minutes=1))
# The JSON API, per token or user: other modules report in bursts (a terminal's batch).
API_PER_CLIENT = (6000, timedelta(minutes=1))


class SharedStore(RateLimiterStoreABC):
    """Redis, with keys that expire once they no longer hold anyone back, and a per-process fallback.

    quart-rate-limiter reads a limit's key three times in a request (to check it, to update it, to fill in
    the RateLimit-* headers) and writes it once: what the request read or wrote is kept on it, so that a
    limited request costs Redis one read and one write, not four round trips."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.redis: aioredis.Redis | None = None
        self.local = MemoryStore()
        self._down_logged = False

    async def before_serving(self) -> None:
        self.redis = aioredis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=1)

    async def after_serving(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    async def get(self, key: str, default: datetime) -> datetime:
        known = _known_this_request()
        if key in known:
            tat = known[key]
            return default if tat is None else tat
        try:
            value = await self.redis.get(key)
        except (RedisError, OSError) as exc:
            self._down(exc)
            return await self.local.get(key, default)
        self._down_logged = False
        known[key] = tat = None if value is None else datetime.fromtimestamp(float(value), UTC)
        return default if tat is None else tat

    async def set(self, key: str, tat: datetime) -> None:
        # A theoretical arrival time in the past limits nobody: the key may go then.
        ttl = max(1, int((tat - datetime.now(UTC)).total_seconds()) + 1)
        try:
            await self.redis.set(key, tat.timestamp(), ex=ttl)
        except (RedisError, OSError) as exc:
            self._down(exc)
            await self.local.set(key, tat)
            return
        _known_this_request()[key] = tat

    def _down(self, exc: Exception) -> None:
        if not self._down_logged:
            log.warning("rate limits: Redis unreachable (%s); limiting per process meanwhile", exc)
            self._down_logged = True


def _known_this_request() -> dict[str, datetime | None]:
    """The theoretical arrival times this request read or wrote, by key (none kept outside a request)."""
    if not has_request_context():
        return {}
    return g.setdefault("rate_limit_tats", {})


async def account_key() -> str:
    form = await request.form
    return "account:" + email_key(form.get("email", "")[:254])


async def address_key() -> str:
    return f"address:{client_address()}"


async def client_key() -> str:
    """The signed-in user or the API token's account; the address for anyone else."""
    user = await current_user()
    return f"user:{user.id}" if user is not None else await address_key()


# Decorators, applied once where the views are defined (they add to the view's list of limits).
sign_in = rate_limit(
    limits=[
        RateLimit(*SIGN_IN_PER_ACCOUNT, key_function=account_key),
        RateLimit(*SIGN_IN_PER_ADDRESS, key_function=address_key),
    ]
)
writes = rate_limit(*WRITES_PER_USER, key_function=client_key)


def limit_api(blueprint) -> None:
    limit_blueprint(blueprint, *API_PER_CLIENT, key_function=client_key)


def init_app(app: Quart) -> None:
    """After access.init_app: the limits count requests that passed the access checks."""
    redis_url = app.config["SETTINGS"].redis_url
    store = SharedStore(redis_url) if redis_url else MemoryStore()
    RateLimiter(app, key_function=client_key, store=store)
    app.extensions["rate_limit_store"] = store
