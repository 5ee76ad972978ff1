"""Staff accounts, managed by admins: create, change role, disable; a change signs the person out; an admin
cannot lock themselves out."""

from __future__ import annotations

from sqlalchemy import select

from app.tables import audit_log, users
from tests.conftest import csrf_token_of, sign_in


async def post(client, path: str, **form):
    return await client.post(path, form={**form, "csrf_token": await csrf_token_of(client)})


async def test_an_admin_creates_an_account_that_can_sign_in(app, engine, staff):
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    created = await post(
        admin,
        "/admin/users",
        email="New.Advisor@Shop.example",
        name="Nadia Advisor",
        role="advisor",
        language="fr",
        password="a long first password",
    )
    assert created.status_code == 302
    page = await (await admin.get(created.headers["Location"])).get_data(as_text=True)
    assert "Account new.advisor@shop.example created." in page and "Nadia Advisor" in page
    newcomer = app.test_client()
    token = await csrf_token_of(newcomer)
    signed = await newcomer.post(
        "/login",
        form={"email": "new.advisor@shop.example", "password": "a long first password", "csrf_token": token},
    )
    assert signed.status_code == 302
    async with engine.connect() as conn:
        entry = (await conn.execute(select(audit_log).where(audit_log.c.action == "admin.create_user"))).one()
    assert "a long first password" not in repr(tuple(entry))


async def test_a_refused_account_says_why_and_creates_nothing(app, engine, staff):
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    response = await post(
        admin,
        "/admin/users",
        email="x@shop.example",
        name="X",
        role="advisor",
        language="fr",
        password="short",
    )
    assert response.status_code == 422
    assert "at least 12 characters" in await response.get_data(as_text=True)
    async with engine.connect() as conn:
        assert (
            await conn.execute(select(users.c.id).where(users.c.email == "x@shop.example"))
        ).first() is None


async def test_disabling_an_account_ends_its_sessions(app, engine, staff):
    advisor = app.test_client()
    await sign_in(advisor, staff["advisor"])
    assert (await advisor.get("/customers")).status_code == 200
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    response = await post(admin, f"/admin/users/{staff['advisor'].id}", role="advisor")  # "active" unchecked
    assert response.status_code == 302
    assert (await advisor.get("/customers")).status_code == 302  # to the sign-in form
    assert (await sign_in(app.test_client(), staff["advisor"])).status_code == 401


async def test_a_new_role_applies_at_once(app, staff):
    operations = app.test_client()
    await sign_in(operations, staff["operations"])
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    await post(admin, f"/admin/users/{staff['operations'].id}", role="advisor", active="1")
    again = app.test_client()
    await sign_in(again, staff["operations"])
    assert (await again.get("/operations")).status_code == 403  # an advisor now


async def test_an_admin_cannot_disable_or_demote_themselves(app, engine, staff):
    admin = app.test_client()
    await sign_in(admin, staff["admin"])
    response = await post(admin, f"/admin/users/{staff['admin'].id}", role="advisor", active="1")
    assert response.status_code == 422
    assert "cannot change your own role" in await response.get_data(as_text=True)
    async with engine.connect() as conn:
        role = (await conn.execute(select(users.c.role).where(users.c.id == staff["admin"].id))).scalar_one()
    assert role == "admin"
