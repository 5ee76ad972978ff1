"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from quart_auth import AuthUser, login_user
from werkzeug.exceptions import BadRequest

from app.db import connection
from app.i18n import LANGUAGES, gettext
from app.keys import email_key
from app.users import end_sessions, get_user_for_sign_in, record_sign_in, set_language, verify_password
from app.web import auditing, limits
from app.web.access import READERS, allow, auth_id_for, current_user, public, rotate_csrf_token, sign_out

blueprint = Blueprint("auth", __name__)

MAX_EMAIL_LENGTH = 254
MAX_PASSWORD_LENGTH = 1024


def safe_next(target: str | None) -> str | None:
    """The target if it is a path on this site, else None: never an absolute or scheme-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def landing(target: str | None) -> str:
    return safe_next(target) or url_for("customers.index")


@blueprint.get("/login")
@public
async def login():
    if await current_user() is not None:
        return redirect(landing(request.args.get("next")))
    return await render_template("login.html", next=request.args.get("next", ""), email="", error=None)


@blueprint.post("/login")
@public
@limits.sign_in
async def login_submit():
    form = await request.form
    email = form.get("email", "").strip()
    password = form.get("password", "")
    next_url = form.get("next", "")
    error, status = None, 400
    if not email or not password:
        error = gettext("Enter your email address and your password.")
    elif len(email) > MAX_EMAIL_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        error = gettext("That email address or password is too long.")
    if error is None:
        conn = await connection()
        user, password_hash = await get_user_for_sign_in(conn, email)
        # Always verify (against a dummy hash for unknown addresses): equal time whatever is wrong.
        valid = await verify_password(password_hash, password)
        if valid and user is not None and user.is_active:
            g.user = user  # for the audit entry of this sign-in
            auditing.note("sign_in")
            await record_sign_in(conn, user.id)
            chosen = form.get("language")
            if chosen in LANGUAGES and chosen != user.language:  # the language chosen on the sign-in form
                await set_language(conn, user.id, chosen)
            await conn.commit()
            # Any copy of the account cached in a process is dropped: its language may just have changed.
            await current_app.extensions["hub"].user_changed(user.id)
            rotate_csrf_token()
            login_user(AuthUser(auth_id_for(user)))
            return redirect(landing(next_url))
        error, status = gettext("Wrong email address or password."), 401
    # The address as typed (never the password), so that attempts on one account can be found.
    g.audit_email = email_key(email[:MAX_EMAIL_LENGTH]) if email else None
    auditing.note("sign_in_failed")
    return (
        await render_template("login.html", next=next_url, email=email[:MAX_EMAIL_LENGTH], error=error),
        status,
    )


@blueprint.post("/logout")
@allow(*READERS)
async def logout():
    # Ends every session of this user, not only this browser's: a shared workstation left signed in
    # elsewhere is signed out too.
    conn = await connection()
    await end_sessions(conn, g.user.id)
    await conn.commit()
    sign_out()
    # Their other sessions end, and their open pages' sockets close, at once in every process (within
    # SESSION_CHECK seconds in the others while the broker is down).
    await current_app.extensions["hub"].user_changed(g.user.id)
    return redirect(url_for("auth.login"))


@blueprint.post("/language")
@public
async def choose_language():
    """Switch the interface's language: the account's for a signed-in user (every page, every device), this
    browser's before sign-in."""
    form = await request.form
    language = form.get("language", "")
    if language not in LANGUAGES:
        raise BadRequest(gettext("language: choose fr (Français) or en (English)."))
    session["language"] = language
    user = await current_user()
    if user is not None and user.language != language:
        conn = await connection()
        await set_language(conn, user.id, language)
        await conn.commit()
        await current_app.extensions["hub"].user_changed(user.id)
    fallback = url_for("auth.login" if user is None else "customers.index")
    return redirect(safe_next(form.get("next")) or fallback)
