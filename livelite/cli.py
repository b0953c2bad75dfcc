"""Commands: ``flask --app app create-user``, ``seed-demo``, ``settings``."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask, current_app
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import Role, User
from livelite.services import accounts
from livelite.services import settings as site_settings
from livelite.services.errors import DomainError


def _upgrade():
    from livelite.server import ensure_database

    ensure_database(current_app._get_current_object())


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


@click.command("create-user")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--birthdate", required=True, help="YYYY-MM-DD")
@click.option("--display-name", default=None)
@click.option("--admin", "make_admin", is_flag=True, help="Give the admin role.")
@click.option("--creator", is_flag=True, help="Give the creator role (may go live).")
def create_user_command(username, email, password, birthdate, display_name, make_admin, creator):
    """Create an account (registration rules apply, even when registration is closed)."""
    _upgrade()
    role = Role.ADMIN if make_admin else Role.CREATOR if creator else Role.MEMBER
    try:
        user = accounts.register(
            username=username,
            display_name=display_name or username,
            email=email,
            password=password,
            birth_date=_parse_date(birthdate),
            role=role,
            check_open=False,
        )
    except DomainError as exc:
        for field, messages in (exc.errors or {"": [exc.message]}).items():
            for message in messages:
                click.echo(f"error: {field + ': ' if field else ''}{message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Created @{user.username} ({user.role.value}).")


DEMO_USERS = [
    # username, display name, role, birth date
    ("ada", "Ada Lovelace", Role.CREATOR, date(1990, 12, 10)),
    ("grace", "Grace Hopper", Role.CREATOR, date(1986, 12, 9)),
    ("linus", "Linus", Role.MEMBER, date(2001, 4, 2)),
    ("margaret", "Margaret H.", Role.MODERATOR, date(1994, 8, 17)),
    ("tim", "Tim B.", Role.MEMBER, date(2009, 6, 8)),
]
DEMO_PASSWORD = "livelite-demo"


@click.command("seed-demo")
@click.option(
    "--videos/--no-videos", default=True, help="Also make short videos with ffmpeg (a few seconds each)."
)
def seed_demo_command(videos: bool):
    """Add demo people, follows, events with RSVPs and short videos (idempotent);
    their password is ``livelite-demo``."""
    _upgrade()
    created = 0
    users = {}
    for username, name, role, born in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = accounts.register(
                username=username,
                display_name=name,
                email=f"{username}@demo.livelite.example",
                password=DEMO_PASSWORD,
                birth_date=born,
                role=role,
                check_open=False,
            )
            if user.role != role and user.role != Role.ADMIN:
                accounts.set_role(user, role)
            if not user.bio:
                accounts.update_profile(user, bio=f"Demo account. Hello, I am {name}!")
            created += 1
        users[username] = user
    follows = [
        ("linus", "ada"),
        ("tim", "ada"),
        ("margaret", "ada"),
        ("ada", "grace"),
        ("linus", "grace"),
        ("grace", "ada"),
    ]
    for follower, followed in follows:
        accounts.follow(users[follower], users[followed])
    new_events = _seed_events(users)
    new_videos = _seed_videos(users) if videos else 0
    click.echo(
        f"Demo data ready: {created} new users, {new_events} new events, {new_videos} new videos "
        f"(password: {DEMO_PASSWORD})."
    )


DEMO_EVENTS = [
    # creator, title, days ahead, hour (UTC), minutes, who RSVPs
    ("ada", "Fractions without fear", 1, 18, 60, ("linus", "tim", "margaret")),
    ("ada", "Q&A: your maths questions", 7, 17, 45, ("linus",)),
    ("grace", "Debugging live: a real bug hunt", 3, 19, 90, ("ada", "linus")),
]


def _seed_events(users) -> int:
    """Upcoming events with RSVPs; one event per title, so a second run adds none."""
    from datetime import UTC, datetime, time, timedelta

    from livelite.models import Event
    from livelite.services import events

    made = 0
    today = datetime.now(UTC).date()
    for creator, title, days, hour, minutes, going in DEMO_EVENTS:
        if db.session.scalar(select(Event).where(Event.title == title)):
            continue
        starts = datetime.combine(today + timedelta(days=days), time(hour), tzinfo=UTC)
        event = events.create_event(
            users[creator],
            title=title,
            description=f"A demo event by {users[creator].display_name}.",
            starts_at=starts,
            duration_minutes=minutes,
        )
        for username in going:
            events.rsvp(event, users[username])
        made += 1
    return made


DEMO_VIDEOS = [
    # creator, caption, ffmpeg test source, tone (Hz), linked event title (or None)
    ("ada", "Warm-up: halves and quarters in 4 seconds #maths", "testsrc2", 440, "Fractions without fear"),
    ("grace", "Colour bars, because every bug hunt starts with a test pattern", "smptebars", 660, None),
    ("ada", "A spinning plane of colour for Friday", "rgbtestsrc", 523, "Q&A: your maths questions"),
    ("grace", "Tomorrow we debug a real program together", "testsrc", 392, "Debugging live: a real bug hunt"),
]


DEMO_STORIES = [
    # creator, caption, ffmpeg test source (one frame becomes a photo story)
    ("ada", "Today's whiteboard", "testsrc2"),
    ("grace", "Setting up for tomorrow", "smptehdbars"),
]


def _seed_videos(users) -> int:
    """Photo stories and short portrait videos made with ffmpeg's test sources and
    converted like any upload; one per caption, so a second run adds none (stories
    expire after 24 h, so a later run adds them again)."""
    import subprocess
    import tempfile
    from pathlib import Path

    from livelite.media.manager import ffmpeg_path
    from livelite.models import Event, Video
    from livelite.services import videos

    made = 0
    with tempfile.TemporaryDirectory() as tmp:
        for creator, caption, source in DEMO_STORIES:
            if db.session.scalar(select(Video).where(Video.caption == caption)):
                continue
            photo = Path(tmp) / f"story-{made}.jpg"
            subprocess.run(  # noqa: S603 - fixed arguments, our own ffmpeg
                [
                    ffmpeg_path(current_app),
                    "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"{source}=size=720x1280",
                    "-frames:v", "1", str(photo),
                ],
                check=True,
                timeout=60,
            )  # fmt: skip
            with photo.open("rb") as handle:
                videos.upload(users[creator], handle, kind="story", caption=caption)
            made += 1
        for creator, caption, source, tone, event_title in DEMO_VIDEOS:
            if db.session.scalar(select(Video).where(Video.caption == caption)):
                continue
            clip = Path(tmp) / f"demo-{made}.mp4"
            subprocess.run(  # noqa: S603 - fixed arguments, our own ffmpeg
                [
                    ffmpeg_path(current_app),
                    "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"{source}=size=360x640:rate=30:duration=4",
                    "-f", "lavfi", "-i", f"sine=frequency={tone}:duration=4",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(clip),
                ],
                check=True,
                timeout=120,
            )  # fmt: skip
            event = (
                db.session.scalar(select(Event).where(Event.title == event_title)) if event_title else None
            )
            with clip.open("rb") as handle:
                video = videos.upload(
                    users[creator], handle, caption=caption, event_id=event.id if event else None
                )
            videos.process(video.id)
            made += 1
    return made


@click.group("settings")
def settings_group():
    """Show or change site settings."""


@settings_group.command("list")
def settings_list():
    _upgrade()
    for key, value in site_settings.all_settings().items():
        click.echo(f"{key} = {value!r}")


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
def settings_set(key, value):
    _upgrade()
    try:
        stored = site_settings.set_setting(key.upper(), value)
    except DomainError as exc:
        click.echo(f"error: {exc.message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{key.upper()} = {stored!r}")


@click.command("stream-key")
@click.argument("username")
@click.option("--rotate", is_flag=True, help="Replace the key; the old one stops working.")
def stream_key_command(username, rotate):
    """Print a user's RTMP stream key (for OBS)."""
    from livelite.services import lives
    from livelite.services.errors import NotFound

    _upgrade()
    try:
        user = accounts.get_by_username(username)
    except NotFound as exc:
        click.echo(f"error: {exc.message}", err=True)
        raise SystemExit(1) from None
    row = lives.rotate_stream_key(user) if rotate else lives.stream_key(user)
    click.echo(row.key)


@click.command("ledger-check")
def ledger_check_command():
    """Recompute every balance from the ledger's entries; exit 1 on any mismatch."""
    from sqlalchemy import func

    from livelite.models import LedgerAccount, LedgerEntry, LedgerTransaction
    from livelite.services import ledger

    _upgrade()
    problems = ledger.check()
    counts = {
        model: db.session.scalar(select(func.count()).select_from(model))
        for model in (LedgerAccount, LedgerTransaction, LedgerEntry)
    }
    for problem in problems:
        click.echo(f"MISMATCH {problem.what}: {problem.detail}", err=True)
    summary = (
        f"Checked {counts[LedgerAccount]} accounts, {counts[LedgerTransaction]} transactions, "
        f"{counts[LedgerEntry]} entries: "
    )
    if problems:
        click.echo(summary + f"{len(problems)} mismatch{'es' if len(problems) != 1 else ''}.")
        raise SystemExit(1)
    click.echo(summary + "the ledger balances.")


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(settings_group)
    app.cli.add_command(stream_key_command)
    app.cli.add_command(ledger_check_command)
