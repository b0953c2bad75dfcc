"""Factories for test data, built through the services so every rule applies.

They need an app context (``with app.app_context():``). The first account on a site
becomes its admin, so ``make_user`` refuses to run on an empty site: call
``make_admin()`` first, which says in the test who the admin is.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import Role, User
from livelite.services import accounts, tokens

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def years_ago(years: int, today: date | None = None) -> date:
    """The date ``years`` before ``today``; 29 February falls back to the 28th."""
    today = today or date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def birth_date_for_age(age: int, today: date | None = None) -> date:
    """A birth date making someone exactly ``age`` today (their birthday is today)."""
    return years_ago(age, today)


def birth_date_just_under(age: int, today: date | None = None) -> date:
    """A birth date making someone ``age - 1``, turning ``age`` tomorrow."""
    return years_ago(age, today) + timedelta(days=1)


def _register(username, *, display_name, email, password, birth_date, role) -> User:
    n = next(_counter)
    username = username or f"user{n}"
    return accounts.register(
        username=username,
        display_name=display_name or username.title(),
        email=email or f"{username}@example.com",
        password=password,
        birth_date=birth_date or years_ago(30),
        role=role,
        check_open=False,
    )


def make_admin(
    username: str = "siteadmin",
    *,
    display_name: str | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    birth_date: date | None = None,
) -> User:
    """The site admin. On an empty site it is the first account, which register makes admin;
    later admins are registered and then promoted."""
    user = _register(
        username,
        display_name=display_name or "Site Admin",
        email=email,
        password=password,
        birth_date=birth_date,
        role=None,
    )
    if user.role != Role.ADMIN:
        accounts.set_role(user, Role.ADMIN)
    return user


def make_user(
    username: str | None = None,
    *,
    display_name: str | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    birth_date: date | None = None,
    age: int | None = None,
    role: Role = Role.MEMBER,
    banned: bool = False,
) -> User:
    """A person with ``role`` (member by default). Needs an admin on the site already."""
    if not db.session.scalar(select(func.count()).select_from(User)):
        raise AssertionError(
            "make_user on an empty site would create the admin: call make_admin() first"
        )
    if age is not None:
        birth_date = birth_date_for_age(age)
    user = _register(
        username,
        display_name=display_name,
        email=email,
        password=password,
        birth_date=birth_date,
        role=role,
    )
    assert user.role == role
    if banned:
        accounts.set_banned(user, True)
    return user


def make_followers(user: User, count: int, prefix: str | None = None) -> list[User]:
    """``count`` new people who each follow ``user``."""
    prefix = prefix or f"fan{next(_counter)}_"
    fans = []
    for i in range(count):
        fan = make_user(f"{prefix}{i}")
        accounts.follow(fan, user)
        fans.append(fan)
    return fans


def make_token(user: User, scopes=("read",), name: str = "test token", expires_in_days=None) -> str:
    """A personal access token for ``user``; returns the secret."""
    _token, secret = tokens.create_token(user, name, list(scopes), expires_in_days)
    return secret
