"""Growth: does a section slow down as a history or a table grows?

Each section is asked for one request at a time (its own time, nothing queued), with no cached copy (so it is
read and rendered each time, whatever the cache would have served), for a customer with about 50
activities and for the fleet customer with 50,000, in the production-size database; then for a 50-activity
customer in a database of 1,000 customers (about 50 thousand activity rows) against the same in the one of
100,000 (about 5 million). Keyset pages and index-backed queries should make the ratios close to 1.
"""

from __future__ import annotations

from bench.load import ADVISOR, one_by_one
from bench.report import Figure, at_most, percentile
from bench.sections import NO_CACHE, SECTIONS

TARGET_RATIO = 1.2
# The sections that read the activity log; the others read the customer's invoices, vehicles and so on, which
# the two customers have in different numbers: their ratios are shown, without a target.
READ_THE_LOG = ("activity", "analytics")


def section_times(bench, base: str, customer: int) -> dict[str, float]:
    """p50 (ms) of each section of `customer`'s page."""
    count = 60 if bench.quick else 300
    cookie = bench.cookies[ADVISOR]
    return {
        name: percentile(
            one_by_one(base, cookie, f"/customers/{customer}/sections/{name}", count=count, headers=NO_CACHE),
            50,
        )
        for name in SECTIONS
    }


def run(bench) -> list[Figure]:
    with bench.server() as server:
        typical = section_times(bench, server.base, bench.big.typical)
        heavy = section_times(bench, server.base, bench.big.heavy)
    with bench.server(data=bench.small) as server:
        small_table = section_times(bench, server.base, bench.small.typical)
    bench.details["growth"] = {
        "customers": {"typical": bench.big.typical, "heavy": bench.big.heavy, "small": bench.small.typical},
        "p50_ms": {"50 activities": typical, "50,000 activities": heavy, "50k-row table": small_table},
    }
    return ratios("Growth: 50 → 50,000 activities", typical, heavy, targeted=READ_THE_LOG) + ratios(
        "Growth: 50 thousand → 5 million rows", small_table, typical, targeted=()
    )


def ratios(group: str, before: dict[str, float], after: dict[str, float], *, targeted) -> list[Figure]:
    """Each section's p50 after over before; the sections in `targeted` are held to TARGET_RATIO."""
    figures = []
    for name in SECTIONS:
        ratio = after[name] / before[name]
        held = name in targeted
        figures.append(
            Figure(
                group,
                name,
                ratio,
                "×",
                f"≤ {TARGET_RATIO}×" if held else None,
                at_most(ratio, TARGET_RATIO) if held else None,
                f"{before[name]:.2f} → {after[name]:.2f} ms",
            )
        )
    return figures
