"""Sign-in, sign-out, deny by default and CSRF."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update

from app.tables import users
from app.web.access import EVERYONE, access_of
from app.web.auth import safe_next
from tests.conftest import csrf_token_of, sign_in

ROLES = ("advisor", "operations", "admin")


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_signs_in_and_sees_the_customer_list(client, staff, role):
    response = await sign_in(client, staff[role])
    assert response.status_code == 302
    assert response.headers["Location"] == "/customers"
    page = await client.get("/customers")
    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    assert staff[role].name in html
    assert "Sign out" in html


async def test_wrong_password_is_refused_and_sets_no_session(client, staff):
    response = await sign_in(client, staff["advisor"], password="not the password at all")
    assert response.status_code == 401
    assert "Wrong email address or password" in await response.get_data(as_text=True)
    assert (await client.get("/customers")).status_code == 302


async def test_unknown_address_gets_the_same_answer_as_a_wrong_password(client, staff):
    token = await csrf_token_of(client)
    response = await client.post(
        "/login", form={"email": "nobody@test.example", "password": "whatever it is", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong email address or password" in await response.get_data(as_text=True)


async def test_empty_form_explains_what_is_missing(client, staff):
    token = await csrf_token_of(client)
    response = await client.post("/login", form={"email": "", "password": "", "csrf_token": token})
    assert response.status_code == 400
    assert "Enter your email address and your password" in await response.get_data(as_text=True)


async def test_disabled_user_cannot_sign_in_and_loses_open_sessions(client, staff, engine):
    assert (await sign_in(client, staff["advisor"])).status_code == 302
    async with engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == staff["advisor"].id).values(is_active=False))
    assert (await client.get("/customers")).status_code == 302
    assert (await sign_in(client, staff["advisor"])).status_code == 401


async def test_sign_in_returns_to_the_page_asked_for(client, staff):
    first = await client.get("/customers?q=tremblay")
    assert first.status_code == 302
    assert first.headers["Location"] == "/login?next=%2Fcustomers%3Fq%3Dtremblay"
    token = await csrf_token_of(client)
    response = await client.post(
        "/login",
        form={
            "email": staff["admin"].email,
            "password": "correct horse battery staple",
            "csrf_token": token,
            "next": "/customers?q=tremblay",
        },
    )
    assert response.headers["Location"] == "/customers?q=tremblay"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]
)
def test_next_never_leaves_the_site(target):
    assert safe_next(target) is None


async def test_sign_out_ends_the_session_everywhere(app, staff):
    first, second = app.test_client(), app.test_client()
    await sign_in(first, staff["advisor"])
    await sign_in(second, staff["advisor"])
    token = await csrf_token_of(first)
    response = await first.post("/logout", form={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert (await first.get("/customers")).status_code == 302
    assert (await second.get("/customers")).status_code == 302


async def test_post_without_csrf_token_is_refused_and_changes_nothing(signed_in, staff, engine):
    client = await signed_in("advisor")
    response = await client.post("/logout")
    assert response.status_code == 403
    assert "CSRF" in await response.get_data(as_text=True)
    wrong = await client.post("/logout", form={"csrf_token": "forged"})
    assert wrong.status_code == 403
    async with engine.connect() as conn:
        version = (
            await conn.execute(select(users.c.session_version).where(users.c.id == staff["advisor"].id))
        ).scalar()
    assert version == 1
    assert (await client.get("/customers")).status_code == 200


async def test_csrf_token_in_htmx_header_is_accepted(signed_in):
    client = await signed_in("advisor")
    token = await csrf_token_of(client)
    response = await client.post("/logout", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert response.status_code == 302


async def test_sign_in_form_needs_its_csrf_token(client, staff):
    await client.get("/login")
    response = await client.post(
        "/login", form={"email": staff["admin"].email, "password": "correct horse battery staple"}
    )
    assert response.status_code == 403
    assert (await client.get("/customers")).status_code == 302


async def private_get_urls(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.websocket or rule.endpoint == "static":
            continue
        async with app.app_context():
            if access_of(rule.endpoint) == EVERYONE:
                continue
        urls.append(rule.build({arg: 1 for arg in rule.arguments}, append_unknown=False)[1])
    return urls


def is_api(url: str) -> bool:
    return url.startswith("/api/") or url == "/openapi.json"


async def test_every_private_page_redirects_an_anonymous_browser_to_sign_in(app, client):
    urls = await private_get_urls(app)
    assert "/customers" in urls and "/customers/1" in urls
    for url in urls:
        if is_api(url):  # machine clients are never redirected to a sign-in page
            response = await client.get(url, headers={"Accept": "text/html"})
            assert response.status_code == 401, url
            continue
        response = await client.get(url, headers={"Accept": "text/html"})
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url


async def test_every_private_page_answers_401_to_htmx_and_json(app, client):
    for url in await private_get_urls(app):
        htmx = await client.get(url, headers={"HX-Request": "true"})
        assert htmx.status_code == 401, url
        assert htmx.headers["HX-Redirect"] == "/login"
        json = await client.get(url, headers={"Accept": "application/json"})
        assert json.status_code == 401, url
        assert (await json.get_json())["error"]["message"] == "Sign in to continue."


async def test_a_page_whose_session_ended_is_sent_to_sign_in_and_back_to_it(client):
    """htmx follows HX-Redirect: a section asked for by a page signed out elsewhere takes that page to the
    sign-in form, which brings it back there (the page's socket, closed with 1008, does the same)."""
    page = "http://localhost/customers/1?activity.kind=note"
    htmx = await client.get(
        "/customers/1/sections/activity", headers={"HX-Request": "true", "HX-Current-URL": page}
    )
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"] == "/login?next=%2Fcustomers%2F1%3Factivity.kind%3Dnote"


async def test_unknown_urls_do_not_reveal_themselves_to_anonymous_visitors(client):
    response = await client.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 302


@pytest.mark.parametrize("url", ["/login", "/healthz", "/readyz", "/static/app.css"])
async def test_public_urls_need_no_session(client, url):
    response = await client.get(url)
    assert response.status_code == 200


async def test_every_view_declares_who_may_use_it(app):
    async with app.app_context():
        undeclared = [rule.endpoint for rule in app.url_map.iter_rules() if access_of(rule.endpoint) is None]
    assert undeclared == []


async def test_session_cookies_are_httponly_and_samesite(client, staff):
    response = await sign_in(client, staff["advisor"])
    cookies = response.headers.get_all("Set-Cookie")
    assert any(cookie.startswith("c360_auth=") for cookie in cookies)
    for cookie in cookies:
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie


async def test_pages_carry_security_headers(signed_in):
    client = await signed_in("advisor")
    response = await client.get("/customers")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    html = await response.get_data(as_text=True)
    assert "<script>" not in html and " onclick=" not in html


async def test_a_forged_or_replayed_session_cookie_opens_nothing(app, staff):
    """The auth cookie is signed (a changed byte voids it) and carries the session version (a copy kept
    from before a sign-out is worth nothing after it)."""
    client = app.test_client()
    await sign_in(client, staff["advisor"])
    value = next(cookie.value for cookie in client.cookie_jar if cookie.name == "c360_auth")
    tampered = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    # The admin's id and session version, signed with a key that is not the server's.
    forged = URLSafeTimedSerializer("not the secret key", salt="quart auth salt").dumps(
        f"{staff['admin'].id}:{staff['admin'].session_version}"
    )
    for stolen in (tampered, forged):
        attacker = app.test_client()
        attacker.set_cookie("localhost", "c360_auth", stolen)
        assert (await attacker.get("/customers")).status_code == 302
    replay = app.test_client()
    replay.set_cookie("localhost", "c360_auth", value)
    assert (await replay.get("/customers")).status_code == 200  # the genuine cookie, still valid
    token = await csrf_token_of(client)
    await client.post("/logout", form={"csrf_token": token})
    assert (await replay.get("/customers")).status_code == 302  # replayed after sign-out: refused
