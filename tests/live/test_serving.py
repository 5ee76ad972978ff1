"""The garbage collector of a serving process: what it made before serving is never walked again, and every
full collection's pause is in the metrics."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import aiohttp

from tests.live.http import sign_in


def test_a_serving_process_never_walks_what_it_made_before_serving_again():
    """In a process of its own: the test run's collector is left as it is."""
    probe = (
        "import gc, json; from app import create_app; from app.serving import watch_garbage_collector; "
        "create_app(); frozen = gc.get_freeze_count(); watch_garbage_collector(); "
        "print(json.dumps([frozen, gc.get_freeze_count()]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    frozen_before, frozen_after = json.loads(done.stdout)
    assert frozen_before == 0 and frozen_after > 50_000  # the modules, the app and all it made


async def test_a_served_process_reports_its_collections_and_their_pauses(serving):
    _, base = serving
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await sign_in(session, base, "ops@shop.example", "a long passphrase")  # once it answers
        async with session.get(f"{base}/metrics") as response:
            text = await response.text()
    full = re.search(r"^c360_gc_full_collection_seconds_count (\S+)$", text, re.MULTILINE)
    assert full is not None and float(full[1]) >= 1  # the one before serving, at least
