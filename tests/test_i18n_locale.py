"""Which language a request gets: the account's choice, then the cookie, then the browser."""

from __future__ import annotations

import pytest
from factories import PASSWORD, make_admin, make_user
from flask_login import login_user
from pages import find_form, submit

from livelite.i18n import LANG_COOKIE, select_locale
from livelite.services import accounts


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "en"),
        ({"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}, "fr"),
        ({"Accept-Language": "de-DE,de;q=0.9"}, "en"),  # not offered: the default
        ({"Accept-Language": "de;q=0.9,fr;q=0.8"}, "fr"),
        ({"Cookie": f"{LANG_COOKIE}=fr"}, "fr"),
        ({"Cookie": f"{LANG_COOKIE}=en", "Accept-Language": "fr"}, "en"),  # cookie beats browser
        ({"Cookie": f"{LANG_COOKIE}=xx", "Accept-Language": "fr"}, "fr"),  # unknown cookie ignored
    ],
)
def test_visitor_locale(app, headers, expected):
    with app.test_request_context("/", headers=headers):
        assert select_locale() == expected


@pytest.fixture
def people(app):
    with app.app_context():
        make_admin()
        accounts.set_locale(make_user("french", display_name="Amélie"), "fr")
        make_user("undecided")
    return app


def test_user_setting_beats_cookie_and_browser(people):
    headers = {"Cookie": f"{LANG_COOKIE}=en", "Accept-Language": "en"}
    with people.test_request_context("/", headers=headers):
        login_user(accounts.get_by_username("french"))
        assert select_locale() == "fr"


def test_user_without_a_setting_falls_back_to_cookie_then_browser(people):
    with people.test_request_context("/", headers={"Cookie": f"{LANG_COOKIE}=fr", "Accept-Language": "en"}):
        login_user(accounts.get_by_username("undecided"))
        assert select_locale() == "fr"
    with people.test_request_context("/", headers={"Accept-Language": "fr"}):
        login_user(accounts.get_by_username("undecided"))
        assert select_locale() == "fr"


def test_outside_a_request_the_default_is_used(app):
    with app.app_context():
        assert select_locale() == "en"


def test_visitor_language_switch_sets_a_cookie(app, client):
    response = submit(client, "/", {"locale": "fr"}, action="/language")
    assert response.status_code == 302
    cookie = client.get_cookie(LANG_COOKIE)
    assert cookie.value == "fr" and cookie.http_only
    assert '<html lang="fr">' in client.get("/").get_data(as_text=True)

    submit(client, "/", {"locale": "nonsense"}, action="/language")
    assert client.get_cookie(LANG_COOKIE) is None
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_logged_in_language_switch_is_saved_on_the_account(people, client, auth):
    auth.login("undecided")
    submit(client, "/", {"locale": "fr"}, action="/language")
    with people.app_context():
        assert accounts.get_by_username("undecided").locale == "fr"
    # Another browser of the same person gets French without any cookie.
    other = people.test_client()
    submit(other, "/login", {"login": "undecided", "password": PASSWORD})
    assert '<html lang="fr">' in other.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_language_switch_goes_back_to_a_local_page_only(app, client):
    response = submit(client, "/upcoming", {"locale": "en"}, action="/language")
    assert response.headers["Location"].startswith("/upcoming")
    page = client.get("/").get_data(as_text=True)
    token = find_form(page, "/language").values()["csrf_token"]
    response = client.post("/language?next=https://evil.example/", data={"csrf_token": token, "locale": "en"})
    assert response.headers["Location"] == "/"
