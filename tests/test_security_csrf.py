"""CSRF: forms and session-authenticated API writes need the token; bearer tokens do not."""

from __future__ import annotations

import pytest
from factories import make_admin, make_token, make_user
from pages import find_form

from livelite.services import accounts

CSRF_MESSAGE = "Your form expired or was sent from another site. Reload the page and try again."


@pytest.fixture
def people(app):
    with app.app_context():
        make_admin()
        make_user("bob", display_name="Bob")
        make_user("carol", display_name="Carol")
    return app


def follower_count(app, username):
    with app.app_context():
        return accounts.get_by_username(username).follower_count


def display_name(app, username):
    with app.app_context():
        return accounts.get_by_username(username).display_name


def test_form_post_without_token_is_refused_and_changes_nothing(people, client, auth):
    auth.login("carol")
    response = client.post("/@bob/follow")
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert follower_count(people, "bob") == 0

    response = client.post("/settings/profile", data={"display_name": "Hacked", "bio": "pwned"})
    assert response.status_code == 400
    assert display_name(people, "carol") == "Carol"


def test_form_post_with_a_forged_token_is_refused(people, client, auth):
    auth.login("carol")
    response = client.post("/@bob/follow", data={"csrf_token": "forged.token.value"})
    assert response.status_code == 400
    assert follower_count(people, "bob") == 0


def test_a_token_from_another_session_does_not_work(people, client, auth):
    other = people.test_client()
    page = other.get("/@bob").get_data(as_text=True)
    foreign_token = find_form(page, "/language").values()["csrf_token"]
    auth.login("carol")
    response = client.post("/@bob/follow", data={"csrf_token": foreign_token})
    assert response.status_code == 400
    assert follower_count(people, "bob") == 0


def test_form_post_with_the_page_token_works(people, client, auth):
    auth.login("carol")
    form = find_form(client.get("/@bob").get_data(as_text=True), "/@bob/follow")
    assert form.values()["csrf_token"]
    assert client.post("/@bob/follow", data=form.values()).status_code == 302
    assert follower_count(people, "bob") == 1


def test_login_form_also_needs_the_token(people, client):
    response = client.post("/login", data={"login": "bob", "password": "correct horse battery"})
    assert response.status_code == 400
    assert client.get("/api/v1/me").status_code == 401


def test_api_write_with_session_but_no_header_is_refused(people, client, auth):
    auth.login("carol")
    response = client.put("/api/v1/users/bob/follow")
    assert response.status_code == 400
    assert response.get_json() == {"error": {"status": 400, "message": CSRF_MESSAGE}}
    response = client.patch("/api/v1/me", json={"display_name": "Hacked"})
    assert response.status_code == 400
    assert follower_count(people, "bob") == 0
    assert display_name(people, "carol") == "Carol"


def test_api_write_with_session_and_header_works(people, client, auth, csrf_headers):
    auth.login("carol")
    response = client.patch("/api/v1/me", json={"display_name": "Carol C."}, headers=csrf_headers())
    assert response.status_code == 200
    assert response.get_json()["display_name"] == "Carol C."
    assert display_name(people, "carol") == "Carol C."


def test_api_reads_need_no_header(people, client, auth):
    auth.login("carol")
    assert client.get("/api/v1/me").get_json()["username"] == "carol"


def test_bearer_token_needs_no_csrf(people, client):
    with people.app_context():
        secret = make_token(accounts.get_by_username("carol"), scopes=["read", "write"])
    response = client.put("/api/v1/users/bob/follow", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.get_json() == {"following": True, "follower_count": 1}
    assert follower_count(people, "bob") == 1


def test_bearer_token_with_a_session_cookie_still_needs_no_csrf(people, client, auth):
    auth.login("bob")
    with people.app_context():
        secret = make_token(accounts.get_by_username("carol"), scopes=["write"])
    response = client.patch(
        "/api/v1/me", json={"bio": "set by token"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 200
    # The token decides who acts, not the cookie.
    assert response.get_json()["username"] == "carol"


def test_a_bad_token_is_refused_even_with_a_session_cookie(people, client, auth):
    auth.login("bob")
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer ll_not-a-real-token"})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "The token is invalid, expired or revoked."
