"""Multi-guest (docs/realtime.md, guest_* events, /publish for guests, the guest page).

Socket.IO test clients drive the real handlers with a logged-in session each; what a
guest publishes goes to a real ffmpeg, and its files are checked on disk and through the
playlist route. Each test says what a person would see if the feature broke.
"""

from __future__ import annotations

import pytest
from factories import PASSWORD, make_admin, make_user
from media_support import H264_MIME, clusters, recording, wait_for
from pages import find_form, submit

from livelite import jobs
from livelite.extensions import db, socketio
from livelite.media import hls
from livelite.models import (
    Feed,
    GuestStatus,
    HostBan,
    LiveGuest,
    LiveSanction,
    ModerationEntry,
    Notification,
    Role,
    SanctionKind,
)
from livelite.services import accounts, guests, lives, notifications
from livelite.services.settings import set_setting


@pytest.fixture
def site(app):
    """A creator (maker) who goes live, and viewers: fan (follows maker), gina, stranger."""
    with app.app_context():
        make_admin()
        maker = make_user("maker", role=Role.CREATOR, display_name="Maker")
        accounts.follow(make_user("fan", display_name="Fan"), maker)
        make_user("gina", display_name="Gina")
        make_user("stranger", display_name="Stranger")
    yield
    app.extensions["livelite.media"].shutdown()


# -- helpers -------------------------------------------------------------------------
def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def start(app, visibility: str = "public") -> int:
    with app.app_context():
        return lives.start_live(accounts.get_by_username("maker"), title="Live", visibility=visibility).id


def uid(app, username: str) -> int:
    with app.app_context():
        return accounts.get_by_username(username).id


def join(app, live_id: int, username: str | None = None, **auth):
    browser = login(app, username) if username else app.test_client()
    client = socketio.test_client(
        app, namespace="/live", flask_test_client=browser, auth={"live_id": live_id, **auth}
    )
    assert client.is_connected("/live")
    return client


def events(client, name: str) -> list[dict]:
    return [m["args"][0] for m in client.get_received("/live") if m["name"] == name]


def send(client, event: str, payload=None) -> dict:
    return client.emit(event, payload if payload is not None else {}, namespace="/live", callback=True)


def statuses(app, live_id: int) -> dict[str, str]:
    with app.app_context():
        rows = db.session.scalars(db.select(LiveGuest).where(LiveGuest.live_id == live_id))
        return {row.user.username: row.status.value for row in rows}


def publisher(app, username: str):
    client = socketio.test_client(app, namespace="/publish", flask_test_client=login(app, username))
    assert client.is_connected("/publish")
    return client


def publish_start(client, live_id: int, recorder: str = "r1") -> dict:
    return client.emit(
        "publish_start",
        {"live_id": live_id, "mime": H264_MIME, "recorder_id": recorder},
        namespace="/publish",
        callback=True,
    )


def send_chunk(client, feed_id: int, seq: int, data: bytes) -> dict:
    return client.emit(
        "publish_chunk", {"feed_id": feed_id, "seq": seq, "data": data}, namespace="/publish", callback=True
    )


def publish(client, feed_id: int, seconds: int = 3, first_seq: int = 1) -> int:
    """Send ``seconds`` of real H.264 as one-second chunks; returns the last seq."""
    seq = first_seq - 1
    for chunk in clusters(recording("h264", seconds=seconds)):
        seq += 1
        answer = send_chunk(client, feed_id, seq, chunk)
        assert answer["ok"] is True and answer["last_seq"] == seq, answer
    return seq


def feed_dir(app, live_id: int, feed_id: int):
    with app.app_context():
        feed = lives.get_feed(lives.get_live(live_id), feed_id)
        return app.extensions["livelite.media"].feed_dir(feed)


def on_stage(app, live_id: int, username: str, host=None) -> None:
    """``username`` asks and the host accepts, through the real events."""
    asker = join(app, live_id, username)
    assert send(asker, "guest_request")["ok"] is True
    host = host or join(app, live_id, "maker")
    assert send(host, "guest_accept", {"user_id": uid(app, username)})["ok"] is True


def invitations(app, username: str) -> int:
    with app.app_context():
        rows = db.session.scalars(
            db.select(Notification).where(
                Notification.user_id == uid(app, username), Notification.kind == "guest_invite"
            )
        )
        return len(list(rows))


def feed_users(payload: list[dict]) -> list[tuple[str, bool]]:
    return [(feed["user"]["username"], feed["host"]) for feed in payload]


# -- the whole path: request, accept, a second feed ---------------------------------
def test_a_viewer_asks_the_host_accepts_and_viewers_get_the_guests_feed(app, client, site):
    live_id = start(app)
    host = join(app, live_id, "maker")
    viewer = join(app, live_id, "stranger")
    fan = join(app, live_id, "fan")
    for c in (host, viewer, fan):
        c.get_received("/live")

    asked = send(fan, "guest_request")
    assert asked["ok"] is True and asked["guest"]["status"] == "requested"
    assert events(host, "guests") == [{"guests": [{"user": asked["guest"]["user"], "status": "requested"}]}]
    assert asked["guest"]["user"]["username"] == "fan"
    assert events(viewer, "guests") == []  # the staff room only
    assert [you["guest_status"] for you in events(fan, "you")] == ["requested"]

    # Before the host says yes, the fan cannot publish.
    fan_pub = publisher(app, "fan")
    early = publish_start(fan_pub, live_id)
    assert early == {
        "ok": False,
        "error": "The host has not accepted your request to join yet.",
        "fatal": False,
    }

    accepted = send(host, "guest_accept", {"user_id": uid(app, "fan")})
    assert accepted["ok"] is True and accepted["guest"]["status"] == "active"
    assert [g["status"] for g in events(host, "guests")[-1]["guests"]] == ["active"]
    assert [you["guest_status"] for you in events(fan, "you")] == ["active"]

    host_pub = publisher(app, "maker")
    host_feed = publish_start(host_pub, live_id)["feed_id"]
    assert [feed_users(e["feeds"]) for e in events(viewer, "feeds")] == [[("maker", True)]]

    started = publish_start(fan_pub, live_id)
    assert started["ok"] is True and started["last_seq"] == 0
    guest_feed = started["feed_id"]
    assert guest_feed != host_feed
    (stage,) = events(viewer, "feeds")
    assert feed_users(stage["feeds"]) == [("maker", True), ("fan", False)]
    assert stage["feeds"][1] == {
        "feed_id": guest_feed,
        "user": asked["guest"]["user"],
        "host": False,
        "playlist": f"/lives/{live_id}/feeds/{guest_feed}/index.m3u8",
    }

    # The guest's chunks become segments of their own feed, served like the host's.
    publish(fan_pub, guest_feed, seconds=3)
    folder = feed_dir(app, live_id, guest_feed)
    wait_for(lambda: hls.total_duration(folder) >= 2, message="no segments from the guest's chunks")
    playlist = client.get(stage["feeds"][1]["playlist"]).get_data(as_text=True)
    assert playlist.count("#EXTINF") >= 2

    # Someone who comes in now sees both feeds at once; only staff see the guest list.
    late = join(app, live_id, "gina")
    (state,) = events(late, "room_state")
    assert feed_users(state["feeds"]) == [("maker", True), ("fan", False)]
    assert state["guests"] == []
    assert state["you"]["guest_status"] is None
    (host_state,) = events(join(app, live_id, "maker"), "room_state")
    assert [(g["user"]["username"], g["status"]) for g in host_state["guests"]] == [("fan", "active")]
    (fan_state,) = events(join(app, live_id, "fan"), "room_state")
    assert fan_state["you"]["guest_status"] == "active" and fan_state["you"]["role"] == "guest"


def test_someone_not_on_stage_may_not_publish(app, site):
    live_id = start(app)
    stranger = publisher(app, "stranger")
    answer = publish_start(stranger, live_id)
    assert answer["ok"] is False and answer["fatal"] is False
    assert answer["error"] == "Only the host publishes to this live."
    with app.app_context():
        assert lives.get_live(live_id).feeds == []
    assert app.extensions["livelite.media"].ingests == {}
    # An invitation is not enough either: it must be accepted first.
    host = join(app, live_id, "maker")
    assert send(host, "guest_invite", {"user_id": uid(app, "stranger")})["ok"] is True
    invited = publish_start(stranger, live_id)
    assert invited["error"] == "Accept the host’s invitation before you publish."
    with app.app_context():
        assert lives.get_live(live_id).feeds == []


# -- the limit --------------------------------------------------------------------------
def test_the_stage_holds_at_most_max_guests(app, site):
    with app.app_context():
        set_setting("MAX_GUESTS", 1)
    live_id = start(app)
    host = join(app, live_id, "maker")
    fan, stranger = join(app, live_id, "fan"), join(app, live_id, "stranger")
    assert send(fan, "guest_request")["ok"] and send(stranger, "guest_request")["ok"]
    assert send(host, "guest_invite", {"username": "gina"})["ok"] is True
    gina = join(app, live_id, "gina")

    assert send(host, "guest_accept", {"user_id": uid(app, "fan")})["ok"] is True
    host.get_received("/live")
    full = send(host, "guest_accept", {"user_id": uid(app, "stranger")})
    assert full == {"ok": False, "code": "conflict", "error": "The stage is full: at most 1 guest at once."}
    assert events(host, "room_error") == [full]
    # The invited person cannot take a seat that is not there either.
    assert send(gina, "guest_accept", {"user_id": uid(app, "gina")})["code"] == "conflict"
    assert statuses(app, live_id) == {"fan": "active", "stranger": "requested", "gina": "invited"}

    # A seat frees up when the guest leaves; then the next one fits.
    assert send(fan, "guest_cancel")["ok"] is True
    assert send(host, "guest_accept", {"user_id": uid(app, "stranger")})["ok"] is True
    assert statuses(app, live_id) == {"fan": "left", "stranger": "active", "gina": "invited"}


# -- invitations ---------------------------------------------------------------------
def test_an_invitation_notifies_the_person_who_accepts_it(app, site):
    live_id = start(app)
    host = join(app, live_id, "maker")
    gina = join(app, live_id, "gina")
    gina.get_received("/live")
    gina_browser = login(app, "gina")

    invited = send(host, "guest_invite", {"username": "@Gina"})
    assert invited["ok"] is True and invited["guest"]["status"] == "invited"
    assert [you["guest_status"] for you in events(gina, "you")] == ["invited"]
    with app.app_context():
        (row,) = db.session.scalars(db.select(Notification).where(Notification.user_id == uid(app, "gina")))
        assert row.kind == "guest_invite" and row.live_id == live_id
        assert notifications.describe(row) == "Maker invites you on stage in their live: Live"
        note_id = row.id
    # The bell leads to the guest page, which shows the invitation.
    opened = gina_browser.get(f"/notifications/{note_id}")
    assert opened.status_code == 302 and opened.headers["Location"] == f"/lives/{live_id}/guest"
    page = gina_browser.get(f"/lives/{live_id}/guest").get_data(as_text=True)
    assert "You are invited on stage" in page
    assert find_form(page, f"/lives/{live_id}/guest/accept") is not None
    assert find_form(page, f"/lives/{live_id}/guest/leave") is not None
    # Inviting again changes nothing and does not notify twice.
    assert send(host, "guest_invite", {"user_id": uid(app, "gina")})["ok"] is True
    assert invitations(app, "gina") == 1

    accepted = send(gina, "guest_accept", {"user_id": uid(app, "gina")})
    assert accepted["ok"] is True and accepted["guest"]["status"] == "active"
    assert events(gina, "you")[-1]["guest_status"] == "active"
    assert events(host, "guests")[-1]["guests"][0]["status"] == "active"
    # On stage, the guest page is the publisher, aimed at this live.
    page = gina_browser.get(f"/lives/{live_id}/guest").get_data(as_text=True)
    assert f'data-guest-live="{live_id}"' in page and "Leave the stage" in page
    assert "js/studio/publisher.js" in page


def test_the_guest_page_accepts_declines_and_leaves_with_forms(app, site):
    live_id = start(app)
    host = join(app, live_id, "maker")
    assert send(host, "guest_invite", {"username": "gina"})["ok"] is True
    gina = login(app, "gina")

    declined = submit(gina, f"/lives/{live_id}/guest", {}, action=f"/lives/{live_id}/guest/leave")
    assert declined.status_code == 302 and declined.headers["Location"] == f"/lives/{live_id}"
    assert statuses(app, live_id) == {"gina": "declined"}
    assert "You are not on this live’s stage" in gina.get(f"/lives/{live_id}/guest").get_data(as_text=True)

    assert send(host, "guest_invite", {"username": "gina"})["ok"] is True
    assert invitations(app, "gina") == 2  # a new invitation after a decline is news again
    accepted = submit(gina, f"/lives/{live_id}/guest", {}, action=f"/lives/{live_id}/guest/accept")
    assert accepted.status_code == 302 and statuses(app, live_id) == {"gina": "active"}
    assert events(host, "guests")[-1]["guests"][0]["status"] == "active"

    submit(gina, f"/lives/{live_id}/guest", {}, action=f"/lives/{live_id}/guest/leave")
    assert statuses(app, live_id) == {"gina": "left"}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("kicked", "This person was removed from this live."),
        ("banned_by_host", "This person is banned from the host’s lives."),
        ("not_a_follower", "This live is for followers: Gina does not follow the host."),
        ("unknown", "No one has this username."),
        ("host", "You are the host: you are already on stage."),
    ],
)
def test_some_people_cannot_be_invited(app, site, setup, message):
    live_id = start(app, visibility="followers" if setup == "not_a_follower" else "public")
    gina_id, maker_id = uid(app, "gina"), uid(app, "maker")
    with app.app_context():
        if setup == "kicked":
            db.session.add(LiveSanction(live_id=live_id, user_id=gina_id, kind=SanctionKind.KICK))
        elif setup == "banned_by_host":
            db.session.add(HostBan(host_id=maker_id, user_id=gina_id))
        db.session.commit()
    host = join(app, live_id, "maker")
    payload = {"username": {"unknown": "nobody", "host": "maker"}.get(setup, "gina")}
    answer = send(host, "guest_invite", payload)
    assert answer["ok"] is False and answer["error"] == message
    assert statuses(app, live_id) == {}
    assert invitations(app, "gina") == 0


# -- removing a guest --------------------------------------------------------------------
def test_the_host_removes_a_guest_whose_feed_ends_at_once(app, site):
    live_id = start(app)
    host = join(app, live_id, "maker")
    viewer = join(app, live_id, "stranger")
    fan = join(app, live_id, "fan")
    assert send(fan, "guest_request")["ok"] is True
    assert send(host, "guest_accept", {"user_id": uid(app, "fan")})["ok"] is True
    host_pub, fan_pub = publisher(app, "maker"), publisher(app, "fan")
    host_feed = publish_start(host_pub, live_id)["feed_id"]
    guest_feed = publish_start(fan_pub, live_id)["feed_id"]
    last = publish(fan_pub, guest_feed, seconds=2)
    media = app.extensions["livelite.media"]
    assert guest_feed in media.ingests
    for c in (host, viewer, fan):
        c.get_received("/live")

    removed = send(host, "guest_remove", {"user_id": uid(app, "fan")})
    assert removed["ok"] is True and removed["guest"]["status"] == "removed"
    with app.app_context():
        feed = db.session.get(Feed, guest_feed)
        assert feed.active is False and feed.ended_at is not None
        assert lives.get_live(live_id).is_live  # the live goes on
    assert guest_feed not in media.ingests and host_feed in media.ingests
    with app.app_context():  # the moderation log keeps it
        entry = db.session.scalar(db.select(ModerationEntry).where(ModerationEntry.live_id == live_id))
        assert (entry.action, entry.actor_id, entry.target_id) == (
            "guest_remove",
            uid(app, "maker"),
            uid(app, "fan"),
        )
    assert [feed_users(e["feeds"]) for e in events(viewer, "feeds")] == [[("maker", True)]]
    assert [you["guest_status"] for you in events(fan, "you")] == [None]
    assert events(host, "guests")[-1] == {"guests": []}

    # The guest's page keeps sending for a moment: refused for good, with the reason.
    refused = send_chunk(fan_pub, guest_feed, last + 1, clusters(recording("h264", seconds=3))[0])
    assert refused == {
        "ok": False,
        "fatal": True,
        "code": "removed",
        "error": "The host removed you from the stage.",
    }
    again = publish_start(fan_pub, live_id, recorder="r2")
    assert again["ok"] is False and again["error"] == "The host removed you from the stage."
    assert send(fan, "guest_request")["code"] == "not_allowed"
    # The host's own feed is untouched.
    assert send_chunk(host_pub, host_feed, 1, clusters(recording("h264", seconds=3))[0])["ok"] is True
    # What the guest sent before is kept, finished like the end of a live.
    playlist = (feed_dir(app, live_id, guest_feed) / "run-0001.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in playlist and playlist.count("#EXTINF") >= 1


def test_kicking_a_guest_takes_them_off_the_stage(app, site):
    live_id = start(app)
    host = join(app, live_id, "maker")
    viewer = join(app, live_id, "stranger")
    fan = join(app, live_id, "fan")
    assert send(fan, "guest_request")["ok"] is True
    assert send(host, "guest_accept", {"user_id": uid(app, "fan")})["ok"] is True
    fan_pub = publisher(app, "fan")
    guest_feed = publish_start(fan_pub, live_id)["feed_id"]
    last = publish(fan_pub, guest_feed, seconds=2)
    viewer.get_received("/live")

    assert send(host, "user_kick", {"user_id": uid(app, "fan")})["ok"] is True

    assert statuses(app, live_id) == {"fan": "removed"}
    assert guest_feed not in app.extensions["livelite.media"].ingests
    assert [feed_users(e["feeds"]) for e in events(viewer, "feeds")] == [[]]
    refused = send_chunk(fan_pub, guest_feed, last + 1, clusters(recording("h264", seconds=3))[0])
    assert refused["ok"] is False and refused["fatal"] is True


def test_a_guest_who_leaves_stops_publishing(app, site):
    live_id = start(app)
    host = join(app, live_id, "maker")
    viewer = join(app, live_id, "stranger")
    fan = join(app, live_id, "fan")
    assert send(fan, "guest_request")["ok"] is True
    assert send(host, "guest_accept", {"user_id": uid(app, "fan")})["ok"] is True
    fan_pub = publisher(app, "fan")
    guest_feed = publish_start(fan_pub, live_id)["feed_id"]
    assert feed_users(events(viewer, "feeds")[-1]["feeds"]) == [("fan", False)]
    last = publish(fan_pub, guest_feed, seconds=2)

    left = send(fan, "guest_cancel")
    assert left["ok"] is True and left["guest"]["status"] == "left"
    assert events(viewer, "feeds")[-1] == {"feeds": []}
    answer = send_chunk(fan_pub, guest_feed, last + 1, clusters(recording("h264", seconds=3))[0])
    assert answer["fatal"] is True and answer["code"] == "left" and answer["error"] == "You left the stage."
    # Leaving is not removal: they may ask again, and the host may take them back,
    # when the same feed goes on with a new run.
    assert send(fan, "guest_request")["ok"] is True
    assert send(host, "guest_accept", {"user_id": uid(app, "fan")})["ok"] is True
    resumed = publish_start(fan_pub, live_id, recorder="r2")
    assert resumed["ok"] is True and resumed["feed_id"] == guest_feed
    assert publish(fan_pub, guest_feed, seconds=2) == 2


def test_removal_through_another_process_is_seen_on_the_next_chunk(app, site):
    """The host removed the guest where this process's registry never heard of it (the
    API on another worker): the database says so, and the chunk is refused."""
    live_id = start(app)
    on_stage(app, live_id, "fan")
    fan_pub = publisher(app, "fan")
    guest_feed = publish_start(fan_pub, live_id)["feed_id"]
    with app.app_context():
        row = db.session.scalar(db.select(LiveGuest).where(LiveGuest.user_id == uid(app, "fan")))
        row.status = GuestStatus.REMOVED
        db.session.commit()
    ingest = app.extensions["livelite.media"].ingests[guest_feed]
    answer = send_chunk(fan_pub, guest_feed, 1, clusters(recording("h264", seconds=3))[0])
    assert answer["fatal"] is True and answer["code"] == "removed"
    assert ingest.bytes_in == 0 and ingest.closed  # nothing written; this process let it go
    assert guest_feed not in app.extensions["livelite.media"].ingests


# -- permissions ---------------------------------------------------------------------
@pytest.mark.parametrize("who", [None, "stranger", "onstage"])
@pytest.mark.parametrize(
    ("event", "target"), [("guest_invite", "gina"), ("guest_accept", "fan"), ("guest_remove", "onstage")]
)
def test_only_the_host_invites_accepts_or_removes(app, site, who, event, target):
    """A visitor, a viewer or a guest forging the host's events is refused, and nothing
    changes: no status, no notification, no `guests` to the staff."""
    live_id = start(app)
    with app.app_context():
        make_user("onstage")
    on_stage(app, live_id, "onstage")
    assert send(join(app, live_id, "fan"), "guest_request")["ok"] is True
    before = statuses(app, live_id)
    host = join(app, live_id, "maker")
    host.get_received("/live")
    forger = join(app, live_id, who)
    forger.get_received("/live")

    answer = send(forger, event, {"user_id": uid(app, target)})
    assert answer["ok"] is False
    assert answer["code"] == ("login_required" if who is None else "not_allowed")
    assert events(forger, "room_error") == [answer]
    assert statuses(app, live_id) == before
    assert events(host, "guests") == []
    assert invitations(app, "gina") == 0


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("guest_accept", None),
        ("guest_accept", "fan"),
        ("guest_accept", [1]),
        ("guest_accept", {"user_id": "2"}),
        ("guest_accept", {"user_id": True}),
        ("guest_accept", {"user_id": -1}),
        ("guest_accept", {"username": "fan"}),  # only invitations take a username
        ("guest_remove", {}),
        ("guest_invite", {"username": ""}),
        ("guest_invite", {"username": 42}),
        ("guest_request", "please"),
        ("guest_cancel", [1]),
    ],
)
def test_malformed_payloads_are_invalid(app, site, event, payload):
    live_id = start(app)
    assert send(join(app, live_id, "fan"), "guest_request")["ok"] is True
    before = statuses(app, live_id)
    client = join(
        app, live_id, "maker" if event != "guest_request" and event != "guest_cancel" else "stranger"
    )
    answer = client.emit(event, payload, namespace="/live", callback=True)
    assert answer["ok"] is False and answer["code"] == "invalid"
    assert statuses(app, live_id) == before


def test_requests_are_for_people_who_may_be_on_stage(app, site):
    live_id = start(app)
    assert send(join(app, live_id), "guest_request")["code"] == "login_required"
    assert send(join(app, live_id, "maker"), "guest_request")["code"] == "conflict"
    fan = join(app, live_id, "fan")
    assert send(fan, "guest_request")["ok"] is True
    assert send(fan, "guest_request")["ok"] is True  # a second tab asking again
    assert statuses(app, live_id) == {"fan": "requested"}
    assert send(fan, "guest_cancel")["guest"]["status"] == "left"
    assert send(fan, "guest_cancel")["code"] == "not_found"


# -- recording -------------------------------------------------------------------------
def test_a_guests_feed_is_recorded_and_closed_when_the_live_ends(app, client, site):
    live_id = start(app)
    on_stage(app, live_id, "fan")
    fan_pub = publisher(app, "fan")
    guest_feed = publish_start(fan_pub, live_id)["feed_id"]
    last = publish(fan_pub, guest_feed, seconds=4)
    folder = feed_dir(app, live_id, guest_feed)

    app.extensions["livelite.media"].end_live(live_id, "host")
    # Every second the guest sent is in the recording, finished with ENDLIST.
    run = (folder / "run-0001.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in run
    assert hls.total_duration(folder) == pytest.approx(4.0, abs=0.1)
    assert (folder / "run-0001-init.mp4").is_file()
    served = client.get(f"/lives/{live_id}/feeds/{guest_feed}/index.m3u8").get_data(as_text=True)
    assert "#EXT-X-ENDLIST" in served and served.count("#EXTINF") == 4
    with app.app_context():
        assert db.session.get(Feed, guest_feed).active is False
    late = send_chunk(fan_pub, guest_feed, last + 1, clusters(recording("h264", seconds=3))[0])
    assert late["fatal"] is True and late["error"] == "This live has ended."


# -- pages and the stage as JSON ------------------------------------------------------------
def test_the_stage_json_and_the_invite_only_guest_page(app, site):
    live_id = start(app, visibility="invite")
    with app.app_context():
        token = lives.get_live(live_id).invite_token
    host = join(app, live_id, "maker")
    stranger = login(app, "stranger")
    assert stranger.get(f"/lives/{live_id}/guest").status_code == 403
    assert stranger.get(f"/lives/{live_id}/stage").status_code == 403
    assert send(host, "guest_invite", {"username": "gina"})["ok"] is True

    # The invited person gets in without the link: the invitation carries the token.
    gina = login(app, "gina")
    page = gina.get(f"/lives/{live_id}/guest").get_data(as_text=True)
    assert f'data-invite="{token}"' in page
    assert gina.get(f"/lives/{live_id}/stage").get_json() == {
        "feeds": [],
        "guest_status": "invited",
        "guests": [],
    }
    guest_room = join(app, live_id, "gina", invite=token)
    assert send(guest_room, "guest_accept", {"user_id": uid(app, "gina")})["ok"] is True

    fan_pub = publisher(app, "gina")
    guest_feed = publish_start(fan_pub, live_id)["feed_id"]
    staff_view = login(app, "maker").get(f"/lives/{live_id}/stage").get_json()
    assert staff_view["guests"][0]["status"] == "active"
    (feed,) = staff_view["feeds"]
    assert feed["playlist"] == f"/lives/{live_id}/feeds/{guest_feed}/index.m3u8?invite={token}"
    assert feed["host"] is False


def test_the_watch_page_offers_to_join_and_draws_the_stage(app, site):
    live_id = start(app)
    page = login(app, "fan").get(f"/lives/{live_id}").get_data(as_text=True)
    assert "data-stage-watch" in page and "Request to join" in page
    assert 'data-signed-in="1"' in page and "js/lives/guests.js" in page
    host_page = login(app, "maker").get(f"/lives/{live_id}").get_data(as_text=True)
    assert 'data-signed-in="0"' in host_page
    with app.app_context():
        lives.end_live(lives.get_live(live_id), "host")
    assert "data-stage-watch" not in login(app, "fan").get(f"/lives/{live_id}").get_data(as_text=True)


def test_the_studio_has_the_guests_panel(app, site):
    live_id = start(app)
    page = login(app, "maker").get("/studio").get_data(as_text=True)
    assert "data-studio-guests" in page and f'data-live-id="{live_id}"' in page
    assert "Invite someone by username" in page


# -- a guest's page that stops sending ------------------------------------------------
def test_a_guest_feed_silent_past_the_grace_is_closed_by_the_job(app, site):
    live_id = start(app)
    on_stage(app, live_id, "fan")
    viewer = join(app, live_id, "stranger")
    fan_pub = publisher(app, "fan")
    guest_feed = publish_start(fan_pub, live_id)["feed_id"]
    last = publish(fan_pub, guest_feed, seconds=2)
    media = app.extensions["livelite.media"]
    viewer.get_received("/live")
    with app.app_context():
        grace = app.config["PUBLISHER_GRACE_SECONDS"]
        assert guests.close_lost_feeds() == 0  # it sent a moment ago
        media.last_data[guest_feed] -= grace + 1
        jobs.guest_feeds(app)
        assert db.session.get(Feed, guest_feed).active is False
        assert lives.get_live(live_id).is_live
    assert guest_feed not in media.ingests
    assert events(viewer, "feeds") == [{"feeds": []}]
    late = send_chunk(fan_pub, guest_feed, last + 1, clusters(recording("h264", seconds=3))[0])
    assert late["fatal"] is True and late["code"] == "lost"
    assert statuses(app, live_id) == {"fan": "active"}  # still on stage: may start again
    again = publish_start(fan_pub, live_id, recorder="r2")
    assert again["ok"] is True and again["feed_id"] == guest_feed
    assert [feed_users(e["feeds"]) for e in events(viewer, "feeds")] == [[("fan", False)]]


def test_a_guest_still_sending_does_not_keep_a_live_without_its_host(app, site):
    live_id = start(app)
    on_stage(app, live_id, "fan")
    host_feed = publish_start(publisher(app, "maker"), live_id)["feed_id"]
    fan_pub = publisher(app, "fan")
    guest_feed = publish_start(fan_pub, live_id)["feed_id"]
    publish(fan_pub, guest_feed, seconds=2)
    media = app.extensions["livelite.media"]
    media.last_data[host_feed] -= app.config["PUBLISHER_GRACE_SECONDS"] + 1
    media.tick()
    with app.app_context():
        live = lives.get_live(live_id)
        assert live.is_live is False and live.end_reason == "publisher_lost"
