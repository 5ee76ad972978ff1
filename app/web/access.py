"""Who may reach what: sessions, roles and CSRF, checked before any view runs.

Deny by default: a view is reachable only when it declares its access with @public or @allow(...). A view
that declares nothing answers 403 to everyone, so a forgotten declaration fails closed.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

from jinja2 import pass_context
from quart import (
    Quart,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
    websocket,
)
from quart_auth import AuthUser, QuartAuth, logout_user
from werkzeug.exceptions import Forbidden, RequestEntityTooLarge

from app.db import connection
from app.i18n import N_, format_number, gettext
from app.tables import ROLES
from app.tokens import user_for_token
from app.users import User
from app.web import auditing
from app.web.auditing import UNSAFE_METHODS

F = TypeVar("F", bound=Callable)

# The role matrix: each view allows one of these groups (tests/web/test_access.py holds the whole table).
ROLE_NAMES = (N_("advisor"), N_("operations"), N_("admin"))  # as shown
READERS = ("advisor", "operations", "admin")  # customers, every section, the JSON API's reads
WRITERS = ("advisor", "admin")  # notes, payments, profile, work orders, consents, documents, emails
WATCHERS = ("operations", "admin")  # the shop-wide operations stream
ADMINS = ("admin",)  # staff accounts, privacy requests (export, erasure), the audit trail
GROUPS = {"read": READERS, "write": WRITERS, "watch": WATCHERS, "admin": ADMINS}

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
EVERYONE = "public"


def public(view: F) -> F:
    """Open without a session (sign-in, health checks)."""
    view.access = EVERYONE  # type: ignore[attr-defined]
    return view


def allow(*roles: str) -> Callable[[F], F]:
    """Open to signed-in users with one of these roles."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {ROLES}")

    def decorate(view: F) -> F:
        view.access = frozenset(roles)  # type: ignore[attr-defined]
        return view

    return decorate


def access_of(endpoint: str | None) -> str | frozenset[str] | None:
    """What a registered endpoint declared: EVERYONE, a set of roles, or None (nothing: denied)."""
    if endpoint == "static":
        return EVERYONE
    if endpoint == "openapi":  # quart-schema's document of the JSON API: staff only, like the API
        return frozenset(ROLES)
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "access", None)


@pass_context
def may(context, group: str) -> bool:
    """In templates: whether the user the page is rendered for belongs to a group of the role matrix
    ("write", "watch", "admin"), to show only the forms and links their role can use."""
    user = context.get("user")
    return user is not None and user.role in GROUPS[group]


def auth_id_for(user: User) -> str:
    # The session version is part of the signed cookie: bumping it (sign-out, disabled account) ends every
    # session of that user at once.
    return f"{user.id}:{user.session_version}"


def bearer_token() -> str | None:
    """The API token an HTTP request sends (`Authorization: Bearer …`), if any."""
    if not has_request_context():
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def sign_in_then(target: str | None) -> str:
    """The sign-in form's address, bringing the browser back to `target` once signed in (the form keeps only
    a path of this site)."""
    login = url_for("auth.login")
    return f"{login}?{urlencode({'next': target})}" if target else login


def page_of_htmx_request() -> str | None:
    """The path (and query) of the page an htmx request comes from, which htmx sends as HX-Current-URL."""
    page = urlsplit(request.headers.get("HX-Current-URL", ""))
    if not page.path.startswith("/"):
        return None
    return page.path + (f"?{page.query}" if page.query else "")


def is_api_request() -> bool:
    """Addressed to the JSON API (even at an address it has no route for)."""
    return request.path.startswith("/api/") or request.path == "/openapi.json"


async def current_user() -> User | None:
    """The signed-in user of this request or WebSocket, looked up once and kept on `g`: from the API token
    the request sends, else from the session cookie (its account from the user cache, app.sessions)."""
    if "user" in g:
        return g.user
    g.user = None
    token = bearer_token()
    if token is not None:
        # A request that sends a token is judged by it alone: a bad token never falls back to the cookie.
        # Always read (other modules' calls, revoked from the command line): only sessions use the cache.
        found = await user_for_token(await connection(), token)
        if found is not None:
            g.user, g.api_token = found
        return g.user
    auth_id = QuartAuth_extension().load_user().auth_id
    if auth_id:
        user_id, _, version = auth_id.partition(":")
        if user_id.isdigit() and version.isdigit():
            user = await current_app.extensions["user_cache"].get(int(user_id), connection)
            if user is not None and user.is_active and user.session_version == int(version):
                g.user = user
    return g.user


def QuartAuth_extension() -> QuartAuth:
    return current_app.extensions["QUART_AUTH"][0]


def wants_html() -> bool:
    if request.headers.get("HX-Request") == "true":
        return False
    if request.path.startswith("/api/") or request.path == "/openapi.json":
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html" or not request.accept_mimetypes


def csrf_token() -> str:
    """This browser session's CSRF token (made on first use); forms and htmx requests send it back."""
    if g.get("live_render"):  # a fragment pushed to many pages: htmx sends each page's own token
        return ""
    token = session.get("csrf")
    if token is None:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def rotate_csrf_token() -> None:
    session["csrf"] = secrets.token_urlsafe(32)


# Forms and JSON bodies are small; only uploads carry files (up to the app's MAX_CONTENT_LENGTH).
MAX_BODY_BYTES = 64 * 1024
UPLOAD_ENDPOINTS = frozenset({"documents.upload"})
# Public views that check a bearer token of their own (Prometheus's METRICS_TOKEN), not an API token.
OWN_CREDENTIALS = frozenset({"health.metrics"})


async def check_request():
    """before_request: body size, session, role and CSRF checks for every HTTP request."""
    if request.method in UNSAFE_METHODS and request.endpoint not in UPLOAD_ENDPOINTS:
        size = request.content_length
        if size is None:  # a chunked body says nothing of its size: read it (within MAX_CONTENT_LENGTH)
            size = len(await request.get_data(cache=True))
        if size > MAX_BODY_BYTES:
            raise RequestEntityTooLarge(
                gettext(
                    "The request carries %(size)s bytes; this address takes at most %(limit)d KiB.",
                    size=format_number(size),
                    limit=MAX_BODY_BYTES // 1024,
                )
            )
    access = access_of(request.endpoint)
    if access is None and request.endpoint is not None:
        current_app.logger.error("view %s declares no access; denied", request.endpoint)
        raise Forbidden(gettext("This page is not available."))
    if bearer_token() is not None and not is_api_request() and request.endpoint not in OWN_CREDENTIALS:
        return _refuse(401, gettext("API tokens are accepted by the JSON API (/api/customer360/…) only."))
    if access != EVERYONE:
        user = await current_user()
        if user is None and bearer_token() is not None:
            response = _refuse(
                401, gettext("The API token is not valid (unknown or revoked, or its account is disabled).")
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="customer360", error="invalid_token"'
            return response
        if user is None:
            if request.method == "GET" and wants_html():
                return redirect(sign_in_then(request.full_path.rstrip("?")))
            response = _refuse(401, gettext("Sign in to continue."))
            # htmx takes the page there (a page whose session ended elsewhere), then back to it.
            response.headers["HX-Redirect"] = sign_in_then(page_of_htmx_request())
            return response
        if access is not None and user.role not in access:
            raise Forbidden(
                gettext("Your role (%(role)s) does not give access to this page.", role=gettext(user.role))
            )
    # A token-authenticated request carries no cookie a foreign page could ride on: nothing to forge.
    if request.method in UNSAFE_METHODS and g.get("api_token") is None:
        expected = session.get("csrf")
        sent = request.headers.get(CSRF_HEADER) or (await request.form).get(CSRF_FIELD)
        if not expected or not sent or not hmac.compare_digest(expected, sent):
            return _refuse(
                403,
                gettext(
                    "This form has expired or did not come from this site (missing or wrong CSRF token). "
                    "Reload the page and try again."
                ),
            )
    return None


async def check_websocket():
    """before_websocket: refuse the handshake, before accept, from a foreign page or without a session.
    Every refusal is in the audit trail (a cross-site hijacking attempt looks like a foreign Origin)."""
    refusal = await _websocket_refusal()
    if refusal is not None:
        message, status = refusal
        auditing.note(reason=message, origin=websocket.headers.get("Origin", "")[:200])
        await auditing.write_after_the_fact("websocket.refused", status=status)
    return refusal


async def _websocket_refusal() -> tuple[str, int] | None:
    access = access_of(websocket.endpoint)
    if access is None:
        return "Forbidden", 403
    # Browsers always send Origin on a WebSocket handshake; cookies alone would let any site's page in.
    if websocket.headers.get("Origin") not in current_app.config["SETTINGS"].allowed_origins:
        return "Forbidden origin", 403
    if access == EVERYONE:
        return None
    user = await current_user()
    if user is None:
        return "Sign in to continue", 401
    if user.role not in access:
        return "Forbidden", 403
    return None


def _refuse(status: int, message: str):
    if wants_html():
        return current_app.response_class(message, status=status, mimetype="text/plain")
    from app.web.errors import json_error

    return json_error(status, message)


def sign_out() -> None:
    logout_user()
    session.clear()


def init_app(app: Quart) -> None:
    auth = QuartAuth(app, user_class=AuthUser)
    # Quart-Auth offers templates `current_user` through a synchronous context processor, which Quart runs on
    # a thread pool for every template rendered (a page, a section, each pushed fragment); no template reads
    # it: they have `user`, from signed_in_user below.
    app.template_context_processors[None].remove(auth._template_context)
    app.before_request(check_request)
    app.before_websocket(check_websocket)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["may"] = may

    app.after_request(add_security_headers)

    @app.context_processor
    async def signed_in_user():
        return {"user": g.get("user")}


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


async def add_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.mimetype == "text/html" or request.endpoint not in (None, "static"):
        # Pages and partials hold personal data: never kept by shared caches or the back button.
        headers.setdefault("Cache-Control", "no-store")
    return response
