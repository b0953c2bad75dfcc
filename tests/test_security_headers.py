"""Response headers, cookie flags, and escaping of what people write."""

from __future__ import annotations

import pytest
from factories import PASSWORD, make_admin, make_user
from pages import submit

from livelite.services import accounts


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/openapi.json", "/no-such-page", "/healthz"])
def test_security_headers_on_every_answer(client, path):
    response = client.get(path)
    csp = csp_directives(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_pages_have_no_inline_script(app, client, auth):
    with app.app_context():
        make_admin()
    auth.login("siteadmin")
    for path in ("/", "/@siteadmin", "/settings/profile", "/settings/account", "/settings/tokens", "/admin/users"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "<script >" not in html, path
        assert " onclick=" not in html and " onload=" not in html, path


def test_hsts_over_https(client):
    response = client.get("/", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def session_set_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


@pytest.fixture
def people(app):
    with app.app_context():
        make_admin()
        make_user("bob")
    return app


def test_session_cookie_is_httponly_lax_and_not_secure_over_http(people, client):
    response = submit(client, "/login", {"login": "bob", "password": PASSWORD})
    cookie = session_set_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_cookies_are_secure_when_https_is_configured(make_app):
    app = make_app(HTTPS=True)
    with app.app_context():
        make_admin()
        make_user("bob")
    client = app.test_client()
    # Browsers keep Secure cookies for https only, and so does the test client; over
    # https the CSRF check also wants the same-origin Referer a browser sends.
    response = submit(
        client,
        "/login",
        {"login": "bob", "password": PASSWORD, "remember": "y"},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    for name in ("session=", "remember_token="):
        header = next(c for c in cookies if c.startswith(name))
        assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header, header


def test_livelite_https_variable_turns_secure_cookies_on(make_app, monkeypatch):
    monkeypatch.setenv("LIVELITE_HTTPS", "true")
    app = make_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_user_text_is_escaped_on_the_profile(people, client):
    with people.app_context():
        bob = accounts.get_by_username("bob")
        accounts.update_profile(
            bob, display_name="<script>alert(1)</script>", bio='<img src=x onerror="alert(2)"> & <b>bold</b>'
        )
    html = client.get("/@bob").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    # The followers page and the home page's suggestions show the name too.
    for path in ("/@bob/followers", "/"):
        assert "<script>alert(1)</script>" not in client.get(path).get_data(as_text=True)


def test_user_text_is_plain_json_in_the_api(people, client):
    with people.app_context():
        accounts.update_profile(accounts.get_by_username("bob"), display_name="<b>Bob</b>")
    assert client.get("/api/v1/users/bob").get_json()["display_name"] == "<b>Bob</b>"
