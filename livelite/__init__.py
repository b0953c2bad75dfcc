"""LiveLite: a self-hosted live-streaming platform. ``create_app`` builds the app."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from werkzeug.routing import IntegerConverter

from livelite import database
from livelite.config import ENV_PREFIX, DefaultConfig, instance_path_from_env, load_secret_key

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "migrations"


class BoundedInt(IntegerConverter):
    """``<int:...>`` that matches only what a database id holds (``MAX_ID``), so a
    30-digit id in a URL is a 404 like any unknown id, not a 500 from the database."""

    def __init__(self, map, *args, **kwargs):
        from livelite.models.base import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI. No network or disk work
    beyond creating the instance folder, its secret key and its VAPID key."""
    instance_path = instance_path_from_env(ROOT / "instance")
    if test_config and "INSTANCE_PATH" in test_config:
        instance_path = Path(test_config["INSTANCE_PATH"])
    instance_path.mkdir(parents=True, exist_ok=True)

    app = Flask(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    _load_config(app, test_config)
    _init_database(app)
    _init_extensions(app)
    # Before any route exists: every <int:...> in a URL is a database id.
    app.url_map.converters["int"] = BoundedInt
    _register_blueprints(app)

    from livelite import cli, errorlog, errors, realtime, security, templating, webpush

    errorlog.init_app(app)  # recent errors for the admin overview
    realtime.init_app(app)
    from livelite.services import room

    room.init_app(app)
    webpush.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    cli.init_app(app)
    return app


def _load_config(app: Flask, test_config: dict | None) -> None:
    config = app.config
    config.from_object(DefaultConfig)
    config.from_pyfile("config.py", silent=True)
    config.from_prefixed_env(ENV_PREFIX)
    if os.environ.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        config.update(test_config)

    if config.get("REDIS_URL"):
        if not config.get("SOCKETIO_MESSAGE_QUEUE"):
            config["SOCKETIO_MESSAGE_QUEUE"] = config["REDIS_URL"]
        if config.get("RATELIMIT_STORAGE_URI", "memory://") == "memory://":
            config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"]
            # While Redis cannot be reached, pages are limited per process instead of
            # failing (logging in must not depend on Redis being up).
            config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
            config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)

    instance = Path(app.instance_path)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = load_secret_key(instance)
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'livelite.db'}"
    config["SQLALCHEMY_DATABASE_URI"] = database.normalise_url(config["SQLALCHEMY_DATABASE_URI"])
    if not config.get("MEDIA_ROOT"):
        config["MEDIA_ROOT"] = str(instance / "media")
    config["SESSION_COOKIE_SECURE"] = config["REMEMBER_COOKIE_SECURE"] = bool(config["HTTPS"])
    config["PREFERRED_URL_SCHEME"] = "https" if config["HTTPS"] else "http"
    config["REMEMBER_COOKIE_DURATION"] = timedelta(days=config["REMEMBER_COOKIE_DURATION_DAYS"])
    config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "translations"))
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault(
            "connect_args", {"timeout": config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}
        )
    elif config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault("connect_args", database.postgres_connect_args(config))


def _init_database(app: Flask) -> None:
    from livelite import models  # noqa: F401  (registers every table)
    from livelite.extensions import db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            busy_ms = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])

            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):
                # WAL lets readers go on while one writer commits; foreign keys are
                # off by default in SQLite; the busy timeout waits for a lock
                # instead of failing at once.
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        elif engine.dialect.name == "postgresql":
            database.make_psycopg_cooperative()


def _init_extensions(app: Flask) -> None:
    from livelite.extensions import api, babel, csrf, limiter, socketio
    from livelite.i18n import select_locale
    from livelite.media.storage import LocalStorage

    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    # Declare the Socket.IO handlers before any server exists: Flask-SocketIO then keeps
    # them and registers them on every app's server. Imported later (with the
    # blueprints), they would be bound to the first app's server only.
    import livelite.blueprints.lives.events
    import livelite.blueprints.notifications.events
    import livelite.blueprints.studio.events  # noqa: F401

    # The SocketIO object outlives an app (tests build many): a Redis queue set up by an
    # earlier app must not stay on for a later one that has none.
    if not app.config["SOCKETIO_MESSAGE_QUEUE"]:
        socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        # Same-origin only: our pages are the only clients allowed to connect.
        cors_allowed_origins=None,
        # A one-second MediaRecorder chunk at the highest allowed bitrate fits.
        max_http_buffer_size=8 * 1024 * 1024,
    )
    app.config.setdefault("OPENAPI_URL_PREFIX", None)  # we serve the document ourselves
    api.init_app(app)
    app.extensions["livelite.storage"] = LocalStorage(app.config["MEDIA_ROOT"])
    from livelite import cluster
    from livelite.media.manager import LiveMedia, RemoteMedia

    cluster.init_app(app)
    # Only the ingest process runs ffmpeg; the others ask it (livelite/cluster.py).
    app.extensions["livelite.media"] = LiveMedia(app) if app.config["INGEST"] else RemoteMedia(app)
    from livelite.services.publishing import PublishRegistry

    registry = app.extensions["livelite.publishing"] = PublishRegistry()
    app.extensions["livelite.media"].listeners.append(
        lambda event, live_id, payload: (
            registry.live_ended(live_id, payload.get("reason", "host")) if event == "live_ended" else None
        )
    )

    def make_replay(event: str, live_id: int, payload: dict) -> None:
        from livelite.services import replays

        replays.on_media_event(app, event, live_id, payload)

    # After the publishing registry: the replay is made once the live's state is settled.
    app.extensions["livelite.media"].listeners.append(make_replay)


def _register_blueprints(app: Flask) -> None:
    from livelite.blueprints import register_all

    register_all(app)
