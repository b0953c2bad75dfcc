"""Personal access tokens: created in settings, shown once, hashed, scoped, revocable."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from factories import make_admin, make_token, make_user
from pages import field_errors, find_form, submit, text_of
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import ApiToken
from livelite.models.base import utcnow
from livelite.services import accounts

INVALID = "The token is invalid, expired or revoked."


@pytest.fixture
def people(app):
    with app.app_context():
        make_admin()
        make_user("bob", display_name="Bob")
        make_user("carol", display_name="Carol")
    return app


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def secret_on_page(html: str) -> str | None:
    match = re.search(r'<input id="new-secret"[^>]*value="([^"]+)"', html)
    return match.group(1) if match else None


def test_create_in_settings_shows_the_secret_once_and_stores_only_a_hash(people, client, auth):
    auth.login("bob")
    response = submit(
        client, "/settings/tokens", {"name": "my script", "scopes": ["read", "write"], "expires_in_days": "30"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    secret = secret_on_page(html)
    assert secret and secret.startswith("ll_") and len(secret) > 40
    assert "Copy it now: it will not be shown again." in html
    assert "my script" in text_of(html)

    with people.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert token.prefix == secret[:10]
        assert token.scope_list == ["read", "write"]
        assert token.expires_at - utcnow() > timedelta(days=29)
        stored = [getattr(token, c.key) for c in ApiToken.__table__.columns]
        assert all(secret not in str(value) for value in stored)

    again = client.get("/settings/tokens").get_data(as_text=True)
    assert secret_on_page(again) is None
    assert secret not in again
    assert f"{secret[:10]}…" in again  # the list shows the prefix only
    assert "read, write" in text_of(again)

    body = client.get("/api/v1/me", headers=bearer(secret)).get_json()
    assert body["username"] == "bob"


def test_token_form_errors(people, client, auth):
    auth.login("bob")
    response = submit(client, "/settings/tokens", {"name": "", "scopes": ["read"]})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "name") == ["Name the token."]
    response = submit(client, "/settings/tokens", {"name": "x", "scopes": ["read"], "expires_in_days": "9999"})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "expires_in_days") == ["Expiry is 1 to 3650 days."]
    with people.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_read_token_reads_but_cannot_write(people, client):
    with people.app_context():
        secret = make_token(accounts.get_by_username("bob"), scopes=["read"])
    assert client.get("/api/v1/me", headers=bearer(secret)).get_json()["display_name"] == "Bob"

    response = client.patch("/api/v1/me", json={"display_name": "Changed"}, headers=bearer(secret))
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "This token lacks the “write” scope."
    response = client.put("/api/v1/users/carol/follow", headers=bearer(secret))
    assert response.status_code == 403
    with people.app_context():
        bob = accounts.get_by_username("bob")
        assert bob.display_name == "Bob"
        assert bob.following_count == 0


def test_write_token_without_read_cannot_read(people, client):
    with people.app_context():
        secret = make_token(accounts.get_by_username("bob"), scopes=["write"])
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 403
    response = client.patch("/api/v1/me", json={"bio": "hello"}, headers=bearer(secret))
    assert response.status_code == 200
    assert response.get_json()["bio"] == "hello"


def test_revoked_token_is_401_with_json(people, client, auth):
    with people.app_context():
        secret = make_token(accounts.get_by_username("bob"), name="to revoke")
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200

    auth.login("bob")
    page = client.get("/settings/tokens").get_data(as_text=True)
    (action,) = re.findall(r'action="(/settings/tokens/\d+/revoke)"', page)
    client.post(action, data=find_form(page, action).values())
    assert "No tokens yet." in client.get("/settings/tokens").get_data(as_text=True)

    response = people.test_client().get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 401
    assert response.get_json() == {"error": {"status": 401, "message": INVALID}}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_revoke_through_the_api(people, client):
    with people.app_context():
        bob = accounts.get_by_username("bob")
        keeper = make_token(bob, scopes=["read", "write"], name="keeper")
        doomed = make_token(bob, name="doomed")
    listing = client.get("/api/v1/tokens", headers=bearer(keeper)).get_json()
    assert sorted(t["name"] for t in listing) == ["doomed", "keeper"]
    assert all("secret" not in t and "token_hash" not in t for t in listing)
    doomed_id = next(t["id"] for t in listing if t["name"] == "doomed")

    assert client.delete(f"/api/v1/tokens/{doomed_id}", headers=bearer(keeper)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(doomed)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(keeper)).status_code == 200


def test_someone_elses_token_cannot_be_revoked(people, client):
    with people.app_context():
        carol_secret = make_token(accounts.get_by_username("carol"), scopes=["read", "write"])
        bob = accounts.get_by_username("bob")
        make_token(bob)
        bob_token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == bob.id))
    response = client.delete(f"/api/v1/tokens/{bob_token_id}", headers=bearer(carol_secret))
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "No such token."
    with people.app_context():
        assert db.session.get(ApiToken, bob_token_id) is not None


def test_expired_token_is_401(people, client):
    with people.app_context():
        secret = make_token(accounts.get_by_username("bob"), expires_in_days=1)
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
        token = db.session.scalar(select(ApiToken))
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == INVALID


def test_token_of_a_banned_user_is_401(people, client):
    with people.app_context():
        bob = accounts.get_by_username("bob")
        secret = make_token(bob)
        accounts.set_banned(bob, True)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer garbage", "Bearer ll_", "bearer ll_wrongwrongwrong", "Bearer  ll_a b c"],
)
def test_malformed_or_unknown_bearer_is_401(people, client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == INVALID


@pytest.mark.parametrize("header", ["Basic Ym9iOnB3", "Token ll_abc", "ll_abc"])
def test_other_authorization_schemes_are_not_logins(people, client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "Log in or send a personal access token."


def test_last_used_is_recorded(people, client):
    with people.app_context():
        secret = make_token(accounts.get_by_username("bob"))
    client.get("/api/v1/me", headers=bearer(secret))
    with people.app_context():
        assert db.session.scalar(select(ApiToken.last_used_at)) is not None


def test_a_token_cannot_create_another_token(people, client):
    with people.app_context():
        secret = make_token(accounts.get_by_username("bob"), scopes=["read", "write"])
    response = client.post("/api/v1/tokens", json={"name": "child", "scopes": ["write"]}, headers=bearer(secret))
    assert response.status_code == 403
    assert "not with another token" in response.get_json()["error"]["message"]
    with people.app_context():
        assert db.session.scalar(select(ApiToken.name).where(ApiToken.name == "child")) is None


def test_a_session_can_create_a_token_through_the_api(people, client, auth, csrf_headers):
    auth.login("bob")
    response = client.post(
        "/api/v1/tokens", json={"name": "ci", "scopes": ["read"]}, headers=csrf_headers()
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "ci" and body["scopes"] == ["read"]
    assert people.test_client().get("/api/v1/me", headers=bearer(body["secret"])).get_json()["username"] == "bob"

    response = client.post("/api/v1/tokens", json={"name": "bad", "scopes": ["admin"]}, headers=csrf_headers())
    assert response.status_code == 422
    assert "scopes" in response.get_json()["error"]["errors"]


def test_tokens_are_not_accepted_on_html_pages(people, client):
    with people.app_context():
        secret = make_token(accounts.get_by_username("bob"), scopes=["read", "write"])
    response = client.get("/settings/account", headers=bearer(secret))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    home = client.get("/", headers=bearer(secret)).get_data(as_text=True)
    assert 'aria-label="Account menu"' not in home
    assert 'href="/login' in home
