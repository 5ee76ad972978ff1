"""What every process does for every event, reading it and rendering what it pushes, leaves no work for the
garbage collector: a reference cycle per event is a steady stream of garbage, and the young collections that
free it pause the process (BENCHMARKS.md)."""

from __future__ import annotations

import gc
from types import FunctionType

from sqlalchemy.sql.elements import BindParameter

from app.activity import load_live_entries_by_id, record_activity
from app.live.render import Viewer, render_customer_event, render_stream_event
from tests.factories import add_customer


def left_in_cycles(found: object) -> bool:
    """Werkzeug's URL matcher (a recursive closure per match) and SQLAlchemy's bind parameters of a statement
    built per call: the two kinds of garbage these paths made."""
    matcher = isinstance(found, FunctionType) and "Matcher.match" in found.__qualname__
    return matcher or isinstance(found, BindParameter)


async def test_reading_and_rendering_an_event_leaves_no_cycles(app, engine):
    async with engine.begin() as conn:
        customer_id = await add_customer(conn, "Marie", "Tremblay")
        event_id = await record_activity(conn, customer_id=customer_id, kind="note", summary="Brakes checked")
    viewers = {Viewer("advisor", "en"), Viewer("operations", "fr")}
    async with engine.connect() as conn:
        (entry,) = await load_live_entries_by_id(conn, [event_id])
        first = await render_customer_event(app, conn, entry, viewers)  # the first render matches "/"
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(3):
                (entry,) = await load_live_entries_by_id(conn, [event_id, event_id + 1])
                again = await render_customer_event(app, conn, entry, viewers)
                await render_stream_event(app, conn, entry, viewers)
            gc.collect()
            cycles = [found for found in gc.garbage if left_in_cycles(found)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert cycles == []
    assert again == first and "Brakes checked" in first[Viewer("advisor", "en")]
