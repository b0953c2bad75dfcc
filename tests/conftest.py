"""Fixtures: an app per test with its own instance folder and a database migrated once
per session, a client, a CLI runner, and an ``auth`` helper that uses the real forms."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import flask_migrate
import pytest
from factories import PASSWORD
from flask.cli import FlaskGroup
from pages import find_form, meta_csrf_token, submit
from postgres_support import ON_POSTGRES, SERVER_URL, PostgresDatabases
from werkzeug import security as werkzeug_security

from livelite import create_app
from livelite.extensions import db

# Where make_app notes the PostgreSQL database of an instance folder.
POSTGRES_MARKER = "postgres-database"

BASE_CONFIG = {
    "TESTING": True,
    "RATELIMIT_ENABLED": False,
    "SOCKETIO_ASYNC_MODE": "threading",
    "WTF_CSRF_ENABLED": True,
    # Viewer counts go out at once (still only when they change); the one-a-second
    # pacing has a test of its own.
    "VIEWERS_BROADCAST_SECONDS": 0,
}


def _in_e2e(request) -> bool:
    # The browser tests drive a real server process with fixtures of their own.
    return "e2e" in request.node.path.relative_to(Path(__file__).parent).parts


@pytest.fixture(autouse=True)
def _clean_environment(request, monkeypatch):
    """Variables from the machine running the tests must not change the app under test."""
    if _in_e2e(request):
        return
    for name in list(os.environ):
        if name.startswith("LIVELITE_") or name in ("DATABASE_URL", "HTTPS"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, monkeypatch):
    """scrypt takes ~150 ms per hash; tests use a cheap PBKDF2 unless marked real_hashing.

    check_password_hash reads the method from the stored hash, so logins still verify.
    """
    if "real_hashing" in request.keywords or _in_e2e(request):
        return
    fast = partial(werkzeug_security.generate_password_hash, method="pbkdf2:sha256:1")
    monkeypatch.setattr("livelite.services.accounts.generate_password_hash", fast)


def pytest_configure(config):
    config.addinivalue_line("markers", "real_hashing: keep the app's real (slow) password hashing")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (scripts/test.sh runs ``-n auto --dist loadgroup``), every
    browser test goes to one worker: they share session servers and Chromium, and two
    Chromiums racing each other on a small machine only make waits flaky. The other
    workers run the rest meanwhile."""
    for item in items:
        if "e2e" in item.path.relative_to(Path(__file__).parent).parts:
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    """This process's databases on the server named by LIVELITE_TEST_DATABASE_URL."""
    databases = PostgresDatabases(SERVER_URL)
    databases.drop_stale()
    yield databases
    databases.drop_mine()


@pytest.fixture(scope="session")
def migrated_db(request, tmp_path_factory) -> Path | str:
    """A database built by the real migrations, once per session (per xdist worker);
    tests copy it. On SQLite a file (its path); on PostgreSQL a template database (its
    name)."""
    folder = tmp_path_factory.mktemp("template-instance")
    if ON_POSTGRES:
        postgres = request.getfixturevalue("postgres")
        name = postgres.new_name() + "_template"
        app = create_app(
            {**BASE_CONFIG, "INSTANCE_PATH": folder, "SQLALCHEMY_DATABASE_URI": postgres.create(name)}
        )
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
        return name
    app = create_app({**BASE_CONFIG, "INSTANCE_PATH": folder})
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    path = folder / "livelite.db"
    # Fold the write-ahead log into the main file so one file is the whole database.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.fixture
def make_app(request, tmp_path, migrated_db):
    """Build an app on a fresh copy of the migrated database: ``make_app(**config)``.

    Each call gets its own instance folder unless ``INSTANCE_PATH`` is given; apps on
    one instance folder share its database (a restart). On PostgreSQL the instance's
    ``config.py`` names the instance's database, so an app created any other way on
    that folder (``create_app``, a server in a subprocess) finds it too.
    """
    apps = []
    databases: list[str] = []

    def factory(**overrides):
        default = tmp_path if not apps else tmp_path / f"instance{len(apps)}"
        instance = Path(overrides.pop("INSTANCE_PATH", default))
        instance.mkdir(parents=True, exist_ok=True)
        if ON_POSTGRES:
            marker = instance / POSTGRES_MARKER
            if not marker.exists():
                postgres = request.getfixturevalue("postgres")
                name = postgres.new_name()
                url = postgres.create(name, template=migrated_db)
                databases.append(name)
                with (instance / "config.py").open("a") as config_file:
                    config_file.write(f"\nSQLALCHEMY_DATABASE_URI = {url!r}\n")
                marker.write_text(name)
        elif not (instance / "livelite.db").exists():
            shutil.copyfile(migrated_db, instance / "livelite.db")
        app = create_app({**BASE_CONFIG, "INSTANCE_PATH": instance, **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if databases:
        postgres = request.getfixturevalue("postgres")
        for name in databases:
            postgres.drop(name)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    """Runs commands through Flask's own ``flask`` group, as ``flask --app app ...`` does
    (it pushes the app context that the commands rely on)."""
    cli_runner = app.test_cli_runner()
    flask_cli = FlaskGroup(create_app=lambda: app, load_dotenv=False, set_debug_flag=False)
    cli_runner.invoke = partial(cli_runner.invoke, flask_cli)
    return cli_runner


class AuthActions:
    """Register, log in and log out through the real pages, CSRF token included."""

    def __init__(self, client):
        self._client = client

    def register(
        self,
        username="alice",
        *,
        display_name="Alice",
        email=None,
        password=PASSWORD,
        birth_date="1990-05-17",
        **kwargs,
    ):
        data = {
            "username": username,
            "display_name": display_name,
            "email": email if email is not None else f"{username}@example.com",
            "password": password,
            "birth_date": birth_date,
        }
        return submit(self._client, "/register", data, **kwargs)

    def login(self, login="alice", password=PASSWORD, *, remember=False, **kwargs):
        data = {"login": login, "password": password}
        if remember:
            data["remember"] = "y"
        return submit(self._client, "/login", data, **kwargs)

    def logout(self, **kwargs):
        """The "Log out" button of the account menu."""
        form = find_form(self._client.get("/").get_data(as_text=True), "/logout")
        return self._client.post("/logout", data=form.values(), **kwargs)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def csrf_headers(client):
    """Headers for an API write from the browser session: ``csrf_headers()``."""

    def make(page: str = "/") -> dict[str, str]:
        token = meta_csrf_token(client.get(page).get_data(as_text=True))
        return {"X-CSRFToken": token}

    return make


@pytest.fixture
def avatar_jpeg() -> bytes:
    """A 640x480 colour JPEG, made here with OpenCV."""
    import cv2
    import numpy as np

    image = np.zeros((480, 640, 3), dtype=np.uint8)
    image[:, :, 0] = np.linspace(0, 255, 640, dtype=np.uint8)  # a blue gradient
    cv2.circle(image, (320, 240), 120, (0, 200, 255), -1)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()
