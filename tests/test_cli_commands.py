"""The flask commands: create-user, seed-demo, settings list/set."""

from __future__ import annotations

from datetime import date

import cv2
import pytest
from factories import make_admin
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import Follow, MediaType, Role, User, Video, VideoKind, VideoStatus
from livelite.services import accounts
from livelite.services.settings import get_setting, set_setting

CLI_PASSWORD = "long enough pw"


def error_lines(result) -> list[str]:
    """What the command said went wrong (stderr also carries Alembic's INFO lines)."""
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def create_user(runner, username, *extra, email=None, password=CLI_PASSWORD, birthdate="1990-01-01"):
    args = ["create-user", username, "--email", email or f"{username}@example.com"]
    args += ["--password", password, "--birthdate", birthdate, *extra]
    return runner.invoke(args=args)


def test_create_user_makes_a_member_who_can_log_in(app, runner):
    with app.app_context():
        make_admin()
    result = create_user(runner, "Bob", "--display-name", "Bob Builder")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Created @bob (member)."
    with app.app_context():
        bob = accounts.authenticate("bob@example.com", CLI_PASSWORD)
        assert (bob.display_name, bob.role, bob.birth_date) == ("Bob Builder", Role.MEMBER, date(1990, 1, 1))


@pytest.mark.parametrize(("flag", "role"), [("--admin", Role.ADMIN), ("--creator", Role.CREATOR)])
def test_create_user_with_a_role(app, runner, flag, role):
    with app.app_context():
        make_admin()
    result = create_user(runner, "special", flag)
    assert result.exit_code == 0, result.output
    assert f"({role.value})" in result.output
    with app.app_context():
        assert accounts.get_by_username("special").role == role


def test_first_user_from_the_cli_is_admin(app, runner):
    result = create_user(runner, "founder")
    assert result.stdout.strip() == "Created @founder (admin)."


def test_create_user_works_when_registration_is_closed(app, runner):
    with app.app_context():
        make_admin()
        set_setting("REGISTRATION_OPEN", False)
    assert create_user(runner, "invited").exit_code == 0


def test_create_user_with_invalid_input_exits_1_with_every_message(app, runner):
    with app.app_context():
        make_admin(email="taken@example.com")
    result = create_user(runner, "x!", email="taken@example.com", password="short", birthdate="2020-01-01")
    assert result.exit_code == 1
    assert set(error_lines(result)) == {
        "error: username: Usernames are 3 to 30 characters long.",
        "error: email: An account already uses this email address.",
        "error: password: Passwords have at least 8 characters.",
        "error: birth_date: You must be at least 13 to join.",
    }
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_create_user_rejects_a_malformed_date(app, runner):
    result = create_user(runner, "dated", birthdate="01/02/1990")
    assert result.exit_code == 2
    assert "use YYYY-MM-DD" in result.output


def test_create_user_reports_a_taken_username(app, runner):
    assert create_user(runner, "twin").exit_code == 0
    result = create_user(runner, "TWIN", email="other@example.com")
    assert result.exit_code == 1
    assert error_lines(result) == ["error: username: This username is taken."]


def demo_state(app):
    with app.app_context():
        users = {u.username: u.role for u in db.session.scalars(select(User))}
        follows = {(f.follower.username, f.followed.username) for f in db.session.scalars(select(Follow))}
        return users, follows


def test_seed_demo_is_idempotent(app, runner):
    with app.app_context():
        make_admin()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert (
        "Demo data ready: 5 new users, 3 new events, 6 new videos (password: livelite-demo)." in result.output
    )
    users, follows = demo_state(app)
    assert users == {
        "siteadmin": Role.ADMIN,
        "ada": Role.CREATOR,
        "grace": Role.CREATOR,
        "linus": Role.MEMBER,
        "margaret": Role.MODERATOR,
        "tim": Role.MEMBER,
    }
    assert ("linus", "ada") in follows and ("grace", "ada") in follows
    assert len(follows) == 6

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    assert "Demo data ready: 0 new users, 0 new events, 0 new videos" in again.output
    assert demo_state(app) == (users, follows)
    with app.app_context():
        from livelite.models import Event
        from livelite.services import events

        seeded = {e.title: (e.creator.username, events.rsvp_count(e)) for e in db.session.query(Event)}
    assert seeded == {
        "Fractions without fear": ("ada", 3),
        "Q&A: your maths questions": ("ada", 1),
        "Debugging live: a real bug hunt": ("grace", 2),
    }
    with app.app_context():
        ada = accounts.authenticate("ada", "livelite-demo")
        assert ada.follower_count == 4
        assert ada.bio == "Demo account. Hello, I am Ada Lovelace!"
        stories = db.session.query(Video).filter(Video.kind == VideoKind.STORY).order_by(Video.id).all()
        assert [(v.creator.username, v.media_type, v.status) for v in stories] == [
            ("ada", MediaType.PHOTO, VideoStatus.READY),
            ("grace", MediaType.PHOTO, VideoStatus.READY),
        ]
        videos = db.session.query(Video).filter(Video.kind == VideoKind.VIDEO).order_by(Video.id).all()
        assert [(v.creator.username, v.event.title if v.event else None) for v in videos] == [
            ("ada", "Fractions without fear"),
            ("grace", None),
            ("ada", "Q&A: your maths questions"),
            ("grace", "Debugging live: a real bug hunt"),
        ]
        store = app.extensions["livelite.storage"]
        for video in videos:
            assert video.status == VideoStatus.READY and abs(video.duration_s - 4) < 0.5
            path = store.path(video.file_path)
            capture = cv2.VideoCapture(str(path))
            ok, frame = capture.read()
            capture.release()
            assert ok and frame.shape[:2] == (video.height, video.width)


def test_seed_demo_on_an_empty_site_makes_the_first_demo_user_admin(app, runner):
    result = runner.invoke(args=["seed-demo", "--no-videos"])
    assert result.exit_code == 0, result.output
    users, _ = demo_state(app)
    assert users["ada"] == Role.ADMIN
    assert len(users) == 5


def test_settings_list_shows_defaults_and_stored_values(app, runner):
    result = runner.invoke(args=["settings", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "MIN_AGE = 13" in lines
    assert "LIVE_MIN_FOLLOWERS = 1000" in lines
    assert "REGISTRATION_OPEN = True" in lines

    with app.app_context():
        set_setting("MIN_AGE", 15)
    assert "MIN_AGE = 15" in runner.invoke(args=["settings", "list"]).stdout.splitlines()


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("min_age", "16", 16),
        ("LIVE_MIN_FOLLOWERS", "250", 250),
        ("registration_open", "no", False),
        ("REGISTRATION_OPEN", "true", True),
    ],
)
def test_settings_set(app, runner, key, value, stored):
    result = runner.invoke(args=["settings", "set", key, value])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{key.upper()} = {stored!r}"
    with app.app_context():
        assert get_setting(key.upper()) == stored


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("MIN_AGE", "thirteen", "error: Enter a whole number."),
        ("MIN_AGE", "500", "error: Enter a number from 0 to 120."),
        ("REGISTRATION_OPEN", "maybe", "error: Enter true or false."),
        ("NO_SUCH_SETTING", "1", "error: Unknown setting."),
    ],
)
def test_settings_set_refuses_bad_values(app, runner, key, value, message):
    result = runner.invoke(args=["settings", "set", key, value])
    assert result.exit_code == 1
    assert error_lines(result) == [message]
    with app.app_context():
        assert get_setting("MIN_AGE") == 13


def test_a_setting_changed_by_the_cli_applies_to_registration(app, runner, client):
    runner.invoke(args=["settings", "set", "registration_open", "false"])
    assert "Registration is closed on this site." in client.get("/register").get_data(as_text=True)
