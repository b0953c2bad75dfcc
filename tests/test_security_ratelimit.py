"""Rate limits on logging in and registering (the suite's other apps have them off)."""

from __future__ import annotations

import pytest
from factories import PASSWORD, make_admin, make_user
from pages import find_form, flashes, text_of

FRIENDLY = "Too many attempts. Wait a moment and try again."


@pytest.fixture
def limited_app(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    with app.app_context():
        make_admin()
        make_user("bob")
    return app


def test_eleventh_login_in_a_minute_gets_429(limited_app):
    client = limited_app.test_client()
    form = find_form(client.get("/login").get_data(as_text=True)).values()
    for attempt in range(10):
        response = client.post("/login", data={**form, "login": "bob", "password": f"guess {attempt}"})
        assert response.status_code == 200, f"attempt {attempt + 1}"
        assert flashes(response.get_data(as_text=True)) == ["Incorrect username or password."]

    response = client.post("/login", data={**form, "login": "bob", "password": PASSWORD})
    assert response.status_code == 429
    text = text_of(response.get_data(as_text=True))
    assert "Slow down" in text
    assert FRIENDLY in text
    assert "Retry-After" in response.headers
    assert client.get("/api/v1/me").status_code == 401  # even the right password was not tried

    # Reading the page and other routes still work.
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_the_limit_is_per_address(limited_app):
    client = limited_app.test_client()
    form = find_form(client.get("/login").get_data(as_text=True)).values()
    for _ in range(11):
        client.post("/login", data={**form, "login": "bob", "password": "nope nope"})
    other = limited_app.test_client()
    other_form = find_form(other.get("/login").get_data(as_text=True)).values()
    response = other.post(
        "/login",
        data={**other_form, "login": "bob", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert response.status_code == 302


def test_api_registration_is_limited_with_a_json_429(limited_app):
    client = limited_app.test_client()
    token = find_form(client.get("/login").get_data(as_text=True)).values()["csrf_token"]
    statuses = [
        client.post("/api/v1/accounts", json={}, headers={"X-CSRFToken": token}).status_code for _ in range(6)
    ]
    assert statuses[:5] == [422] * 5
    assert statuses[5] == 429
    response = client.post("/api/v1/accounts", json={}, headers={"X-CSRFToken": token})
    assert response.get_json() == {"error": {"status": 429, "message": FRIENDLY}}
