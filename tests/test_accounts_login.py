"""Logging in and out, remember me, password change (session rotation), deleting an account."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import PASSWORD, make_admin, make_token, make_user
from pages import field_errors, find_form, flashes, submit, text_of
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import ApiToken, Follow, User
from livelite.services import accounts

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def people(app):
    """@siteadmin (admin), @bob and @carol (members); returns their usernames."""
    with app.app_context():
        make_admin()
        make_user("bob", display_name="Bob Builder", email="bob@example.com")
        make_user("carol", email="carol@example.com")
    return app


def logged_in_as(client) -> str | None:
    """The username the account menu shows, or None for a visitor."""
    html = client.get("/settings/account").get_data(as_text=True)
    if "Account settings" not in html:
        return None
    return text_of(html).split("Username @", 1)[1].split()[0]


@pytest.mark.parametrize("login", ["bob", "BOB", "@bob", "bob@example.com", "Bob@Example.com", "  bob  "])
def test_login_by_username_or_email(people, client, auth, login):
    response = auth.login(login)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert logged_in_as(client) == "bob"


@pytest.mark.parametrize(
    ("login", "password"),
    [("bob", "wrong password"), ("nobody", PASSWORD), ("bob@example.com", ""), ("", PASSWORD)],
)
def test_wrong_credentials_show_one_message_and_do_not_log_in(people, client, auth, login, password):
    response = auth.login(login, password)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    if login and password:
        assert flashes(html) == ["Incorrect username or password."]
    else:
        missing = "login" if not login else "password"
        assert field_errors(html, missing)
    assert logged_in_as(client) is None


def test_banned_user_is_refused(people, client, auth):
    with people.app_context():
        accounts.set_banned(accounts.get_by_username("bob"), True)
    response = auth.login("bob")
    assert flashes(response.get_data(as_text=True)) == ["This account is banned."]
    assert logged_in_as(client) is None


def test_login_goes_to_a_local_next_page_only(people, client, auth):
    page = client.get("/login?next=/settings/account")
    form = find_form(page.get_data(as_text=True))
    response = client.post(
        "/login?next=/settings/account", data={**form.values(), "login": "bob", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/settings/account"

    client.post("/logout", data=find_form(client.get("/").get_data(as_text=True), "/logout").values())
    page = client.get("/login?next=//evil.example/")
    form = find_form(page.get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example/", data={**form.values(), "login": "bob", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_remember_me_cookie_only_when_asked(people, client, auth, make_app):
    auth.login("bob")
    assert client.get_cookie("remember_token") is None

    other = people.test_client()
    response = submit(other, "/login", {"login": "bob", "password": PASSWORD, "remember": "y"})
    cookie = other.get_cookie("remember_token")
    assert cookie is not None
    assert cookie.http_only
    set_cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token="))
    assert "SameSite=Lax" in set_cookie
    assert "Expires=" in set_cookie

    # The remember cookie alone (session cookie gone, as after closing the browser) logs in.
    other.delete_cookie("session")
    assert logged_in_as(other) == "bob"


def test_logout_needs_post_and_csrf(people, client, auth):
    auth.login("bob")
    assert client.get("/logout").status_code == 405
    assert logged_in_as(client) == "bob"

    response = client.post("/logout")  # no CSRF token
    assert response.status_code == 400
    assert logged_in_as(client) == "bob"

    response = auth.logout(follow_redirects=True)
    assert "You are logged out." in flashes(response.get_data(as_text=True))
    assert logged_in_as(client) is None


def test_logged_in_people_skip_login_and_register(people, client, auth):
    auth.login("bob")
    assert client.get("/login").headers["Location"] == "/"
    assert client.get("/register").headers["Location"] == "/"


# --- password change --------------------------------------------------------------


def test_password_change_keeps_this_session_and_ends_the_others(people, client, auth):
    auth.login("bob")
    other_browser = people.test_client()
    submit(other_browser, "/login", {"login": "bob", "password": PASSWORD, "remember": "y"})
    assert logged_in_as(other_browser) == "bob"

    response = submit(
        client,
        "/settings/account",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        action="/settings/password",
        follow_redirects=True,
    )
    assert "Your password is changed. Other sessions were logged out." in flashes(
        response.get_data(as_text=True)
    )
    assert logged_in_as(client) == "bob"
    assert logged_in_as(other_browser) is None

    fresh = people.test_client()
    assert flashes(submit(fresh, "/login", {"login": "bob", "password": PASSWORD}).get_data(as_text=True)) == [
        "Incorrect username or password."
    ]
    submit(fresh, "/login", {"login": "bob", "password": NEW_PASSWORD})
    assert logged_in_as(fresh) == "bob"


def test_remember_cookie_from_before_a_password_change_is_dead(people, auth, client):
    other = people.test_client()
    submit(other, "/login", {"login": "bob", "password": PASSWORD, "remember": "y"})
    auth.login("bob")
    submit(client, "/settings/account", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
           action="/settings/password")
    other.delete_cookie("session")
    assert logged_in_as(other) is None


@pytest.mark.parametrize(
    ("current", "new", "field", "message"),
    [
        ("wrong one", NEW_PASSWORD, "current_password", "The current password is not right."),
        (PASSWORD, "short", "new_password", "Passwords have at least 8 characters."),
        ("", NEW_PASSWORD, "current_password", "Enter your current password."),
    ],
)
def test_password_change_errors_show_next_to_the_field(people, client, auth, current, new, field, message):
    auth.login("bob")
    response = submit(
        client, "/settings/account", {"current_password": current, "new_password": new}, action="/settings/password"
    )
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), field) == [message]
    with people.app_context():
        user = accounts.get_by_username("bob")
        assert accounts.authenticate("bob", PASSWORD) == user


def test_password_change_through_the_api(people, client, auth, csrf_headers):
    auth.login("bob")
    other = people.test_client()
    submit(other, "/login", {"login": "bob", "password": PASSWORD})
    response = client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=csrf_headers(),
    )
    assert response.status_code == 204
    assert logged_in_as(other) is None
    with people.app_context():
        assert accounts.authenticate("bob", NEW_PASSWORD).username == "bob"


# --- deleting an account ----------------------------------------------------------


def delete_via_form(client, password):
    return submit(client, "/settings/account", {"delete-password": password}, action="/settings/delete")


def test_delete_account_removes_follows_tokens_and_avatar(people, client, auth, avatar_jpeg):
    with people.app_context():
        bob, carol = accounts.get_by_username("bob"), accounts.get_by_username("carol")
        accounts.follow(bob, carol)
        accounts.follow(carol, bob)
        make_token(bob)
        accounts.set_avatar(bob, avatar_jpeg)
        avatar_file = Path(people.config["MEDIA_ROOT"]) / bob.avatar_path
        bob_id = bob.id
    assert avatar_file.is_file()

    auth.login("bob")
    response = delete_via_form(client, PASSWORD)
    assert response.headers["Location"] == "/"
    assert "Your account and everything in it were deleted." in flashes(client.get("/").get_data(as_text=True))
    assert logged_in_as(client) is None

    with people.app_context():
        assert db.session.get(User, bob_id) is None
        assert db.session.scalar(select(func.count()).select_from(Follow)) == 0
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
        assert accounts.get_by_username("carol").follower_count == 0
    assert not avatar_file.exists()
    assert not avatar_file.parent.exists()
    assert client.get("/@bob").status_code == 404


def test_delete_account_needs_the_password(people, client, auth):
    auth.login("bob")
    response = delete_via_form(client, "not my password")
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "delete-password") == ["The password is not right."]
    response = delete_via_form(client, "")
    assert field_errors(response.get_data(as_text=True), "delete-password") == ["Enter your password to confirm."]
    assert logged_in_as(client) == "bob"


def test_the_only_admin_cannot_delete_their_account(people, client, auth):
    auth.login("siteadmin")
    response = delete_via_form(client, PASSWORD)
    assert response.status_code == 409
    assert "You are the only admin. Make someone else admin first." in flashes(response.get_data(as_text=True))
    assert logged_in_as(client) == "siteadmin"


def test_an_admin_can_leave_when_another_admin_remains(people, client, auth):
    with people.app_context():
        make_admin("second_admin")
    auth.login("siteadmin")
    assert delete_via_form(client, PASSWORD).status_code == 302
    with people.app_context():
        assert db.session.scalar(select(User).where(User.username == "siteadmin")) is None


def test_delete_account_through_the_api(people, client, auth, csrf_headers):
    auth.login("carol")
    headers = csrf_headers()
    response = client.delete("/api/v1/me", json={"password": "wrong"}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {"password": ["The password is not right."]}

    assert client.delete("/api/v1/me", json={"password": PASSWORD}, headers=headers).status_code == 204
    with people.app_context():
        assert db.session.scalar(select(User).where(User.username == "carol")) is None
    assert client.get("/api/v1/me").status_code == 401
