"""A host's moderators, blocked words and bans, the moderation log and their pages
(services.moderators, blueprints/lives/moderation_routes.py, the ``moderator_set`` event)."""

from __future__ import annotations

import pytest
from factories import PASSWORD, make_admin, make_user
from pages import field_errors, find_form, flashes, submit, text_of
from sqlalchemy import select

from livelite import realtime
from livelite.blueprints.notifications.routes import target_url
from livelite.extensions import db, socketio
from livelite.models import HostBan, ModerationEntry, Moderator, Notification, Role, User
from livelite.services import lives, moderators, notifications, room
from livelite.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def site(app):
    """@host (creator) with @fan, @mia, @other (members), @rival (another creator),
    @gone (banned) and the site admin."""
    with app.app_context():
        make_admin()
        make_user("host", display_name="Hana Host", role=Role.CREATOR)
        make_user("rival", role=Role.CREATOR)
        for name in ("fan", "mia", "other"):
            make_user(name, display_name=name.title())
        make_user("gone", banned=True)
    yield app
    app.extensions["livelite.media"].shutdown()


def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def start(app, host="host") -> int:
    with app.app_context():
        return lives.start_live(get(host), title="Evening jam", visibility="public").id


def watcher(app, live_id: int, browser):
    client = socketio.test_client(
        app, namespace="/live", flask_test_client=browser, auth={"live_id": live_id}
    )
    assert client.is_connected("/live")
    return client


def received(client, event: str) -> list[dict]:
    return [m["args"][0] for m in client.get_received("/live") if m["name"] == event]


def log_actions(host: str) -> list[tuple[str, str | None, str | None]]:
    rows = moderators.log_entries(get(host))
    return [
        (e.action, e.actor.username if e.actor else None, e.target.username if e.target else None)
        for e in rows
    ]


# -- appointing ---------------------------------------------------------------------------
def test_the_host_appoints_a_moderator_who_is_told_and_logged(site):
    with site.app_context():
        host, mia = get("host"), get("mia")
        moderators.appoint(host, host, mia)
        assert [u.username for u in moderators.moderators_of(host)] == ["mia"]
        assert room.is_moderator_of(host.id, mia.id)
        assert log_actions("host") == [("moderator_add", "host", "mia")]

        (note,) = db.session.scalars(select(Notification).where(Notification.user_id == mia.id))
        assert note.kind == "moderator_added"
        assert notifications.describe(note) == "Hana Host made you a moderator of their lives."
        with site.test_request_context():
            assert target_url(note) == "/@host"

        moderators.remove(host, host, mia)
        assert moderators.moderators_of(host) == []
        assert log_actions("host")[0] == ("moderator_remove", "host", "mia")
        # Appointed again: a new notification, not swallowed by the first one's key.
        moderators.appoint(host, host, mia)
        assert (
            db.session.scalar(
                select(db.func.count()).select_from(Notification).where(Notification.user_id == mia.id)
            )
            == 2
        )


def test_an_admin_may_appoint_for_a_host_but_nobody_else(site):
    with site.app_context():
        host, mia, other = get("host"), get("mia"), get("other")
        with pytest.raises(PermissionDenied):
            moderators.appoint(host, other, mia)
        with pytest.raises(PermissionDenied):
            moderators.appoint(host, get("rival"), mia)
        assert moderators.moderators_of(host) == []
        moderators.appoint(host, get("siteadmin"), mia)
        assert [u.username for u in moderators.moderators_of(host)] == ["mia"]
        assert log_actions("host") == [("moderator_add", "siteadmin", "mia")]
        # A moderator may not appoint more moderators.
        with pytest.raises(PermissionDenied):
            moderators.appoint(host, mia, other)
        with pytest.raises(PermissionDenied):
            moderators.remove(host, other, mia)


def test_who_cannot_be_appointed(site):
    with site.app_context():
        host, mia = get("host"), get("mia")
        with pytest.raises(Conflict, match="you moderate your lives already"):
            moderators.appoint(host, host, host)
        with pytest.raises(Conflict, match="banned from the site"):
            moderators.appoint(host, host, get("gone"))
        db.session.add(HostBan(host_id=host.id, user_id=get("other").id, by_id=host.id))
        db.session.commit()
        with pytest.raises(Conflict, match="Unban them first"):
            moderators.appoint(host, host, get("other"))
        moderators.appoint(host, host, mia)
        with pytest.raises(Conflict, match="@mia is already your moderator"):
            moderators.appoint(host, host, mia)
        assert db.session.scalar(select(db.func.count()).select_from(Moderator)) == 1
        with pytest.raises(NotFound, match="@fan is not your moderator"):
            moderators.remove(host, host, get("fan"))


def test_moderators_are_per_host(site):
    live_id = start(site)
    rival_live = start(site, "rival")
    with site.app_context():
        moderators.appoint(get("host"), get("host"), get("mia"))
        assert room.role_of(lives.get_live(live_id), get("mia")) == room.RoomRole.MODERATOR
        assert room.role_of(lives.get_live(rival_live), get("mia")) == room.RoomRole.VIEWER


# -- in the room, at once ------------------------------------------------------------------------
def test_appointing_from_the_room_changes_the_persons_connections_at_once(site):
    live_id = start(site)
    host = watcher(site, live_id, login(site, "host"))
    mia_tab1 = watcher(site, live_id, login(site, "mia"))
    mia_tab2 = watcher(site, live_id, login(site, "mia"))
    fan = watcher(site, live_id, login(site, "fan"))
    for c in (host, mia_tab1, mia_tab2, fan):
        c.get_received("/live")
    with site.app_context():
        mia_id = get("mia").id

    ack = host.emit("moderator_set", {"user_id": mia_id, "moderator": True}, namespace="/live", callback=True)
    assert ack == {"ok": True, "user_id": mia_id, "moderator": True}
    for tab in (mia_tab1, mia_tab2):
        (you,) = received(tab, "you")
        assert you["role"] == "moderator" and you["user_id"] == mia_id
    assert received(fan, "you") == []

    # Both of Mia's tabs are in the staff room now: staff-only events reach them.
    with site.app_context():
        realtime.emit_to_staff(live_id, "guests", {"guests": []})
    assert received(mia_tab1, "guests") == [{"guests": []}]
    assert received(mia_tab2, "guests") == [{"guests": []}]
    assert received(fan, "guests") == []

    ack = host.emit(
        "moderator_set", {"user_id": mia_id, "moderator": False}, namespace="/live", callback=True
    )
    assert ack["ok"] is True
    assert received(mia_tab1, "you")[0]["role"] == "viewer"
    with site.app_context():
        realtime.emit_to_staff(live_id, "guests", {"guests": []})
    assert received(mia_tab1, "guests") == [] and received(mia_tab2, "guests") == []
    with site.app_context():
        assert moderators.moderators_of(get("host")) == []


def test_a_viewer_who_forges_moderator_set_changes_nothing(site):
    live_id = start(site)
    fan = watcher(site, live_id, login(site, "fan"))
    fan.get_received("/live")
    with site.app_context():
        fan_id = get("fan").id
    ack = fan.emit("moderator_set", {"user_id": fan_id, "moderator": True}, namespace="/live", callback=True)
    assert ack["ok"] is False and ack["code"] == "not_allowed"
    assert received(fan, "room_error") == [ack]
    with site.app_context():
        assert moderators.moderators_of(get("host")) == []
        assert db.session.scalar(select(db.func.count()).select_from(ModerationEntry)) == 0

    # A moderator cannot appoint others either; a visitor is told to log in.
    with site.app_context():
        moderators.appoint(get("host"), get("host"), get("mia"))
        other_id = get("other").id
    mia = watcher(site, live_id, login(site, "mia"))
    ack = mia.emit(
        "moderator_set", {"user_id": other_id, "moderator": True}, namespace="/live", callback=True
    )
    assert ack["code"] == "not_allowed"
    visitor = watcher(site, live_id, site.test_client())
    ack = visitor.emit(
        "moderator_set", {"user_id": other_id, "moderator": True}, namespace="/live", callback=True
    )
    assert ack["code"] == "login_required"


def test_an_admin_appoints_from_the_room(site):
    live_id = start(site)
    admin = watcher(site, live_id, login(site, "siteadmin"))
    with site.app_context():
        mia_id = get("mia").id
    ack = admin.emit(
        "moderator_set", {"user_id": mia_id, "moderator": True}, namespace="/live", callback=True
    )
    assert ack["ok"] is True
    with site.app_context():
        assert [u.username for u in moderators.moderators_of(get("host"))] == ["mia"]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "mia",
        {},
        {"user_id": "2", "moderator": True},
        {"user_id": True, "moderator": True},
        {"user_id": -1, "moderator": True},
        {"user_id": 2},
        {"user_id": 2, "moderator": "yes"},
    ],
)
def test_malformed_moderator_set_is_invalid(site, payload):
    live_id = start(site)
    host = watcher(site, live_id, login(site, "host"))
    ack = host.emit("moderator_set", payload, namespace="/live", callback=True)
    assert ack["ok"] is False and ack["code"] == "invalid"


def test_moderator_set_for_an_unknown_person_is_not_found(site):
    live_id = start(site)
    host = watcher(site, live_id, login(site, "host"))
    ack = host.emit("moderator_set", {"user_id": 9999, "moderator": True}, namespace="/live", callback=True)
    assert ack["code"] == "not_found"


# -- blocked words ----------------------------------------------------------------------------
def test_blocked_words_are_case_folded_trimmed_deduplicated_and_sorted(site):
    with site.app_context():
        host = get("host")
        saved = moderators.set_blocked_words(
            host, host, ["  Spoiler ", "SPAM", "spam", "", "Straße", "two  words"]
        )
        assert saved == ["spam", "spoiler", "strasse", "two words"]
        assert moderators.blocked_words(host.id) == saved
        assert moderators.blocked_words(get("rival").id) == []
        (entry,) = moderators.log_entries(host)
        assert entry.action == "blocked_words" and entry.detail == "+ spam, spoiler, strasse, two words"

        # Replacing the list: what was removed and added is logged; the same list logs nothing.
        moderators.set_blocked_words(host, host, ["spam", "scam"])
        assert moderators.blocked_words(host.id) == ["scam", "spam"]
        assert moderators.log_entries(host)[0].detail == "+ scam; − spoiler, strasse, two words"
        moderators.set_blocked_words(host, host, ["SCAM", "Spam"])
        assert len(moderators.log_entries(host)) == 2


def test_blocked_words_limits(site):
    with site.app_context():
        host = get("host")
        words = [f"word{i}" for i in range(200)]
        assert len(moderators.set_blocked_words(host, host, [*words, "WORD1"])) == 200
        with pytest.raises(ValidationFailed) as caught:
            moderators.set_blocked_words(host, host, [*words, "one-too-many"])
        assert caught.value.errors == {"words": ["You can block 200 words at most; this list has 201."]}
        with pytest.raises(ValidationFailed) as caught:
            moderators.set_blocked_words(host, host, ["x" * 51])
        assert caught.value.errors["words"][0].endswith(
            "is too long: a blocked word has 50 characters at most."
        )
        assert moderators.set_blocked_words(host, host, ["y" * 50]) == ["y" * 50]
        with pytest.raises(PermissionDenied):
            moderators.set_blocked_words(host, get("mia"), ["nope"])
        assert moderators.blocked_words(host.id) == ["y" * 50]


# -- bans -----------------------------------------------------------------------------------
def test_unban_lets_the_person_back_and_is_logged(site):
    live_id = start(site)
    with site.app_context():
        host, fan = get("host"), get("fan")
        db.session.add(HostBan(host_id=host.id, user_id=fan.id, by_id=host.id, live_id=live_id))
        db.session.commit()
        assert [b.user.username for b in moderators.bans_of(host)] == ["fan"]
        with pytest.raises(PermissionDenied):
            room.require_may_join(lives.get_live(live_id), fan)
        with pytest.raises(PermissionDenied):
            moderators.unban(host, get("mia"), fan.id)
        moderators.unban(host, host, fan.id)
        assert moderators.bans_of(host) == []
        room.require_may_join(lives.get_live(live_id), fan)
        assert log_actions("host") == [("unban", "host", "fan")]
        with pytest.raises(NotFound):
            moderators.unban(host, host, fan.id)


# -- pages --------------------------------------------------------------------------------------
@pytest.fixture
def busy_host(site):
    """@host with a moderator (@mia), two blocked words, a ban (@fan), a mute and a
    settings change in the log."""
    live_id = start(site)
    with site.app_context():
        host = get("host")
        moderators.appoint(host, host, get("mia"))
        moderators.set_blocked_words(host, host, ["Spoiler", "spam"])
        db.session.add(HostBan(host_id=host.id, user_id=get("fan").id, by_id=get("mia").id, live_id=live_id))
        db.session.add(
            ModerationEntry(
                host_id=host.id,
                live_id=live_id,
                actor_id=get("mia").id,
                target_id=get("other").id,
                action="mute",
                detail="10m",
            )
        )
        db.session.add(
            ModerationEntry(
                host_id=host.id,
                live_id=live_id,
                actor_id=host.id,
                action="settings",
                detail="slow_mode_seconds=30, comments_off=true",
            )
        )
        db.session.commit()
    return live_id


def test_the_settings_page_shows_moderators_words_bans_and_the_log(site, busy_host):
    browser = login(site, "host")
    html = browser.get("/settings/moderation").get_data(as_text=True)
    text = text_of(html)
    assert "Moderators 1" in text and "@mia" in text
    assert "Blocked words 2 / 200" in text
    form = find_form(html, "/settings/moderation/blocked-words")
    assert form.values()["words"].strip() == "spam\nspoiler"
    assert "Banned from your lives 1" in text and "@fan" in text
    # The log: the live's title, who, what in words, to whom.
    assert "Evening jam @mia Muted for 10 minutes @other" in text
    assert "All your lives @host Changed the blocked words" in text
    assert "All your lives @host Made moderator @mia" in text
    # The settings navigation links here, marked as the current page.
    assert '<a href="/settings/moderation" aria-current="page">' in html
    assert 'href="/settings/moderation"' in login(site, "mia").get("/settings/profile").get_data(as_text=True)


def test_another_persons_settings_page_shows_only_their_own(site, busy_host):
    text = text_of(login(site, "mia").get("/settings/moderation").get_data(as_text=True))
    assert "No moderators yet." in text and "Nobody is banned." in text
    assert "Blocked words 0 / 200" in text and "Evening jam" not in text


def test_adding_and_removing_a_moderator_on_the_page(site):
    browser = login(site, "host")
    response = submit(
        browser, "/settings/moderation", {"username": "@Other"}, action="/settings/moderation/moderators"
    )
    assert response.status_code == 302
    page = browser.get("/settings/moderation").get_data(as_text=True)
    assert flashes(page) == ["@other is now a moderator of your lives. They are told."]
    with site.app_context():
        other_id = get("other").id
        assert [u.username for u in moderators.moderators_of(get("host"))] == ["other"]

    response = submit(
        browser, "/settings/moderation", {"username": "nobody"}, action="/settings/moderation/moderators"
    )
    assert response.status_code == 404
    assert field_errors(response.get_data(as_text=True), "username") == ["No one has this username."]
    response = submit(
        browser, "/settings/moderation", {"username": "other"}, action="/settings/moderation/moderators"
    )
    assert response.status_code == 409
    assert field_errors(response.get_data(as_text=True), "username") == ["@other is already your moderator."]

    response = submit(
        browser, "/settings/moderation", action=f"/settings/moderation/moderators/{other_id}/remove"
    )
    assert response.status_code == 302
    assert flashes(browser.get("/settings/moderation").get_data(as_text=True)) == [
        "@other no longer moderates your lives."
    ]
    with site.app_context():
        assert moderators.moderators_of(get("host")) == []


def test_a_form_without_the_csrf_token_changes_nothing(site, busy_host):
    browser = login(site, "host")
    with site.app_context():
        mia_id = get("mia").id
    browser.post(f"/settings/moderation/moderators/{mia_id}/remove", data={})
    browser.post("/settings/moderation/blocked-words", data={"words": "x"})
    with site.app_context():
        assert [u.username for u in moderators.moderators_of(get("host"))] == ["mia"]
        assert moderators.blocked_words(get("host").id) == ["spam", "spoiler"]


def test_saving_blocked_words_from_the_textarea(site):
    browser = login(site, "host")
    response = submit(
        browser,
        "/settings/moderation",
        {"words": "Spoiler, SPAM\r\n  scam  \n\n,spam"},
        action="/settings/moderation/blocked-words",
    )
    assert response.status_code == 302
    html = browser.get("/settings/moderation").get_data(as_text=True)
    assert flashes(html) == ["Your blocked words are saved (3 of 200)."]
    assert "Blocked words 3 / 200" in text_of(html)
    with site.app_context():
        assert moderators.blocked_words(get("host").id) == ["scam", "spam", "spoiler"]

    typed = "\n".join(f"w{i}" for i in range(201))
    response = submit(
        browser, "/settings/moderation", {"words": typed}, action="/settings/moderation/blocked-words"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "words") == ["You can block 200 words at most; this list has 201."]
    assert (
        find_form(html, "/settings/moderation/blocked-words").values()["words"].strip().startswith("w0\nw1\n")
    )
    with site.app_context():
        assert moderators.blocked_words(get("host").id) == ["scam", "spam", "spoiler"]


def test_unban_on_the_page(site, busy_host):
    browser = login(site, "host")
    with site.app_context():
        fan_id = get("fan").id
    response = submit(browser, "/settings/moderation", action=f"/settings/moderation/bans/{fan_id}/remove")
    assert response.status_code == 302
    html = browser.get("/settings/moderation").get_data(as_text=True)
    assert flashes(html) == ["@fan may join your lives again."]
    assert "Nobody is banned." in text_of(html)
    with site.app_context():
        assert moderators.bans_of(get("host")) == []


def test_the_settings_page_needs_a_login(site):
    response = site.test_client().get("/settings/moderation")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_per_live_log_is_for_the_host_and_their_moderators(site, busy_host):
    url = f"/lives/{busy_host}/moderation"
    for who in ("host", "mia", "siteadmin"):
        text = text_of(login(site, who).get(url).get_data(as_text=True))
        assert "Moderation log" in text and "Evening jam" in text
        assert "@mia Muted for 10 minutes @other" in text
        assert "@host Changed the room settings slow mode 30 s, comments off" in text
        # Host-wide changes (words, appointments) belong to the settings page, not one live.
        assert "Changed the blocked words" not in text
    assert login(site, "other").get(url).status_code == 403
    assert login(site, "rival").get(url).status_code == 403
    assert site.test_client().get(url).status_code == 302
    assert login(site, "host").get("/lives/9999/moderation").status_code == 404
