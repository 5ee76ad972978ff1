"""The timeline: newest first, filter by kind, load more, notes and pinned notes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.activity import record_activity
from app.tables import customer_activities
from tests.conftest import csrf_token_of
from tests.factories import NOW, add_customer


@pytest.fixture
async def history(engine):
    """A customer with 60 entries, one a minute, alternating calls and visits, newest last."""
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay")
        for index in range(60):
            await record_activity(
                conn,
                customer_id=customer_id,
                kind="call" if index % 2 else "visit",
                summary=f"entry {index}",
                occurred_at=NOW + timedelta(minutes=index),
            )
    return customer_id


def summaries(html: str) -> list[str]:
    return re.findall(r"(entry \d+)(?:</span>)?</p>", html)


async def section(client, customer_id, **params):
    response = await client.get(f"/customers/{customer_id}/sections/activity", query_string=params)
    return response, await response.get_data(as_text=True)


async def test_timeline_is_newest_first_and_loads_more_without_gaps_or_repeats(signed_in, history):
    client = await signed_in("advisor")
    _, html = await section(client, history)
    seen = summaries(html)
    assert seen == [f"entry {index}" for index in range(59, 34, -1)]
    while (match := re.search(r'hx-get="(/customers/\d+/activity\?[^"]+)"', html)) is not None:
        html = await (await client.get(match.group(1).replace("&amp;", "&"))).get_data(as_text=True)
        seen += summaries(html)
    assert seen == [f"entry {index}" for index in range(59, -1, -1)]


async def test_filter_by_kind_keeps_the_filter_across_pages(signed_in, history):
    client = await signed_in("advisor")
    _, html = await section(client, history, kind="visit")
    seen = summaries(html)
    more = re.search(r'hx-get="(/customers/\d+/activity\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert "kind=visit" in more
    seen += summaries(await (await client.get(more)).get_data(as_text=True))
    assert seen == [f"entry {index}" for index in range(58, -1, -2)]
    assert '<option value="visit" selected>' in html


@pytest.mark.parametrize(("params", "name"), [({"kind": "gossip"}, "kind"), ({"cursor": "zzz"}, "cursor")])
async def test_bad_parameters_are_400_naming_them(signed_in, history, params, name):
    client = await signed_in("advisor")
    response = await client.get(
        f"/customers/{history}/sections/activity", query_string=params, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert (await response.get_json())["error"]["message"].startswith(f"{name}:")


async def add_note(client, customer_id, text, *, pinned=False, kind=""):
    form = {"text": text, "csrf_token": await csrf_token_of(client), "kind": kind}
    if pinned:
        form["pinned"] = "1"
    return await client.post(f"/customers/{customer_id}/notes", form=form, headers={"HX-Request": "true"})


async def test_a_note_goes_on_top_of_the_timeline_and_into_the_log(signed_in, history, engine, staff):
    client = await signed_in("advisor")
    response = await add_note(client, history, "Prefers morning appointments")
    assert response.status_code == 200
    html = await response.get_data(as_text=True)
    assert 'hx-swap-oob="afterbegin:#activity-timeline"' in html
    assert "Prefers morning appointments" in html and "Note added." in html
    _, timeline = await section(client, history)
    assert timeline.index("Prefers morning appointments") < timeline.index("entry 59")
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(customer_activities).where(customer_activities.c.kind == "note"))
        ).one()
    assert row.actor_id == staff["advisor"].id and row.customer_id == history


async def test_a_note_is_not_pushed_into_a_timeline_filtered_on_another_kind(signed_in, history):
    client = await signed_in("advisor")
    html = await (await add_note(client, history, "Called back", kind="visit")).get_data(as_text=True)
    assert "hx-swap-oob" not in html


async def test_pinned_notes_stay_on_top(signed_in, history):
    client = await signed_in("advisor")
    await add_note(client, history, "Allergic to air fresheners", pinned=True)
    await add_note(client, history, "Asked about winter tires")
    _, html = await section(client, history)
    pinned_block = html[html.index('id="activity-pinned"') : html.index('id="activity-timeline"')]
    assert "Allergic to air fresheners" in pinned_block
    assert "Asked about winter tires" not in pinned_block


async def test_an_empty_or_oversized_note_is_refused_and_nothing_is_written(signed_in, history, engine):
    client = await signed_in("advisor")
    empty = await add_note(client, history, "   ")
    assert empty.status_code == 422
    assert "the note is empty" in await empty.get_data(as_text=True)
    huge = await add_note(client, history, "x" * 2001)
    assert huge.status_code == 422
    assert "limited to 2000 characters" in await huge.get_data(as_text=True)
    async with engine.connect() as conn:
        notes = (
            await conn.execute(select(func.count()).where(customer_activities.c.kind == "note"))
        ).scalar()
    assert notes == 0


async def test_a_long_note_keeps_its_full_text(signed_in, history):
    client = await signed_in("advisor")
    text = "Long story. " * 60
    await add_note(client, history, text)
    _, html = await section(client, history, kind="note")
    assert text.strip() in html


async def test_operations_cannot_add_notes_and_unknown_customers_are_404(signed_in, history):
    client = await signed_in("operations")
    assert (await add_note(client, history, "hello")).status_code == 403
    admin = await signed_in("admin")
    assert (await add_note(admin, 424242, "hello")).status_code == 404
