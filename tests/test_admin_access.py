"""Every route under /admin and /api/v1/admin, found by walking the URL map (new
routes are covered without editing this file): visitors are sent to log in (pages) or
get 401 (API); members, creators and site moderators get 403 and change nothing;
admins are let in."""

from __future__ import annotations

import pytest
from authz_support import SKIP_METHODS, csrf_token, fill_rule, fingerprint
from authz_support import send as request
from factories import PASSWORD, make_admin, make_user

from livelite.models import Role

PREFIXES = ("/admin", "/api/v1/admin")


def admin_routes(app) -> list[tuple[str, str, str]]:
    """(method, url, rule) for every admin route; path arguments filled with 1 or x."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIXES):
            continue
        url = fill_rule(rule.rule)
        for method in sorted(rule.methods - SKIP_METHODS):
            found.append((method, url, rule.rule))
    return found


@pytest.fixture
def site(app):
    """@siteadmin; @mia (member), @cris (creator), @moe (site moderator)."""
    with app.app_context():
        make_admin()
        make_user("mia")
        make_user("cris", role=Role.CREATOR)
        make_user("moe", role=Role.MODERATOR)
    return app


def test_the_walk_finds_the_dashboard_routes(app):
    urls = {(m, u) for m, u, _ in admin_routes(app)}
    for expected in [
        ("GET", "/admin/"),
        ("GET", "/admin/lives"),
        ("POST", "/admin/lives/1/stop"),
        ("POST", "/admin/settings"),
        ("POST", "/admin/settings/invites/1/revoke"),
        ("GET", "/admin/moderation"),
        ("GET", "/api/v1/admin/errors"),
        ("PATCH", "/api/v1/admin/settings"),
        ("POST", "/api/v1/admin/lives/1/stop"),
    ]:
        assert expected in urls


def test_visitors_are_sent_to_log_in_or_get_401(site):
    client = site.test_client()
    before = fingerprint(site)
    token = csrf_token(client)
    for method, url, _rule in admin_routes(site):
        response = request(client, method, url, token)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url, response.status_code)
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.headers["Location"].startswith("/login"), (method, url)
    assert fingerprint(site) == before


@pytest.mark.parametrize("username", ["mia", "cris", "moe"])
def test_non_admins_get_403_and_change_nothing(site, username):
    client = site.test_client()
    client.post("/login", data={"login": username, "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert client.get("/api/v1/me").get_json()["username"] == username
    before = fingerprint(site)
    token = csrf_token(client)
    for method, url, _rule in admin_routes(site):
        response = request(client, method, url, token)
        assert response.status_code == 403, (username, method, url, response.status_code)
    assert fingerprint(site) == before


def test_admins_are_let_in(site):
    client = site.test_client()
    client.post("/login", data={"login": "siteadmin", "password": PASSWORD, "csrf_token": csrf_token(client)})
    token = csrf_token(client)
    for method, url, _rule in admin_routes(site):
        response = request(client, method, url, token)
        assert response.status_code not in (401, 403), (method, url, response.status_code)
        assert response.status_code < 500, (method, url, response.status_code)
