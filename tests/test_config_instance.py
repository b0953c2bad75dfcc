"""Configuration: the instance folder, the secret key, overrides, SQLite pragmas."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import flask_migrate
import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from factories import PASSWORD, make_admin, make_user
from pages import submit
from postgres_support import only_sqlite
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from livelite import ROOT, create_app
from livelite.config import DefaultConfig
from livelite.extensions import db
from livelite.models import Follow
from livelite.services.settings import get_setting


@pytest.fixture
def env_app(monkeypatch):
    """``create_app()`` as ``python app.py`` calls it, configured through the environment."""
    monkeypatch.setenv("LIVELITE_SOCKETIO_ASYNC_MODE", "threading")
    apps = []

    def make():
        app = create_app()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_instance_path_variable_moves_database_media_and_secret(env_app, monkeypatch, tmp_path):
    folder = tmp_path / "elsewhere" / "data"
    monkeypatch.setenv("LIVELITE_INSTANCE_PATH", str(folder))
    app = env_app()

    assert Path(app.instance_path) == folder.resolve()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{folder.resolve() / 'livelite.db'}"
    assert Path(app.config["MEDIA_ROOT"]) == folder.resolve() / "media"
    assert (folder / "media").is_dir()
    key_file = folder / "secret_key"
    assert key_file.read_text() == app.config["SECRET_KEY"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    with app.app_context():
        flask_migrate.upgrade()
        make_admin()
    assert (folder / "livelite.db").stat().st_size > 0


def test_instance_path_is_expanded(env_app, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LIVELITE_INSTANCE_PATH", "~/livelite-data")
    assert Path(env_app().instance_path) == (tmp_path / "livelite-data").resolve()


def test_secret_key_is_kept_across_restarts_and_differs_per_instance(env_app, monkeypatch, tmp_path):
    monkeypatch.setenv("LIVELITE_INSTANCE_PATH", str(tmp_path / "one"))
    first = env_app().config["SECRET_KEY"]
    second = env_app().config["SECRET_KEY"]
    assert first == second
    assert len(first) == 64

    monkeypatch.setenv("LIVELITE_INSTANCE_PATH", str(tmp_path / "two"))
    assert env_app().config["SECRET_KEY"] != first


def test_a_session_survives_a_restart(make_app, tmp_path):
    instance = tmp_path / "kept"
    app = make_app(INSTANCE_PATH=instance)
    with app.app_context():
        make_admin()
        make_user("bob")
    client = app.test_client()
    submit(client, "/login", {"login": "bob", "password": PASSWORD})
    restarted = make_app(INSTANCE_PATH=instance)
    cookie = client.get_cookie("session")
    other = restarted.test_client()
    other.set_cookie("session", cookie.value)
    assert other.get("/api/v1/me").get_json()["username"] == "bob"


def test_secret_key_is_never_in_the_repository():
    assert not hasattr(DefaultConfig, "SECRET_KEY")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "instance"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == ["instance/README.md"]
    for path in ("instance/secret_key", "instance/livelite.db", "instance/media/avatars/x/avatar.jpg"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{path} is not git-ignored"


def test_port_and_https_from_the_environment(env_app, monkeypatch, tmp_path):
    monkeypatch.setenv("LIVELITE_INSTANCE_PATH", str(tmp_path))
    app = env_app()
    assert app.config["PORT"] == 5000
    assert app.config["SESSION_COOKIE_SECURE"] is False

    monkeypatch.setenv("LIVELITE_PORT", "8123")
    monkeypatch.setenv("LIVELITE_HTTPS", "true")
    app = env_app()
    assert app.config["PORT"] == 8123
    assert app.config["HTTPS"] is True
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["PREFERRED_URL_SCHEME"] == "https"


def test_instance_config_file_is_read_and_the_environment_wins(env_app, monkeypatch, tmp_path):
    monkeypatch.setenv("LIVELITE_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text("PORT = 6001\nLIVE_MIN_FOLLOWERS = 7\nHOST = '192.0.2.1'\n")
    app = env_app()
    assert (app.config["PORT"], app.config["LIVE_MIN_FOLLOWERS"], app.config["HOST"]) == (6001, 7, "192.0.2.1")

    monkeypatch.setenv("LIVELITE_PORT", "6002")
    assert env_app().config["PORT"] == 6002


def test_instance_config_default_feeds_site_settings(make_app, tmp_path):
    instance = tmp_path / "configured"
    instance.mkdir()
    (instance / "config.py").write_text("MIN_AGE = 18\n")
    app = make_app(INSTANCE_PATH=instance)
    with app.app_context():
        assert get_setting("MIN_AGE") == 18


# --- SQLite -----------------------------------------------------------------------


def pragma(conn, name):
    return conn.execute(text(f"PRAGMA {name}")).scalar()


@only_sqlite
def test_sqlite_pragmas_are_set_on_every_connection(app):
    with app.app_context():
        assert pragma(db.session, "journal_mode") == "wal"
        assert pragma(db.session, "foreign_keys") == 1
        assert pragma(db.session, "busy_timeout") == 5000
        # A second, brand-new connection gets them too.
        with db.engine.connect() as one, db.engine.connect() as two:
            for conn in (one, two):
                assert pragma(conn, "foreign_keys") == 1
                assert pragma(conn, "busy_timeout") == 5000
                assert pragma(conn, "journal_mode") == "wal"


@only_sqlite
def test_busy_timeout_follows_the_config(make_app):
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=1234)
    with app.app_context():
        assert pragma(db.session, "busy_timeout") == 1234


def test_foreign_keys_are_enforced(app):
    with app.app_context():
        admin = make_admin()
        db.session.add(Follow(follower_id=admin.id, followed_id=999_999))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_schema_comes_from_the_migrations(app):
    config = AlembicConfig()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    with app.app_context():
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() == head


def test_processes_starting_together_on_a_new_instance_agree_on_one_secret_key(tmp_path):
    import threading

    from livelite.config import load_secret_key

    keys, barrier = [], threading.Barrier(8)

    def start():
        barrier.wait()
        keys.append(load_secret_key(tmp_path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary left
