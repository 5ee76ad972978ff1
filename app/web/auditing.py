"""Where a request comes from (address, request id), and the audit trail kept of what it did.

Every unsafe request (a write, a sign-in, a sign-out) is recorded once it is answered, with its outcome,
whether it was carried out or refused; so is any request refused for its role (403), and any WebSocket
handshake refused. Views add what only they know (the account a sign-in was for, what an export held)
with `note()`. The entry commits on its own, once the request has given its connection back (rolled back if
it left anything uncommitted): a refused request leaves its trace even though everything it tried to write
was rolled back.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any

from quart import Quart, current_app, g, has_request_context, request, websocket

from app import audit, logs
from app.db import autocommit, release_connection

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def current() -> Any:
    return request if has_request_context() else websocket


def client_address() -> str | None:
    """The client's address: the peer's, or, when the peer is a trusted proxy (TRUSTED_PROXIES), the last
    address in X-Forwarded-For that is not one of our proxies. Without trusted proxies the header is ignored:
    anyone can send it."""
    peer = current().remote_addr
    trusted = current_app.config["SETTINGS"].trusted_proxies
    if not peer or not trusted or not in_networks(peer, trusted):
        return peer
    forwarded = [part.strip() for part in current().headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([part for part in forwarded if part]):
        if not in_networks(hop, trusted):
            return hop if _address(hop) is not None else peer
    return peer


def _address(text: str):
    try:
        return ip_address(text)
    except ValueError:
        return None


def in_networks(text: str, networks) -> bool:
    """Whether `text` is an IP address in one of `networks` (a proxy we trust, a monitoring host)."""
    address = _address(text)
    return address is not None and any(address in network for network in networks)


def note(action: str | None = None, **details: Any) -> None:
    """Set this request's audit action (instead of its endpoint's name) and add details to its entry."""
    if action is not None:
        g.audit_action = action
    g.setdefault("audit_details", {}).update(details)


async def write(action: str, *, status: int | None, actor_email: str | None = None) -> None:
    user = g.get("user")
    view_args = current().view_args or {}
    details = {**g.get("audit_details", {}), "method": current().method, "path": current().path}
    if status is not None:
        details["status"] = status
    if g.get("api_token"):
        details["token"] = g.api_token  # the token's name, never the token
    customer_id = view_args.get("customer_id")
    entry = dict(
        user_id=user.id if user else None,
        actor_email=actor_email or g.get("audit_email") or (user.email if user else None),
        target_type="customer" if customer_id is not None else None,
        target_id=customer_id,
        ip_address=client_address(),
        request_id=logs.request_id(),
        details=details,
    )
    # The request is done with its connection: back to the pool first (whatever it left uncommitted is
    # rolled back, not kept with the entry), so that the two are never held at once; holding one while
    # waiting for the other could stall every request once the pools are busy. Then the entry alone, in
    # autocommit: one round trip, where a transaction of its own on the request's connection took two.
    # (Run once more if the database dropped the connection: should the first INSERT have landed before
    # the drop, the trail shows the request twice, under one request id, rather than not at all.)
    await release_connection()
    await autocommit(lambda conn: audit.record(conn, action, **entry))


async def write_after_the_fact(action: str, *, status: int | None) -> None:
    """`write`, once the outcome is decided: an entry that cannot be written (the database gone) is logged,
    and the request, refusal or close goes on as decided; it must not become a 500 or a handshake error."""
    try:
        await write(action, status=status)
    except Exception:
        current_app.logger.exception(
            "could not write the audit entry %s of %s %s", action, current().method, current().path
        )


async def record_request(response):
    """after_request: the audit entry of a write or a refusal."""
    if request.method in UNSAFE_METHODS or response.status_code == 403 or g.get("audit_action"):
        action = g.get("audit_action") or request.endpoint or "unknown"
        if response.status_code >= 400 and not g.get("audit_action"):
            action = f"{action}.refused"
        await write_after_the_fact(action, status=response.status_code)
    return response


def init_app(app: Quart) -> None:
    app.after_request(record_request)
