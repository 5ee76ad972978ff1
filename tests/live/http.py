"""Signing in to a real server (`customer360 serve` in a subprocess) over HTTP, as a browser would."""

from __future__ import annotations

import asyncio
import re

import aiohttp


async def sign_in(session: aiohttp.ClientSession, base: str, email: str, password: str) -> None:
    """Wait for the server to answer (up to 30 s), then sign in with the sign-in form and its CSRF token."""
    for _ in range(300):
        try:
            async with session.get(f"{base}/login") as response:
                page = await response.text()
            break
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"email": email, "password": password, "csrf_token": token}
    async with session.post(f"{base}/login", data=form, allow_redirects=False) as response:
        assert response.status == 302
