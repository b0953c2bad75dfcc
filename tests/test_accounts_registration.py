"""Registration rules, through the service, the HTML form and the JSON API."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from factories import PASSWORD, birth_date_for_age, birth_date_just_under, make_admin, make_user
from pages import field_errors, flashes, meta_csrf_token, submit, text_of
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import Role, User
from livelite.services import accounts
from livelite.services.errors import PermissionDenied, ValidationFailed
from livelite.services.settings import set_setting

LENGTH = "Usernames are 3 to 30 characters long."
CHARS = "Use letters, digits, underscores and dots only; a dot may not start, end or repeat."
RESERVED = "This username is reserved."
TAKEN = "This username is taken."
EMAIL_INVALID = "Enter a valid email address."
EMAIL_TAKEN = "An account already uses this email address."
PASSWORD_SHORT = "Passwords have at least 8 characters."
TOO_YOUNG = "You must be at least 13 to join."


def register_data(**overrides):
    data = {
        "username": "newcomer",
        "display_name": "New Comer",
        "email": "newcomer@example.com",
        "password": PASSWORD,
        "birth_date": date(1995, 3, 14),
    }
    data.update(overrides)
    return data


def errors_of(**overrides) -> dict[str, list[str]]:
    """The per-field errors register raises for these values (fails if it accepts them)."""
    with pytest.raises(ValidationFailed) as info:
        accounts.register(**register_data(**overrides))
    return info.value.errors


@pytest.fixture
def site(app):
    """An app context on a site that already has its admin and one member, @taken."""
    with app.app_context():
        make_admin()
        make_user("taken", email="taken@example.com")
        yield app


# --- service rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("ab", LENGTH),
        ("a" * 31, LENGTH),
        ("", LENGTH),
        ("bad-name", CHARS),
        ("bad name", CHARS),
        ("émile", CHARS),
        ("bad!", CHARS),
        (".dot", CHARS),
        ("dot.", CHARS),
        ("two..dots", CHARS),
        ("admin", RESERVED),
        ("Settings", RESERVED),
        ("taken", TAKEN),
        ("TAKEN", TAKEN),
        ("@Taken", TAKEN),
    ],
)
def test_username_rules_refuse(site, username, message):
    assert errors_of(username=username)["username"] == [message]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("abc", "abc"),
        ("a" * 30, "a" * 30),
        ("Jane.Doe", "jane.doe"),
        ("j.a.n.e", "j.a.n.e"),
        ("_under_", "_under_"),
        ("@Bob_42", "bob_42"),
        ("  spaced  ", "spaced"),
    ],
)
def test_username_rules_accept_and_normalise(site, given, stored):
    user = accounts.register(**register_data(username=given))
    assert user.username == stored
    assert db.session.scalar(select(User).where(User.username == stored)) is user


@pytest.mark.parametrize(
    ("display_name", "message"),
    [
        ("", "Enter a display name."),
        ("   ", "Enter a display name."),
        ("x" * 51, "Display names have at most 50 characters."),
    ],
)
def test_display_name_rules(site, display_name, message):
    assert errors_of(display_name=display_name)["display_name"] == [message]


def test_display_name_is_trimmed(site):
    assert accounts.register(**register_data(display_name="  Ada L.  ")).display_name == "Ada L."


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", EMAIL_INVALID),
        ("not-an-email", EMAIL_INVALID),
        ("two@@example.com", EMAIL_INVALID),
        ("nobody@localhost", EMAIL_INVALID),
        ("taken@example.com", EMAIL_TAKEN),
        ("TAKEN@Example.COM", EMAIL_TAKEN),
        (" taken@example.com ", EMAIL_TAKEN),
    ],
)
def test_email_rules(site, email, message):
    assert errors_of(email=email)["email"] == [message]


def test_email_is_stored_lower_case(site):
    assert accounts.register(**register_data(email="New.Comer@Example.COM")).email == "new.comer@example.com"


@pytest.mark.parametrize(
    ("password", "accepted"),
    [("", False), ("1234567", False), ("12345678", True), ("x" * 128, True), ("x" * 129, False)],
)
def test_password_length(site, password, accepted):
    if accepted:
        assert accounts.register(**register_data(password=password)).id
    else:
        assert "password" in errors_of(password=password)


TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("birth_date", "message"),
    [
        (None, "Enter your birth date."),
        (TODAY + timedelta(days=1), "The birth date is in the future."),
        (birth_date_just_under(13, TODAY), TOO_YOUNG),
        (date(1890, 1, 1), "Check the birth date."),
    ],
)
def test_birth_date_rules(site, birth_date, message):
    with pytest.raises(ValidationFailed) as info:
        accounts.register(**register_data(birth_date=birth_date), today=TODAY)
    assert info.value.errors["birth_date"] == [message]


def test_thirteenth_birthday_is_old_enough(site):
    user = accounts.register(**register_data(birth_date=birth_date_for_age(13, TODAY)), today=TODAY)
    assert user.birth_date == date(2013, 6, 15)


def test_min_age_follows_the_site_setting(site):
    set_setting("MIN_AGE", 16)
    fifteen = birth_date_for_age(15, TODAY)
    with pytest.raises(ValidationFailed) as info:
        accounts.register(**register_data(birth_date=fifteen), today=TODAY)
    assert info.value.errors["birth_date"] == ["You must be at least 16 to join."]

    set_setting("MIN_AGE", 10)
    assert accounts.register(**register_data(birth_date=fifteen), today=TODAY).id


def test_every_problem_is_reported_at_once(site):
    errors = errors_of(username="x", display_name="", email="nope", password="short", birth_date=None)
    assert set(errors) == {"username", "display_name", "email", "password", "birth_date"}


def test_first_account_becomes_admin_then_members(app):
    with app.app_context():
        first = accounts.register(**register_data(username="first", email="first@example.com"))
        second = accounts.register(**register_data(username="second", email="second@example.com"))
        # A requested role never beats the first-account rule, and later accounts get what is asked.
        third = accounts.register(
            **register_data(username="third", email="third@example.com"), role=Role.CREATOR
        )
        assert (first.role, second.role, third.role) == (Role.ADMIN, Role.MEMBER, Role.CREATOR)


def test_registration_closed_refuses_unless_told_not_to_check(site):
    set_setting("REGISTRATION_OPEN", False)
    with pytest.raises(PermissionDenied, match="Registration is closed"):
        accounts.register(**register_data())
    assert accounts.register(**register_data(), check_open=False).username == "newcomer"


@pytest.mark.real_hashing
def test_passwords_are_stored_with_a_slow_salted_hash(app):
    with app.app_context():
        user = accounts.register(**register_data())
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash


# --- the HTML form ----------------------------------------------------------------


def form_data(**overrides):
    data = {
        "username": "newcomer",
        "display_name": "New Comer",
        "email": "newcomer@example.com",
        "password": PASSWORD,
        "birth_date": "1995-03-14",
    }
    data.update(overrides)
    return data


@pytest.fixture
def site_with_taken(app):
    with app.app_context():
        make_admin()
        make_user("taken", email="taken@example.com")
    return app


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "", "Choose a username."),
        ("username", "ab", LENGTH),
        ("username", "no way", CHARS),
        ("username", "login", RESERVED),
        ("username", "Taken", TAKEN),
        ("display_name", "", "Enter a display name."),
        ("email", "", "Enter your email address."),
        ("email", "bad@", EMAIL_INVALID),
        ("email", "Taken@example.com", EMAIL_TAKEN),
        ("password", "", "Choose a password."),
        ("password", "short", PASSWORD_SHORT),
        ("birth_date", "", "Enter your birth date."),
        ("birth_date", "17/05/1990", "Enter a valid date."),
        ("birth_date", "2999-01-01", "The birth date is in the future."),
        ("birth_date", (date.today() - timedelta(days=365 * 5)).isoformat(), TOO_YOUNG),
    ],
)
def test_form_shows_the_message_next_to_the_field(site_with_taken, client, field, value, message):
    response = submit(client, "/register", form_data(**{field: value}))
    html = response.get_data(as_text=True)
    assert field_errors(html, field) == [message]
    # Only that field is in error, and the person is not logged in.
    others = [f for f in ("username", "display_name", "email", "password", "birth_date") if f != field]
    assert all(field_errors(html, f) == [] for f in others)
    with site_with_taken.app_context():
        assert db.session.scalar(select(User).where(User.username == "newcomer")) is None


def test_form_shows_every_problem_in_one_round(site_with_taken, client):
    """A missing field does not hide the other fields' rule errors until the next try."""
    html = submit(client, "/register", form_data(username="", password="short", email="bad@")).get_data(
        as_text=True
    )
    assert field_errors(html, "username") == ["Choose a username."]
    assert field_errors(html, "password") == [PASSWORD_SHORT]
    assert field_errors(html, "email") == [EMAIL_INVALID]


def test_form_keeps_what_was_typed_except_the_password(site_with_taken, client):
    html = submit(client, "/register", form_data(username="ab", password="a secret pw")).get_data(as_text=True)
    assert 'value="New Comer"' in html
    assert 'value="newcomer@example.com"' in html
    assert "a secret pw" not in html


def test_form_registers_logs_in_and_shows_the_profile(site_with_taken, client, auth):
    response = auth.register(
        "newcomer", display_name="New Comer", birth_date="1995-03-14", follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert response.request.path == "/@newcomer"
    assert "Welcome to LiveLite, New Comer!" in flashes(html)
    assert "@newcomer" in text_of(html)  # the account menu: logged in
    with site_with_taken.app_context():
        user = db.session.scalar(select(User).where(User.username == "newcomer"))
        assert user.role == Role.MEMBER
        assert user.birth_date == date(1995, 3, 14)


def test_first_person_to_register_through_the_form_is_told_they_are_admin(app, client):
    response = submit(client, "/register", form_data(), follow_redirects=True)
    assert "You are the first person here, so you are the site admin." in flashes(
        response.get_data(as_text=True)
    )
    with app.app_context():
        assert db.session.scalar(select(User.role).where(User.username == "newcomer")) == Role.ADMIN


def test_closed_registration_asks_for_an_invite_code_and_refuses_posts_without(site_with_taken, client):
    with site_with_taken.app_context():
        set_setting("REGISTRATION_OPEN", False)
    page = client.get("/register").get_data(as_text=True)
    assert "Registration is closed on this site. Ask an admin for an account." in page
    assert 'name="invite_code"' in page

    token = meta_csrf_token(page)
    response = client.post("/register", data={**form_data(), "csrf_token": token})
    assert "Registration is closed on this site." in flashes(response.get_data(as_text=True))
    with site_with_taken.app_context():
        assert db.session.scalar(select(User).where(User.username == "newcomer")) is None


# --- the JSON API -----------------------------------------------------------------


def test_api_registers_with_201_and_the_account(site_with_taken, client, csrf_headers):
    response = client.post("/api/v1/accounts", json=form_data(), headers=csrf_headers())
    assert response.status_code == 201
    body = response.get_json()
    assert body["username"] == "newcomer"
    assert body["email"] == "newcomer@example.com"
    assert body["role"] == "member"
    assert "password" not in body
    with site_with_taken.app_context():
        assert db.session.scalar(select(User.display_name).where(User.username == "newcomer")) == "New Comer"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"username": "a"}, {"username": [LENGTH]}),
        ({"username": "TAKEN"}, {"username": [TAKEN]}),
        ({"email": "TAKEN@example.com"}, {"email": [EMAIL_TAKEN]}),
        ({"password": "1234"}, {"password": [PASSWORD_SHORT]}),
        (
            {"birth_date": "2999-12-31", "display_name": ""},
            {"birth_date": ["The birth date is in the future."], "display_name": ["Enter a display name."]},
        ),
    ],
)
def test_api_answers_422_with_errors_per_field(site_with_taken, client, csrf_headers, overrides, expected):
    response = client.post("/api/v1/accounts", json=form_data(**overrides), headers=csrf_headers())
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["status"] == 422
    assert error["errors"] == expected


def test_api_reports_missing_and_malformed_fields(site_with_taken, client, csrf_headers):
    response = client.post(
        "/api/v1/accounts", json={"username": "newcomer", "birth_date": "soon"}, headers=csrf_headers()
    )
    assert response.status_code == 422
    errors = response.get_json()["error"]["errors"]
    assert {"display_name", "email", "password", "birth_date"} <= set(errors)


def test_api_refuses_when_registration_is_closed(site_with_taken, client, csrf_headers):
    with site_with_taken.app_context():
        set_setting("REGISTRATION_OPEN", False)
    response = client.post("/api/v1/accounts", json=form_data(), headers=csrf_headers())
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "Registration is closed on this site."


def test_api_first_account_is_admin(app, client, csrf_headers):
    response = client.post("/api/v1/accounts", json=form_data(), headers=csrf_headers())
    assert response.get_json()["role"] == "admin"
