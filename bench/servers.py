"""Servers side by side: the same application, the same two workers, under Hypercorn (uvloop, the Procfile's),
Uvicorn (uvloop, httptools) and Granian (its Rust HTTP stack, uvloop): the sections' mix as served (the cache
emptied before each) and the trivial route, each at saturation with 32 clients.

Hypercorn writes its access log, as in production; Uvicorn and Granian are run without theirs, which flatters
them a little: the note says what the log costs.
"""

from __future__ import annotations

from bench.load import ADVISOR, closed_loop
from bench.report import Figure, percentile
from bench.sections import CLIENTS, PROCESSES, saturate, section_mix

SERVERS = ("hypercorn", "uvicorn", "granian")


def run(bench) -> list[Figure]:
    urls = section_mix(bench.big)
    results = bench.details["servers"] = {}
    for kind in SERVERS:
        with bench.server(kind) as server:
            bench.empty_cache()
            sections = saturate(bench, server, urls)
            trivial = closed_loop(
                server.base,
                bench.cookies[ADVISOR],
                ["/healthz"],
                clients=CLIENTS,
                processes=PROCESSES,
                warmup=bench.seconds(3),
                seconds=bench.seconds(15),
            )
            results[kind] = {
                "sections": sections,
                "trivial": {
                    "rate": trivial.rate,
                    "errors": trivial.errors,
                    "p50_ms": percentile(trivial.latencies_ms, 50),
                    "p99_ms": percentile(trivial.latencies_ms, 99),
                },
            }
    figures = []
    for kind, result in results.items():
        sections = result["sections"]
        figures.append(
            Figure(
                "Servers (2 workers)",
                f"{kind}: sections as served",
                sections["rate"],
                "req/s",
                note=f"p50 {sections['p50_ms']:.1f} ms, p99 {sections['p99_ms']:.1f} ms; "
                f"trivial route {result['trivial']['rate']:,.0f} req/s",
            )
        )
    return figures
