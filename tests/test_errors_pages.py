"""Error answers: a friendly page for people, JSON under /api, never a stack trace."""

from __future__ import annotations

from datetime import date

import pytest
from factories import make_admin, make_user
from pages import text_of

from livelite.extensions import db
from livelite.models import User

SECRET_DETAIL = "db password is hunter2"


class Boom(RuntimeError):
    pass


@pytest.fixture
def broken_app(make_app):
    """An app with routes that raise, added before its first request."""
    app = make_app()

    def explode():
        # A half-done write, to check the error handler rolls it back.
        db.session.add(
            User(
                username="ghost",
                display_name="G",
                email="g@example.com",
                password_hash="x",
                birth_date=date(2000, 1, 1),
            )
        )
        db.session.flush()
        raise Boom(SECRET_DETAIL)

    app.add_url_rule("/boom", "boom", explode)
    app.add_url_rule("/api/v1/boom", "api_boom", explode)
    return app


def test_404_page_is_html_and_friendly(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    text = text_of(response.get_data(as_text=True))
    assert "Not found" in text
    assert "This page does not exist, or it was removed." in text
    assert "Back to LiveLite" in text


def test_404_under_api_is_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "error": {"status": 404, "message": "This page does not exist, or it was removed."}
    }


def test_405_page_and_json(app, client):
    with app.app_context():
        make_admin()
    response = client.get("/logout")
    assert response.status_code == 405
    assert "This action is not allowed here." in text_of(response.get_data(as_text=True))
    assert "POST" in response.headers["Allow"]

    response = client.get("/api/v1/me/password")
    assert response.status_code == 405
    assert response.get_json()["error"] == {"status": 405, "message": "This action is not allowed here."}
    assert "POST" in response.headers["Allow"]


def test_an_exception_gives_a_friendly_500_without_the_traceback(broken_app):
    client = broken_app.test_client()
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Something broke" in text_of(html)
    assert "Something went wrong on our side. Nothing you did; try again in a moment." in text_of(html)
    for leak in ("Traceback", SECRET_DETAIL, "Boom", "explode", ".py"):
        assert leak not in html
    with broken_app.app_context():
        assert db.session.query(User).filter_by(username="ghost").first() is None


def test_an_exception_under_api_is_a_json_500(broken_app):
    response = broken_app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {
            "status": 500,
            "message": "Something went wrong on our side. Nothing you did; try again in a moment.",
        }
    }
    assert SECRET_DETAIL not in response.get_data(as_text=True)


def test_the_exception_is_logged_for_the_operator(broken_app, caplog):
    broken_app.test_client().get("/boom")
    (record,) = [r for r in caplog.records if r.getMessage() == "Unhandled error on GET /boom"]
    assert isinstance(record.exc_info[1], Boom)
    assert str(record.exc_info[1]) == SECRET_DETAIL


def test_domain_errors_become_pages_with_their_status(app, client, auth):
    with app.app_context():
        make_admin()
        make_user("bob")
    auth.login("bob")
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "Only admins can do this." in text_of(response.get_data(as_text=True))


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_reports_a_broken_database(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unavailable"}


HUGE = 10**30  # more digits than a database integer holds


def test_numbers_too_large_for_the_database_are_the_clients_error(app, client):
    """Found by schemathesis against /api/v1/openapi.json: a 30-digit id in a URL, a
    page number or an id in a body reached SQLite and answered 500."""
    from livelite.services import tokens

    with app.app_context():
        admin = make_admin()
        _token, secret = tokens.create_token(admin, "fuzz", ["read", "write"])
    bearer = {"Authorization": f"Bearer {secret}"}

    response = client.patch(f"/api/v1/admin/gifts/{HUGE}", json={"cost": 5}, headers=bearer)
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404
    page = client.get(f"/lives/{HUGE}")
    assert page.status_code == 404
    assert "This page does not exist" in text_of(page.get_data(as_text=True))

    response = client.get(f"/api/v1/earnings?page={HUGE}", headers=bearer)
    assert response.status_code == 422
    assert "page" in response.get_json()["error"]["errors"]

    response = client.post("/api/v1/notifications/read", json={"ids": [HUGE]}, headers=bearer)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "The request could not be understood."
    # Nothing was left half-done: the next request works.
    assert client.get("/api/v1/notifications", headers=bearer).status_code == 200
