"""Customer 360: create_app() builds the Quart application from the environment's settings."""

from __future__ import annotations

import sys
from datetime import timedelta

from quart import Quart
from werkzeug.routing import IntegerConverter

from app import db, i18n, jobs, mailer, metrics
from app.cache import SectionCache
from app.config import ConfigError, Settings
from app.customers import MAX_ID
from app.live.broker import create_broker
from app.live.hub import Hub
from app.logs import RequestIdMiddleware
from app.sessions import UserCache
from app.web import access, auditing, errors, filters, limits, summaries


class RowIdConverter(IntegerConverter):
    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(settings: Settings | None = None) -> Quart:
    if settings is None:
        try:
            settings = Settings.from_env()
        except ConfigError as exc:
            # Hypercorn imports this factory: one line naming the variable, not a traceback.
            print(f"customer360: configuration error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    app = Quart(__name__, template_folder="../templates", static_folder="../static")
    # Ids in URLs are 64-bit rows ids: a bigger number names nothing (404), rather than overflow a driver.
    app.url_map.converters["int"] = RowIdConverter
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        SESSION_COOKIE_NAME="c360_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        QUART_AUTH_COOKIE_NAME="c360_auth",
        QUART_AUTH_COOKIE_SECURE=settings.is_production,
        QUART_AUTH_COOKIE_SAMESITE="Lax",
        QUART_AUTH_DURATION=int(timedelta(days=7).total_seconds()),
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
        TEMPLATES_AUTO_RELOAD=not settings.is_production,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    engine = db.create_engine(settings.database_url)
    metrics.watch_pool(engine, "primary")
    autocommit_engine = db.create_engine(settings.database_url, autocommit=True)
    metrics.watch_pool(autocommit_engine, "primary-autocommit")
    read_engine = None
    if settings.database_read_url is not None:
        read_engine = db.create_engine(settings.database_read_url)
        metrics.watch_pool(read_engine, "replica")
    db.init_app(app, engine, autocommit_engine, read_engine)
    broker = create_broker(settings.redis_url)
    app.extensions["broker"] = broker
    user_cache = UserCache()
    app.extensions["user_cache"] = user_cache
    hub = Hub(app, engine, broker, user_cache)
    app.extensions["hub"] = hub
    app.extensions["section_cache"] = SectionCache(broker)

    # First: its clock starts before the other hooks run.
    metrics.init_app(app)
    access.init_app(app)
    auditing.init_app(app)
    limits.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    summaries.init_app(app)
    i18n.init_app(app)
    mailer.init_app(app)
    jobs.init_app(app, engine, broker)

    from app.web import (
        activity,
        admin,
        api,
        auth,
        consents,
        customers,
        documents,
        emails,
        health,
        invoices,
        live,
        privacy,
        profile,
        work_orders,
    )

    for module in (
        auth,
        health,
        customers,
        activity,
        profile,
        work_orders,
        invoices,
        documents,
        consents,
        emails,
        live,
        admin,
        privacy,
    ):
        app.register_blueprint(module.blueprint)
    app.asgi_websocket_class = live.SocketConnection
    api.init_app(app)
    # Registering a blueprint gives it Flask's default template context processor, which reads Flask's
    # request context (never set under Quart) and is synchronous: Quart ran it on its thread pool for every
    # template rendered in a blueprint's request, each section and page included.
    for chain in app.template_context_processors.values():
        chain[:] = [processor for processor in chain if processor.__module__ != "flask.templating"]

    @app.before_serving
    async def start_services() -> None:
        await broker.start()
        await hub.start()

    @app.after_serving
    async def stop_services() -> None:
        await hub.stop()
        await broker.close()
        await engine.dispose()
        await autocommit_engine.dispose()
        if read_engine is not None:
            await read_engine.dispose()

    # Outermost: the request id is set before anything of the request runs, and every task inherits it.
    app.asgi_app = RequestIdMiddleware(app.asgi_app)
    return app
