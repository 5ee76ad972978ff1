"""Figures, the printed table and the JSON file of a run."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Figure:
    group: str
    name: str
    value: float
    unit: str
    # The target, as text ("≥ 1,000"), and whether this run met it; None when the figure has none.
    target: str | None = None
    met: bool | None = None
    # A floor or comparison beside it ("3.1× the raw SQL").
    note: str = ""


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def at_most(value: float, limit: float) -> bool:
    return not math.isnan(value) and value <= limit


def at_least(value: float, limit: float) -> bool:
    return not math.isnan(value) and value >= limit


def format_value(value: float, unit: str) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100 or unit in ("", "req/s", "events", "sockets"):
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(figures: Sequence[Figure]) -> str:
    rows = [("", "Figure", "Value", "Target", "", "Beside it")]
    group = None
    for figure in figures:
        verdict = "" if figure.met is None else ("met" if figure.met else "MISSED")
        rows.append(
            (
                figure.group if figure.group != group else "",
                figure.name,
                format_value(figure.value, figure.unit),
                figure.target or "",
                verdict,
                figure.note,
            )
        )
        group = figure.group
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(width) if column == 2 else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def machine() -> dict[str, str | int]:
    def first_line(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "memory_gib": round(memory_kib / 1024**2),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mariadb": first_line(["mariadb", "--version"]),
        "redis": first_line(["redis-server", "--version"]),
        "chromium": first_line(["chromium", "--version"]),
    }


def save(figures: Sequence[Figure], details: dict, started: datetime) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    document = {
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "figures": [asdict(figure) for figure in figures],
        "details": details,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
