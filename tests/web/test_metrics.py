"""What operations reads off a running service: /metrics (its guard, and figures that follow what was
served), the request id every request answers and leaves on the events it records, and the JSON lines."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from ipaddress import ip_network

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from app import create_app
from app.logs import JSONFormatter, handling
from app.tables import customer_activities
from tests.conftest import csrf_token_of
from tests.factories import add_customer

METRICS_TOKEN = "m" * 32
SECTION_ROUTE = "/customers/<int:customer_id>/sections/<name>"


@pytest.fixture
async def customer(engine) -> int:
    async with engine.begin() as conn:
        return await add_customer(conn, "Marie", "Tremblay", email="marie@example.ca")


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


LOOPBACK = {"client": ("127.0.0.1", 40000)}
MONITORING = {"client": ("10.0.0.9", 40000)}
ELSEWHERE = {"client": ("203.0.113.9", 40000)}


async def scrape(
    client, token: str | None = None, peer: dict = LOOPBACK
) -> dict[tuple[str, frozenset], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.get("/metrics", headers=headers, scope_base=peer)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")
    return samples(await response.get_data(as_text=True))


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_answer_the_monitoring_token_or_an_allowed_address_and_no_one_else(settings):
    guarded = replace(settings, metrics_token=METRICS_TOKEN, metrics_networks=(ip_network("10.0.0.0/8"),))
    app = create_app(guarded)
    async with app.test_app():
        client = app.test_client()
        for peer in (ELSEWHERE, LOOPBACK):  # loopback is allowed only by default
            refused = await client.get("/metrics", scope_base=peer)
            assert refused.status_code == 403
            assert "METRICS_TOKEN" in await refused.get_data(as_text=True)
        wrong = {"Authorization": "Bearer " + "x" * 32}
        assert (await client.get("/metrics", headers=wrong, scope_base=MONITORING)).status_code == 403
        assert "c360_http_request_duration_seconds" in str(await scrape(client, METRICS_TOKEN, ELSEWHERE))
        await scrape(client, peer=MONITORING)

    by_default = create_app(settings)  # no token: loopback only
    async with by_default.test_app():
        client = by_default.test_client()
        await scrape(client, peer=LOOPBACK)
        assert (await client.get("/metrics", scope_base=ELSEWHERE)).status_code == 403
        assert (await client.get("/metrics", headers=wrong, scope_base=LOOPBACK)).status_code == 403


async def test_a_section_served_is_counted_under_its_route_and_section(signed_in, customer):
    client = await signed_in("advisor")
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get(f"/customers/{customer}/sections/activity")).status_code == 200
    assert (await client.get(f"/customers/{customer}/sections/no-such-section")).status_code == 404
    after = await scrape(client)
    name = "c360_http_request_duration_seconds_count"
    labels = {"method": "GET", "route": SECTION_ROUTE}
    assert (
        value(after, name, **labels, section="activity") - value(before, name, **labels, section="activity")
        == 3
    )
    # A section that does not exist is no label of its own: only known names become label values.
    assert value(after, name, **labels, section="") - value(before, name, **labels, section="") == 1
    assert not any("no-such-section" in str(key) for key in after)
    responses = "c360_http_responses_total"
    assert (
        value(after, responses, route=SECTION_ROUTE, status="404")
        == value(before, responses, route=SECTION_ROUTE, status="404") + 1
    )


async def test_the_figures_cache_counts_its_misses_and_hits(signed_in, customer):
    client = await signed_in("advisor")
    token = await csrf_token_of(client)
    response = await client.post(
        f"/customers/{customer}/notes", form={"text": "An event to key the cache", "csrf_token": token}
    )
    assert response.status_code in (200, 201, 303), await response.get_data(as_text=True)
    before = await scrape(client)
    for _ in range(2):
        assert (await client.get(f"/api/customer360/{customer}/analytics")).status_code == 200
    after = await scrape(client)
    name = "c360_section_cache_lookups_total"
    assert (
        value(after, name, layer="figures", result="miss")
        - value(before, name, layer="figures", result="miss")
        == 1
    )
    assert (
        value(after, name, layer="figures", result="hit") - value(before, name, layer="figures", result="hit")
        == 1
    )


async def test_database_connections_in_use_go_back_to_the_pool_after_each_request(signed_in, customer):
    client = await signed_in("advisor")
    before = await scrape(client)
    for name in ("profile", "activity", "analytics"):
        await client.get(f"/customers/{customer}/sections/{name}")
    after = await scrape(client)
    in_use = "c360_db_connections_in_use"
    assert value(after, in_use, database="primary") == value(before, in_use, database="primary")
    assert value(after, "c360_db_pool_capacity", database="primary") > 0


async def test_every_answer_carries_a_request_id_and_a_sane_one_sent_is_kept(client):
    made = (await client.get("/healthz")).headers["X-Request-ID"]
    assert len(made) == 32 and made != (await client.get("/healthz")).headers["X-Request-ID"]
    sent = "edge-7f3a9c"
    assert (await client.get("/healthz", headers={"X-Request-ID": sent})).headers["X-Request-ID"] == sent
    forged = "<script>" + "a" * 80
    kept = (await client.get("/healthz", headers={"X-Request-ID": forged})).headers["X-Request-ID"]
    assert kept != forged and len(kept) == 32
    assert len((await client.get("/healthz")).headers.get_all("X-Request-ID")) == 1


async def test_the_events_a_request_records_carry_its_id(signed_in, customer, engine):
    client = await signed_in("advisor")
    token = await csrf_token_of(client)
    response = await client.post(
        f"/customers/{customer}/notes",
        form={"text": "Traced note", "csrf_token": token},
        headers={"X-Request-ID": "trace-note-1"},
    )
    assert response.headers["X-Request-ID"] == "trace-note-1"
    async with engine.connect() as conn:
        recorded = await conn.execute(
            select(customer_activities.c.request_id).where(customer_activities.c.summary == "Traced note")
        )
        assert recorded.scalar_one() == "trace-note-1"


def test_a_log_line_is_one_json_object_with_the_request_id_and_no_email_address():
    formatter = JSONFormatter()
    record = logging.LogRecord(
        "app.mailer",
        logging.WARNING,
        __file__,
        1,
        "email %s not delivered: %s",
        (7, "550 <marie@example.ca>"),
        None,
    )
    record.status = 550
    with handling("req-42"):
        line = formatter.format(record)
    entry = json.loads(line)
    assert entry["request_id"] == "req-42"
    assert entry["level"] == "warning" and entry["logger"] == "app.mailer" and entry["status"] == 550
    assert entry["message"] == "email 7 not delivered: 550 <<email>>"
    assert "marie" not in line
    try:
        raise RuntimeError("could not reach marie@example.ca")
    except RuntimeError:
        failed = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "marie" not in (entry := json.loads(formatter.format(failed)))["exception"]
    assert "request_id" not in entry  # outside any request
