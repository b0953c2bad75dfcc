"""Admin pages and API: who may use them, roles, bans, and the last admin."""

from __future__ import annotations

import re

import pytest
from factories import PASSWORD, make_admin, make_token, make_user
from pages import find_form, flashes, submit, text_of

from livelite.models import Role
from livelite.services import accounts


@pytest.fixture
def site(app):
    """@siteadmin, @bob (member) and @mod (moderator); returns the app."""
    with app.app_context():
        make_admin(email="boss@example.com")
        make_user("bob", display_name="Bob Builder", email="bob@example.com")
        make_user("mod", display_name="Moe Derator", role=Role.MODERATOR)
    return app


def user_id(app, username) -> int:
    with app.app_context():
        return accounts.get_by_username(username).id


def role_of(app, username) -> Role:
    with app.app_context():
        return accounts.get_by_username(username).role


def is_banned(app, username) -> bool:
    with app.app_context():
        return accounts.get_by_username(username).is_banned


def admin_form(client, app, username, kind):
    """The role or ban form on the admin list for ``username``."""
    html = client.get("/admin/users").get_data(as_text=True)
    return find_form(html, f"/admin/users/{user_id(app, username)}/{kind}")


@pytest.mark.parametrize("username", ["bob", "mod"])
def test_non_admins_get_403(site, client, auth, username):
    auth.login(username)
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "Only admins can do this." in text_of(response.get_data(as_text=True))
    assert "bob@example.com" not in response.get_data(as_text=True)

    response = client.get("/api/v1/admin/users")
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "Only admins can do this."


def test_non_admin_cannot_change_roles_through_the_api(site, client):
    with site.app_context():
        secret = make_token(accounts.get_by_username("bob"), scopes=["read", "write"])
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.put(f"/api/v1/admin/users/{user_id(site, 'bob')}/role", json={"role": "admin"}, headers=headers)
    assert response.status_code == 403
    assert role_of(site, "bob") == Role.MEMBER


def test_non_admin_form_post_is_refused(site, client, auth):
    auth.login("bob")
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    response = client.post(f"/admin/users/{user_id(site, 'bob')}/role", data={"csrf_token": token, "role": "admin"})
    assert response.status_code == 403
    assert role_of(site, "bob") == Role.MEMBER


def test_visitors_are_sent_to_login_or_get_401(site, client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert client.get("/api/v1/admin/users").status_code == 401


def test_admin_sees_people_and_can_search(site, client, auth):
    auth.login("siteadmin")
    text = text_of(client.get("/admin/users").get_data(as_text=True))
    for shown in ("Bob Builder", "@bob", "bob@example.com", "Moe Derator", "@mod", "boss@example.com"):
        assert shown in text
    text = text_of(client.get("/admin/users?q=builder").get_data(as_text=True))
    assert "@bob" in text and "@mod" not in text
    text = text_of(client.get("/admin/users?q=nobody-matches").get_data(as_text=True))
    assert "No one matches." in text


def test_admin_changes_a_role_through_the_page(site, client, auth):
    auth.login("siteadmin")
    form = admin_form(client, site, "bob", "role")
    assert form.values()["role"] == "member"
    response = client.post(form.action, data={**form.values(), "role": "creator"}, follow_redirects=True)
    assert "@bob is now Creator." in flashes(response.get_data(as_text=True))
    assert role_of(site, "bob") == Role.CREATOR
    assert admin_form(client, site, "bob", "role").values()["role"] == "creator"
    assert "Creator" in text_of(client.get("/@bob").get_data(as_text=True))


def test_unknown_role_is_refused(site, client, auth):
    auth.login("siteadmin")
    form = admin_form(client, site, "bob", "role")
    response = client.post(form.action, data={**form.values(), "role": "emperor"}, follow_redirects=True)
    assert "Unknown role." in flashes(response.get_data(as_text=True))
    assert role_of(site, "bob") == Role.MEMBER


def test_ban_ends_the_session_and_blocks_login(site, client, auth):
    bob_browser = site.test_client()
    submit(bob_browser, "/login", {"login": "bob", "password": PASSWORD, "remember": "y"})
    assert bob_browser.get("/api/v1/me").get_json()["username"] == "bob"

    auth.login("siteadmin")
    form = admin_form(client, site, "bob", "ban")
    assert form.values()["banned"] == "1"
    response = client.post(form.action, data=form.values(), follow_redirects=True)
    assert "@bob is banned." in flashes(response.get_data(as_text=True))
    assert is_banned(site, "bob")

    assert bob_browser.get("/api/v1/me").status_code == 401
    bob_browser.delete_cookie("session")  # the remember cookie does not bring them back
    assert bob_browser.get("/api/v1/me").status_code == 401
    response = submit(site.test_client(), "/login", {"login": "bob", "password": PASSWORD})
    assert flashes(response.get_data(as_text=True)) == ["This account is banned."]
    assert "Banned" in text_of(client.get("/@bob").get_data(as_text=True))

    form = admin_form(client, site, "bob", "ban")
    assert form.values()["banned"] == "0"
    response = client.post(form.action, data=form.values(), follow_redirects=True)
    assert "@bob is no longer banned." in flashes(response.get_data(as_text=True))
    assert submit(site.test_client(), "/login", {"login": "bob", "password": PASSWORD}).status_code == 302


def test_admin_cannot_ban_themselves(site, client, auth):
    auth.login("siteadmin")
    html = client.get("/admin/users").get_data(as_text=True)
    own = re.search(
        rf'action="/admin/users/{user_id(site, "siteadmin")}/ban[^"]*".*?</form>', html, re.S
    ).group(0)
    assert re.search(r"<button[^>]*disabled", own)
    form = admin_form(client, site, "siteadmin", "ban")
    response = client.post(form.action, data={**form.values(), "banned": "1"}, follow_redirects=True)
    assert "You cannot ban yourself." in flashes(response.get_data(as_text=True))
    assert not is_banned(site, "siteadmin")


def test_the_last_admin_cannot_be_demoted(site, client, auth):
    auth.login("siteadmin")
    form = admin_form(client, site, "siteadmin", "role")
    response = client.post(form.action, data={**form.values(), "role": "member"}, follow_redirects=True)
    assert "The site needs at least one admin." in flashes(response.get_data(as_text=True))
    assert role_of(site, "siteadmin") == Role.ADMIN


def test_with_two_admins_one_can_step_down(site, client, auth):
    auth.login("siteadmin")
    form = admin_form(client, site, "bob", "role")
    client.post(form.action, data={**form.values(), "role": "admin"})
    assert role_of(site, "bob") == Role.ADMIN
    form = admin_form(client, site, "siteadmin", "role")
    client.post(form.action, data={**form.values(), "role": "member"})
    assert role_of(site, "siteadmin") == Role.MEMBER
    assert client.get("/admin/users").status_code == 403  # no longer an admin


# --- the admin API ----------------------------------------------------------------


@pytest.fixture
def admin_headers(site):
    with site.app_context():
        secret = make_token(accounts.get_by_username("siteadmin"), scopes=["read", "write"])
    return {"Authorization": f"Bearer {secret}"}


def test_admin_api_lists_and_searches(site, client, admin_headers):
    body = client.get("/api/v1/admin/users", headers=admin_headers).get_json()
    assert body["total"] == 3
    assert {u["username"] for u in body["items"]} == {"siteadmin", "bob", "mod"}
    bob = next(u for u in body["items"] if u["username"] == "bob")
    assert bob["email"] == "bob@example.com" and bob["is_banned"] is False
    body = client.get("/api/v1/admin/users?q=moe", headers=admin_headers).get_json()
    assert [u["username"] for u in body["items"]] == ["mod"]


def test_admin_api_roles_and_bans(site, client, admin_headers):
    bob = user_id(site, "bob")
    response = client.put(f"/api/v1/admin/users/{bob}/role", json={"role": "creator"}, headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json()["role"] == "creator"
    assert role_of(site, "bob") == Role.CREATOR

    response = client.put(f"/api/v1/admin/users/{bob}/role", json={"role": "king"}, headers=admin_headers)
    assert response.status_code == 422
    assert "role" in response.get_json()["error"]["errors"]

    response = client.put(f"/api/v1/admin/users/{bob}/ban", json={"banned": True}, headers=admin_headers)
    assert response.get_json()["is_banned"] is True
    assert is_banned(site, "bob")

    assert client.put("/api/v1/admin/users/99999/ban", json={"banned": True}, headers=admin_headers).status_code == 404


def test_admin_api_protects_the_last_admin(site, client, admin_headers):
    me = user_id(site, "siteadmin")
    response = client.put(f"/api/v1/admin/users/{me}/role", json={"role": "member"}, headers=admin_headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "The site needs at least one admin."
    response = client.put(f"/api/v1/admin/users/{me}/ban", json={"banned": True}, headers=admin_headers)
    assert response.status_code == 409
    assert role_of(site, "siteadmin") == Role.ADMIN and not is_banned(site, "siteadmin")


def test_admin_api_needs_the_write_scope_to_change(site, client):
    with site.app_context():
        secret = make_token(accounts.get_by_username("siteadmin"), scopes=["read"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/admin/users", headers=headers).status_code == 200
    response = client.put(f"/api/v1/admin/users/{user_id(site, 'bob')}/role", json={"role": "admin"}, headers=headers)
    assert response.status_code == 403
    assert role_of(site, "bob") == Role.MEMBER
