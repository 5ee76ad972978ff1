"""`python -m bench --profile`: py-spy samples the server's workers during each suite; this reads its files.

The files are py-spy's raw format, one collapsed stack per line with its sample count (what flamegraph.pl,
inferno and speedscope read). The summary names where the workers' time went: the frames that were running
(self time) and the calls that were on the stack (total time), each as a share of the samples.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

# py-spy names a frame "function (path/to/file.py:line)"; the line number is left out of the totals.
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3", "/work/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def summarize(path: Path, top: int = 15) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame_name(frame) for frame in stack.split(";") if not frame.startswith("process ")]
        if not frames:
            continue
        weight = int(count)
        samples += weight
        own[frames[-1]] += weight
        for name in set(frames):
            total[name] += weight
    if not samples:
        return f"{path.name}: no samples"
    lines = [f"{path.name}: {samples:,} samples"]
    for title, counter in (("self", own), ("total", total)):
        lines.append(f"  {title}:")
        lines += [f"    {count / samples:6.1%}  {name}" for name, count in counter.most_common(top)]
    return "\n".join(lines)
