"""Rate limits: sign-in per account and per client address, page writes per user, the JSON API per client;
429 with Retry-After; shared through Redis, and no error when Redis is gone."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network

from sqlalchemy import func, select

from app import create_app
from app.tables import audit_log, customer_activities
from app.web import limits
from tests.conftest import csrf_token_of, sign_in
from tests.factories import add_customer

PEER = {"client": ("127.0.0.1", 50000)}


async def attempt(client, email: str, password: str = "wrong password!", **headers):
    form = {"email": email, "password": password, "csrf_token": await csrf_token_of(client)}
    return await client.post("/login", form=form, headers=headers, scope_base=PEER)


async def test_sign_in_attempts_on_one_account_are_limited_even_with_the_right_password(app, engine, staff):
    client = app.test_client()
    allowed, _ = limits.SIGN_IN_PER_ACCOUNT
    for _ in range(allowed):
        assert (await attempt(client, "advisor@test.example")).status_code == 401
    limited = await sign_in(client, staff["advisor"])  # the right password: no oracle while limited
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too Many Requests" in await limited.get_data(as_text=True)
    # Another account from the same address is not held back by this one.
    assert (await sign_in(client, staff["operations"])).status_code == 302
    async with engine.connect() as conn:
        refused = (
            await conn.execute(
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.details["status"].as_integer() == 429)
            )
        ).scalar_one()
    assert refused == 1  # logged like any refused request


async def test_sign_in_attempts_from_one_address_are_limited_across_accounts(app):
    client = app.test_client()
    allowed, _ = limits.SIGN_IN_PER_ADDRESS
    statuses = [
        (await attempt(client, f"guess{number}@test.example")).status_code for number in range(allowed + 1)
    ]
    assert statuses[:allowed] == [401] * allowed and statuses[-1] == 429


async def test_a_forged_forwarded_address_does_not_escape_the_limit_but_a_trusted_proxys_does(settings, app):
    allowed, _ = limits.SIGN_IN_PER_ADDRESS
    client = app.test_client()
    forged = [
        (await attempt(client, f"g{n}@test.example", **{"X-Forwarded-For": f"198.51.100.{n}"})).status_code
        for n in range(allowed + 1)
    ]
    assert forged[-1] == 429  # the header was ignored: one address, limited
    proxied = create_app(replace(settings, trusted_proxies=(ip_network("127.0.0.1/32"),)))
    async with proxied.test_app():
        client = proxied.test_client()
        behind = [
            (
                await attempt(client, f"g{n}@test.example", **{"X-Forwarded-For": f"198.51.100.{n}"})
            ).status_code
            for n in range(allowed + 1)
        ]
    assert 429 not in behind  # each a different client, as the trusted proxy says


async def test_page_writes_are_limited_per_user_and_write_nothing_when_refused(app, engine, staff):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    token = await csrf_token_of(client)
    allowed, _ = limits.WRITES_PER_USER
    statuses = []
    for number in range(allowed + 20):  # a burst: the limit refills by one a second meanwhile
        response = await client.post(
            f"/customers/{customer}/notes",
            form={"text": f"note {number}", "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            refused = response
    assert statuses[:allowed] == [200] * allowed and 429 in statuses
    assert set(statuses) == {200, 429}
    assert int(refused.headers["Retry-After"]) >= 1
    async with engine.connect() as conn:
        notes = (await conn.execute(select(func.count()).select_from(customer_activities))).scalar_one()
    assert notes == statuses.count(200)  # a refused note is not written


async def test_the_api_says_how_much_is_left(app, engine, staff):
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
    client = app.test_client()
    await sign_in(client, staff["operations"])
    response = await client.get(f"/api/customer360/{customer}/profile")
    assert response.status_code == 200
    assert int(response.headers["RateLimit-Limit"]) == limits.API_PER_CLIENT[0]
    assert 0 <= int(response.headers["RateLimit-Remaining"]) <= limits.API_PER_CLIENT[0]
    assert "RateLimit-Reset" in response.headers


async def test_on_redis_the_limits_are_shared_by_every_process_and_expire(settings, redis_url, staff):
    import redis.asyncio as redis

    shared = replace(settings, redis_url=redis_url)
    first, second = create_app(shared), create_app(shared)
    client = redis.from_url(redis_url)
    try:
        await client.delete(*[key async for key in client.scan_iter("app-auth.login_submit-*")] or ["none"])
        async with first.test_app(), second.test_app():
            allowed, _ = limits.SIGN_IN_PER_ACCOUNT
            for number in range(allowed):
                served = (first, second)[number % 2].test_client()
                assert (await attempt(served, "advisor@test.example")).status_code == 401
            assert (await attempt(second.test_client(), "advisor@test.example")).status_code == 429
        keys = [key async for key in client.scan_iter("app-auth.login_submit-*")]
        assert keys
        for key in keys:
            assert 0 < await client.ttl(key) <= 600  # gone once it holds nobody back
    finally:
        await client.delete(*[key async for key in client.scan_iter("app-auth.login_submit-*")] or ["none"])
        await client.aclose()


async def test_with_redis_unreachable_sign_in_still_works_and_is_still_limited(settings, staff):
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    async with app.test_app():
        client = app.test_client()
        assert (await sign_in(client, staff["advisor"])).status_code == 302
        allowed, _ = limits.SIGN_IN_PER_ACCOUNT
        statuses = [(await attempt(client, "admin@test.example")).status_code for _ in range(allowed + 1)]
    assert statuses[-1] == 429 and 500 not in statuses


async def test_on_redis_a_limited_request_reads_its_key_once_and_writes_it_once(
    settings, redis_url, engine, staff, monkeypatch
):
    """quart-rate-limiter asks for the key three times in a request (check, update, headers): Redis is asked
    once, and written once."""
    async with engine.begin() as conn:
        customer = await add_customer(conn, "Marie", "Tremblay")
    app = create_app(replace(settings, redis_url=redis_url))
    async with app.test_app():
        redis = app.extensions["rate_limit_store"].redis
        calls: list[tuple[str, str]] = []
        for name in ("get", "set"):
            original = getattr(redis, name)

            async def counted(key, *args, name=name, original=original, **kwargs):
                calls.append((name, key))
                return await original(key, *args, **kwargs)

            monkeypatch.setattr(redis, name, counted)
        client = app.test_client()
        await sign_in(client, staff["operations"])
        for _ in range(2):
            calls.clear()
            response = await client.get(f"/api/customer360/{customer}/profile")
            assert response.status_code == 200
            assert 0 <= int(response.headers["RateLimit-Remaining"]) <= limits.API_PER_CLIENT[0]
            (key,) = {key for _, key in calls}
            assert calls == [("get", key), ("set", key)]
