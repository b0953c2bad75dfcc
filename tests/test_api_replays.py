"""The replays API (blueprints/api/replays.py): one replay with its feeds and files, the
lists, changing, deleting and retrying, the chat and Q&A time line, posting to the feed,
and the storage figures — with the rules of services.replays (404 for whoever may not
see a replay, the owner and admins manage, only the owner posts).

Every replay here is made by the real pipeline: the host's feed is filled by the app's
ingest from an ffmpeg recording, the live is ended through LiveMedia (whose listener
makes the replay), and ``replays.make_pending`` makes the MP4s with ffmpeg.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from factories import PASSWORD, make_admin, make_token, make_user
from media_support import clusters, decode, publish_recording, recording
from pages import meta_csrf_token, submit
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import FeedSource, Replay, ReplayFeed, Role, Video, VideoStatus
from livelite.services import accounts, chat, guests, lives, moderation, questions, replays, room, videos
from livelite.services.settings import set_setting

PEOPLE = ("anonymous", "stranger", "fan", "maker", "siteadmin")
PATHS = {
    ("/api/v1/replays", "get"),
    ("/api/v1/users/{username}/replays", "get"),
    ("/api/v1/replays/{replay_id}", "get"),
    ("/api/v1/replays/{replay_id}", "patch"),
    ("/api/v1/replays/{replay_id}", "delete"),
    ("/api/v1/replays/{replay_id}/retry", "post"),
    ("/api/v1/replays/{replay_id}/timeline", "get"),
    ("/api/v1/replays/{replay_id}/post", "post"),
    ("/api/v1/me/storage", "get"),
    ("/api/v1/admin/storage", "get"),
}


@pytest.fixture
def site(app):
    """@siteadmin; @maker (a creator, the host); @fan, who follows @maker; @stranger.
    ``site[name]`` are their read-and-write tokens' headers (anonymous: none)."""
    with app.app_context():
        admin = make_admin()
        maker = make_user("maker", display_name="Mia Maker", role=Role.CREATOR)
        fan = make_user("fan")
        accounts.follow(fan, maker)
        stranger = make_user("stranger")
        headers = {"anonymous": {}}
        for person in (admin, maker, fan, stranger):
            headers[person.username] = bearer(make_token(person, ("read", "write")))
        headers["maker-read"] = bearer(make_token(maker, ("read",)))
    yield headers
    app.extensions["livelite.media"].shutdown()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def user(username: str):
    return accounts.get_by_username(username)


def record(app, title="Evening stream", *, seconds=3, guest=None, during=None, make_files=True) -> int:
    """A live of @maker with ``seconds`` of real media, ended by the host; its replay's id.

    ``guest`` joins the stage and publishes 2 s from their camera too; ``during(live)``
    runs while the live is on (chat, questions); ``make_files`` makes the MP4s at once,
    as the replay queue would."""
    with app.app_context():
        live_id = lives.start_live(user("maker"), title=title, visibility="public").id
    publish_recording(app, live_id, seconds=seconds)
    if guest is not None:
        publish_guest(app, live_id, guest)
    if during is not None:
        with app.app_context():
            during(lives.get_live(live_id))
    app.extensions["livelite.media"].end_live(live_id, "host")
    with app.app_context():
        replay = replays.replay_of_live(lives.get_live(live_id))
        assert replay is not None, "the live_ended listener made no replay"
        if make_files:
            replays.make_pending()
        return replay.id


def publish_guest(app, live_id: int, username: str, seconds: int = 2) -> None:
    """``username`` asks to join the stage, the host accepts, and their browser's feed
    is filled by the real ingest."""
    media = app.extensions["livelite.media"]
    with app.app_context():
        live = lives.get_live(live_id)
        person = user(username)
        guests.request(live, person)
        guests.accept(live, user("maker"), person.id)
        feed = lives.open_feed(
            live, person, source=FeedSource.BROWSER, input_format="webm", video_codec="h264"
        )
        media.start_ingest(feed)
        feed_id = feed.id
    for chunk in clusters(recording("h264", seconds=seconds)):
        media.write(feed_id, chunk)
    media.finish_feed(feed_id)


def set_visibility(app, replay_id: int, visibility: str) -> None:
    with app.app_context():
        replays.update(db.session.get(Replay, replay_id), user("maker"), visibility=visibility)


def media_path(app, relative: str) -> Path:
    return Path(app.config["MEDIA_ROOT"]) / relative


def files_of(app, replay_id: int) -> list[Path]:
    """Every folder the replay keeps: its feeds' recordings and its own (MP4s, thumbnail)."""
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        return [media_path(app, f.media_dir) for f in replay.feeds] + [media_path(app, replay.files_dir)]


def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def component(spec, schema: dict) -> dict:
    """The components/schemas entry a ``$ref`` points to."""
    return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


def error_fields(response) -> set[str]:
    return set(response.get_json()["error"].get("errors", {}))


# -- the document ------------------------------------------------------------------------------
def test_every_operation_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented >= PATHS
    post = spec["paths"]["/api/v1/replays/{replay_id}/post"]["post"]
    assert {"202", "403", "404", "409", "422"} <= set(post["responses"])
    fields = component(spec, post["requestBody"]["content"]["application/json"]["schema"])["properties"]
    assert set(fields) == {"title", "caption", "trim_start", "trim_end", "composed"}
    assert {alt["type"] for alt in fields["trim_start"]["oneOf"]} == {"number", "string"}
    video = component(spec, post["responses"]["202"]["content"]["application/json"]["schema"])
    assert {"status", "progress", "title", "replay_id", "trim_start_s", "trim_end_s"} <= set(
        video["properties"]
    )

    one = spec["paths"]["/api/v1/replays/{replay_id}"]
    assert "204" in one["delete"]["responses"] and "404" in one["get"]["responses"]
    replay = component(spec, one["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"feeds", "composed", "can_manage", "expires_at", "player_url"} <= set(replay["properties"])
    # A client learns from the document that downloads take the browser session.
    mp4 = spec["components"]["schemas"]["ReplayFile"]["properties"]["download_url"]["description"]
    assert "session" in mp4 and "token" in mp4
    assert "403" in spec["paths"]["/api/v1/admin/storage"]["get"]["responses"]


# -- one replay --------------------------------------------------------------------------------
def test_a_replay_with_its_feed_its_mp4_and_its_urls(app, client, site):
    replay_id = record(app, "Sunday sketching")
    response = client.get(f"/api/v1/replays/{replay_id}", headers=site["maker"])
    assert response.status_code == 200
    body = response.get_json()
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        live = replay.live
        feed = replay.feeds[0]
        expected = {
            "id": replay_id,
            "live_id": live.id,
            "title": "Sunday sketching",
            "visibility": "private",
            "created_at": live.ended_at.isoformat(),
            "expires_at": (live.ended_at + timedelta(days=90)).isoformat(),
            "size_bytes": replay.size_bytes,
            "can_manage": True,
        }
        mp4_file = media_path(app, feed.mp4_path)
        feed_id, live_feed_user = feed.id, feed.user.username
    assert {key: body[key] for key in expected} == expected
    assert body["owner"]["username"] == "maker"
    assert 2.0 <= body["duration_s"] <= 3.5
    # size_bytes is every byte the replay keeps: the recording, the MP4, the thumbnail.
    kept = [p for folder in files_of(app, replay_id) for p in folder.rglob("*")]
    assert {p.suffix for p in kept if p.is_file()} >= {".m3u8", ".m4s", ".mp4", ".jpg"}
    assert body["size_bytes"] == sum(p.stat().st_size for p in kept if p.is_file())

    assert body["player_url"] == f"http://localhost/replays/{replay_id}"
    assert body["thumbnail_url"] == f"http://localhost/replays/{replay_id}/thumb.jpg"
    [feed] = body["feeds"]
    assert feed["id"] == feed_id and feed["user"]["username"] == live_feed_user == "maker"
    assert feed["is_main"] is True and feed["offset_s"] == 0
    assert feed["duration_s"] == body["duration_s"]
    assert feed["playlist_url"] == f"http://localhost/replays/{replay_id}/feeds/{feed_id}/index.m3u8"
    assert feed["mp4"] == {
        "status": "ready",
        "progress": 100,
        "size_bytes": mp4_file.stat().st_size,
        "error": None,
        "download_url": f"http://localhost/replays/{replay_id}/download/{feed_id}",
    }
    # No guests: no side-by-side MP4.
    assert body["composed"] == {
        "status": "none",
        "progress": 0,
        "size_bytes": None,
        "error": None,
        "download_url": None,
        "watch_url": None,
    }
    frames, size = decode(mp4_file)
    assert frames > 30 and size == (320, 240)

    # The URLs it gives answer: the thumbnail and the MP4 with the owner's session.
    owner = login(app, "maker")
    download = owner.get(feed["mp4"]["download_url"])
    assert download.status_code == 200
    assert download.data == mp4_file.read_bytes()
    assert "attachment" in download.headers["Content-Disposition"]
    thumb = owner.get(body["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.data[:3] == b"\xff\xd8\xff"
    # As the document says, a token is not a session on the download route.
    assert client.get(feed["mp4"]["download_url"], headers=site["maker"]).status_code == 404


def test_a_live_with_a_guest_has_their_feed_and_a_side_by_side_mp4(app, client, site):
    replay_id = record(app, "Duet", guest="fan")
    set_visibility(app, replay_id, "public")
    body = client.get(f"/api/v1/replays/{replay_id}", headers=site["maker"]).get_json()
    host, guest = body["feeds"]
    assert (host["user"]["username"], host["is_main"], host["offset_s"]) == ("maker", True, 0)
    assert (guest["user"]["username"], guest["is_main"]) == ("fan", False)
    assert guest["offset_s"] > 0 and 1.0 <= guest["duration_s"] <= 2.5
    assert guest["playlist_url"].endswith(f"/replays/{replay_id}/feeds/{guest['id']}/index.m3u8")
    assert guest["mp4"]["status"] == "ready" and guest["mp4"]["download_url"]
    composed = body["composed"]
    with app.app_context():
        composed_file = media_path(app, db.session.get(Replay, replay_id).composed_path)
    assert composed == {
        "status": "ready",
        "progress": 100,
        "size_bytes": composed_file.stat().st_size,
        "error": None,
        "download_url": f"http://localhost/replays/{replay_id}/download/composed",
        "watch_url": f"http://localhost/replays/{replay_id}/composed.mp4",
    }
    assert decode(composed_file)[1] == (1280, 720)
    owner = login(app, "maker")
    assert owner.get(composed["download_url"]).data == composed_file.read_bytes()
    # A viewer of the public replay plays it, and downloads nothing.
    seen = client.get(f"/api/v1/replays/{replay_id}", headers=site["stranger"]).get_json()
    assert seen["composed"]["download_url"] is None and seen["composed"]["watch_url"] == composed["watch_url"]
    assert [f["mp4"]["download_url"] for f in seen["feeds"]] == [None, None]
    assert client.get(composed["watch_url"]).data == composed_file.read_bytes()
    # The owner may post the side-by-side video.
    posted = client.post(f"/api/v1/replays/{replay_id}/post", json={"composed": True}, headers=site["maker"])
    assert posted.status_code == 202
    with app.app_context():
        assert db.session.get(Video, posted.get_json()["id"]).source_path == str(
            composed_file.relative_to(app.config["MEDIA_ROOT"])
        )


def test_who_sees_and_who_manages_a_replay(app, client, site):
    """private / followers / public × anonymous, stranger, follower, owner, admin: reading
    (replay, time line, lists) and every change. Whoever may not see it gets a 404."""
    replay_id = record(app, "Matrix")
    base = f"/api/v1/replays/{replay_id}"
    may_see = {
        "private": {"maker", "siteadmin"},
        "followers": {"maker", "siteadmin", "fan"},
        "public": set(PEOPLE),
    }
    managers = {"maker", "siteadmin"}
    for visibility, seen_by in may_see.items():
        set_visibility(app, replay_id, visibility)
        for person in PEOPLE:
            headers = site[person]
            where = f"{person} on a {visibility} replay"
            sees = person in seen_by
            one = client.get(base, headers=headers)
            assert one.status_code == (200 if sees else 404), where
            if sees:
                body = one.get_json()
                assert body["can_manage"] is (person in managers), where
                download = body["feeds"][0]["mp4"]["download_url"]
                assert (download is not None) is (person in managers), where
            else:
                message = one.get_json()["error"]["message"]
                assert message == "This replay does not exist, or it was deleted.", where
            timeline = client.get(f"{base}/timeline", headers=headers)
            assert timeline.status_code == (200 if sees else 404), where
            listed = client.get("/api/v1/users/maker/replays", headers=headers).get_json()
            assert [r["id"] for r in listed] == ([replay_id] if sees else []), where

            # Changes: the owner and admins; a viewer who sees it is refused (403), anyone
            # else does not learn it exists (404); no credentials at all is a 401.
            if person == "anonymous":
                refused = 401
            elif person in managers:
                refused = None
            else:
                refused = 403 if sees else 404
            patch = client.patch(base, json={"title": "Matrix"}, headers=headers)
            assert patch.status_code == (refused or 200), where
            retry = client.post(f"{base}/retry", headers=headers)
            assert retry.status_code == (refused or 200), where
            if refused:
                assert client.delete(base, headers=headers).status_code == refused, where
            # Posting to the feed: the owner only (an admin sees it, and is refused).
            post = client.post(f"{base}/post", json={}, headers=headers)
            expected_post = 202 if person == "maker" else (refused or 403)
            assert post.status_code == expected_post, where
    with app.app_context():
        posted = db.session.scalars(select(Video).where(Video.replay_id == replay_id)).all()
        # One video per visibility, all by the owner; nobody else's attempt made one.
        assert [v.creator.username for v in posted] == ["maker"] * 3
        assert db.session.get(Replay, replay_id).title == "Matrix"


def test_a_read_token_reads_and_cannot_change(app, client, site):
    replay_id = record(app)
    base = f"/api/v1/replays/{replay_id}"
    read = site["maker-read"]
    assert client.get(base, headers=read).status_code == 200
    assert client.get("/api/v1/replays", headers=read).status_code == 200
    assert client.get("/api/v1/me/storage", headers=read).status_code == 200
    for response in (
        client.patch(base, json={"title": "New"}, headers=read),
        client.delete(base, headers=read),
        client.post(f"{base}/retry", headers=read),
        client.post(f"{base}/post", json={}, headers=read),
    ):
        assert response.status_code == 403
        assert "lacks the “write” scope" in response.get_json()["error"]["message"]
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        assert replay.title == "Evening stream" and not replay.is_deleted


def test_a_session_changes_with_the_csrf_header_only(app, site):
    replay_id = record(app)
    browser = login(app, "maker")
    refused = browser.patch(f"/api/v1/replays/{replay_id}", json={"title": "Forged"})
    assert refused.status_code == 400
    header = {"X-CSRFToken": meta_csrf_token(browser.get("/").get_data(as_text=True))}
    done = browser.patch(f"/api/v1/replays/{replay_id}", json={"title": "From the browser"}, headers=header)
    assert done.status_code == 200 and done.get_json()["title"] == "From the browser"
    with app.app_context():
        assert db.session.get(Replay, replay_id).title == "From the browser"


# -- lists -------------------------------------------------------------------------------------
def test_my_replays_are_newest_first_paged_and_mine_only(app, client, site):
    first = record(app, "First")
    second = record(app, "Second")
    page = client.get("/api/v1/replays?per_page=1", headers=site["maker"]).get_json()
    assert (page["page"], page["pages"], page["total"]) == (1, 2, 2)
    assert [r["id"] for r in page["items"]] == [second]
    assert page["items"][0]["title"] == "Second" and page["items"][0]["can_manage"] is True
    page = client.get("/api/v1/replays?per_page=1&page=2", headers=site["maker"]).get_json()
    assert [r["title"] for r in page["items"]] == ["First"] and page["items"][0]["id"] == first
    # Anyone else's own list is theirs: empty, even for an admin.
    for person in ("fan", "siteadmin"):
        assert client.get("/api/v1/replays", headers=site[person]).get_json()["items"] == []
    assert client.get("/api/v1/replays").status_code == 401
    bad = client.get("/api/v1/replays?per_page=500", headers=site["maker"])
    assert bad.status_code == 422 and error_fields(bad) == {"per_page"}


def test_a_persons_replays_are_those_the_caller_may_watch(app, client, site):
    public, followers, private = record(app, "Public"), record(app, "Followers"), record(app, "Private")
    set_visibility(app, public, "public")
    set_visibility(app, followers, "followers")
    expected = {
        "anonymous": [public],
        "stranger": [public],
        "fan": [followers, public],
        "maker": [private, followers, public],
        "siteadmin": [private, followers, public],
    }
    for person, ids in expected.items():
        listed = client.get("/api/v1/users/maker/replays", headers=site[person]).get_json()
        assert [r["id"] for r in listed] == ids, person
    limited = client.get("/api/v1/users/maker/replays?limit=1", headers=site["maker"]).get_json()
    assert [r["id"] for r in limited] == [private]
    missing = client.get("/api/v1/users/nobody/replays")
    assert (
        missing.status_code == 404 and missing.get_json()["error"]["message"] == "No one has this username."
    )


# -- changing, deleting, retrying -------------------------------------------------------------
def test_the_owner_and_an_admin_rename_and_change_who_may_watch(app, client, site):
    replay_id = record(app)
    base = f"/api/v1/replays/{replay_id}"
    response = client.patch(
        base, json={"title": "  Best of Sunday  ", "visibility": "followers"}, headers=site["maker"]
    )
    assert response.status_code == 200
    assert (response.get_json()["title"], response.get_json()["visibility"]) == (
        "Best of Sunday",
        "followers",
    )
    # The follower sees it now; the stranger still does not.
    assert client.get(base, headers=site["fan"]).status_code == 200
    assert client.get(base, headers=site["stranger"]).status_code == 404
    response = client.patch(base, json={"visibility": "public"}, headers=site["siteadmin"])
    assert response.status_code == 200 and response.get_json()["title"] == "Best of Sunday"
    assert client.get(base).get_json()["visibility"] == "public"
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        assert (replay.title, replay.visibility.value) == ("Best of Sunday", "public")


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"title": "   "}, "title", "Give your replay a title."),
        ({"title": "x" * 101}, "title", "Titles have at most 100 characters."),
        (
            {"visibility": "friends"},
            "visibility",
            "Choose who can watch: only you, your followers or everyone.",
        ),
        ({"title": None}, "title", None),
        ({"colour": "red"}, "colour", None),
    ],
)
def test_changes_are_checked(app, client, site, payload, field, message):
    replay_id = record(app, "Kept")
    response = client.patch(f"/api/v1/replays/{replay_id}", json=payload, headers=site["maker"])
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["status"] == 422 and set(error["errors"]) == {field}
    if message:
        assert error["errors"][field] == [message]
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        assert (replay.title, replay.visibility.value) == ("Kept", "private")


def test_deleting_removes_the_files_and_keeps_posted_videos(app, client, site):
    mine, other = record(app, "Mine"), record(app, "Other")
    posted = client.post(f"/api/v1/replays/{mine}/post", json={"title": "Keeper"}, headers=site["maker"])
    assert posted.status_code == 202
    video_id = posted.get_json()["id"]
    with app.app_context():
        video = videos.process(video_id)
        assert video.status == VideoStatus.READY
        video_file = media_path(app, video.file_path)
        other_size = db.session.get(Replay, other).size_bytes
    folders = files_of(app, mine)
    assert all(folder.is_dir() for folder in folders)

    assert client.delete(f"/api/v1/replays/{mine}", headers=site["maker"]).status_code == 204
    assert not any(folder.exists() for folder in folders)
    for person in ("maker", "siteadmin"):
        assert client.get(f"/api/v1/replays/{mine}", headers=site[person]).status_code == 404
    assert client.delete(f"/api/v1/replays/{mine}", headers=site["maker"]).status_code == 404
    assert [r["id"] for r in client.get("/api/v1/replays", headers=site["maker"]).get_json()["items"]] == [
        other
    ]
    usage = client.get("/api/v1/me/storage", headers=site["maker"]).get_json()
    assert usage["replays_bytes"] == other_size
    # The video posted from it is its own copy.
    assert video_file.is_file()
    video = client.get(f"/api/v1/videos/{video_id}").get_json()
    assert video["status"] == "ready" and video["file_url"]

    # An admin deletes someone's replay too; the tombstone says who.
    other_folders = files_of(app, other)
    assert client.delete(f"/api/v1/replays/{other}", headers=site["siteadmin"]).status_code == 204
    assert not any(folder.exists() for folder in other_folders)
    with app.app_context():
        reasons = {r.id: r.deleted_reason for r in db.session.scalars(select(Replay))}
    assert reasons == {mine: "owner", other: "admin"}
    assert client.get("/api/v1/me/storage", headers=site["maker"]).get_json()["replays_bytes"] == 0


def test_a_failed_mp4_shows_why_and_is_made_again_on_retry(app, client, site):
    replay_id = record(app, make_files=False)
    with app.app_context():
        feed = db.session.get(Replay, replay_id).feeds[0]
        folder, feed_id = media_path(app, feed.media_dir), feed.id
    # The recording is away while ffmpeg runs: the MP4 fails with a reason.
    hidden = folder.with_name(folder.name + "-away")
    folder.rename(hidden)
    with app.app_context():
        replays.make_pending()
    hidden.rename(folder)
    base = f"/api/v1/replays/{replay_id}"
    mp4 = client.get(base, headers=site["maker"]).get_json()["feeds"][0]["mp4"]
    assert mp4["status"] == "failed" and mp4["download_url"] is None and mp4["size_bytes"] is None
    with app.app_context():
        code = db.session.get(ReplayFeed, feed_id).mp4_error
    assert code in replays.FAILURES
    assert mp4["error"] == str(replays.FAILURES[code])
    # Posting needs the MP4.
    post = client.post(f"{base}/post", json={}, headers=site["maker"])
    assert post.status_code == 409

    retried = client.post(f"{base}/retry", headers=site["siteadmin"])
    assert retried.status_code == 200
    assert retried.get_json()["feeds"][0]["mp4"] == {
        "status": "pending",
        "progress": 0,
        "size_bytes": None,
        "error": None,
        "download_url": None,
    }
    with app.app_context():
        replays.make_pending()
    mp4 = client.get(base, headers=site["maker"]).get_json()["feeds"][0]["mp4"]
    assert mp4["status"] == "ready" and mp4["download_url"].endswith(
        f"/replays/{replay_id}/download/{feed_id}"
    )
    with app.app_context():
        assert decode(media_path(app, db.session.get(ReplayFeed, feed_id).mp4_path))[0] > 30


# -- the time line ----------------------------------------------------------------------------
def test_the_time_line_has_the_chat_the_questions_and_the_chapters(app, client, site):
    def during(live):
        room.settings_of(live).anonymous_questions = True
        db.session.commit()
        chat.send_message(live, user("fan"), "Hello <b>there</b>")
        chat.send_message(live, user("stranger"), "Hi from afar")
        removed = chat.send_message(live, user("stranger"), "spam spam")
        moderation.delete_message(live, user("maker"), removed["id"])
        first = questions.ask(live, user("fan"), "What brush is that?")
        second = questions.ask(live, user("stranger"), "Who am I?", anonymous=True)
        questions.ask(live, user("siteadmin"), "Unanswered?")
        questions.answer(live, user("maker"), second.id)
        questions.answer(live, user("maker"), first.id)

    replay_id = record(app, during=during, make_files=False)
    set_visibility(app, replay_id, "public")
    response = client.get(f"/api/v1/replays/{replay_id}/timeline")
    assert response.status_code == 200
    body = response.get_json()
    duration_ms = body["duration_ms"]
    assert 2000 <= duration_ms <= 3500
    assert [(m["user"]["username"], m["body"]) for m in body["chat"]] == [
        ("fan", "Hello <b>there</b>"),
        ("stranger", "Hi from afar"),
    ]
    assert {"id", "user", "body", "offset_ms", "at", "role", "t"} <= set(body["chat"][0])
    ts = [m["t"] for m in body["chat"]]
    assert ts == sorted(ts) and all(0 <= t <= duration_ms for t in ts)
    asked = {q["body"]: q for q in body["questions"]}
    assert list(asked) == ["What brush is that?", "Who am I?", "Unanswered?"]
    assert asked["Who am I?"]["author"] is None
    assert asked["What brush is that?"]["author"]["username"] == "fan"
    assert asked["Unanswered?"]["answered_t"] is None and asked["Unanswered?"]["status"] == "open"
    assert all(0 <= q["t"] <= duration_ms for q in body["questions"])
    # Chapters: the answered questions, in the order they were answered.
    assert [(c["question_id"], c["title"]) for c in body["chapters"]] == [
        (asked["Who am I?"]["id"], "Who am I?"),
        (asked["What brush is that?"]["id"], "What brush is that?"),
    ]
    assert [c["t"] for c in body["chapters"]] == [
        asked["Who am I?"]["answered_t"],
        asked["What brush is that?"]["answered_t"],
    ]


# -- posting to the feed ------------------------------------------------------------------------
def test_posting_a_trimmed_part_makes_a_video_in_the_feed(app, client, site):
    replay_id = record(app, "Long live")
    response = client.post(
        f"/api/v1/replays/{replay_id}/post",
        json={"title": "The best bit", "caption": "Look #art", "trim_start": "0:01", "trim_end": 2.5},
        headers=site["maker"],
    )
    assert response.status_code == 202
    body = response.get_json()
    assert (body["status"], body["progress"], body["file_url"]) == ("processing", 0, None)
    assert (body["title"], body["caption"], body["replay_id"]) == ("The best bit", "Look #art", replay_id)
    assert (body["trim_start_s"], body["trim_end_s"]) == (1.0, 2.5)
    assert body["creator"]["username"] == "maker" and body["kind"] == "video"
    with app.app_context():
        video = videos.process(body["id"])
        assert video.status == VideoStatus.READY
        assert abs(video.duration_s - 1.5) <= 0.3
        frames, size = decode(media_path(app, video.file_path))
        # The replay's MP4 is read in place, never removed by the conversion.
        assert media_path(app, db.session.get(Replay, replay_id).main_feed.mp4_path).is_file()
    assert frames > 0 and size is not None
    ready = client.get(f"/api/v1/videos/{body['id']}").get_json()
    assert ready["status"] == "ready" and ready["file_url"]


def test_posting_without_a_trim_keeps_everything_with_the_replays_title(app, client, site):
    replay_id = record(app, "Whole thing")
    body = client.post(f"/api/v1/replays/{replay_id}/post", json={}, headers=site["maker"]).get_json()
    assert (body["title"], body["caption"], body["trim_start_s"], body["trim_end_s"]) == (
        "Whole thing",
        "",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"trim_start": "one minute"}, "trim_start"),
        ({"trim_start": -1}, "trim_start"),
        ({"trim_start": "0:02", "trim_end": "0:01"}, "trim_end"),
        ({"trim_end": 60}, "trim_end"),
        ({"trim_start": 2.6}, "trim_end"),  # less than VIDEO_MIN_SECONDS left
        ({"trim_start": True}, "trim_start"),
        ({"trim_end": [1]}, "trim_end"),
        ({"title": "x" * 101}, "title"),
        ({"composed": "maybe"}, "composed"),
        ({"start": 1}, "start"),
    ],
)
def test_post_errors_are_the_apis_422(app, client, site, payload, field):
    replay_id = record(app)
    response = client.post(f"/api/v1/replays/{replay_id}/post", json=payload, headers=site["maker"])
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["status"] == 422 and set(error["errors"]) == {field}
    with app.app_context():
        assert db.session.scalars(select(Video)).all() == []


def test_posting_is_refused_when_the_side_by_side_mp4_is_missing_or_the_quota_is_full(app, client, site):
    replay_id = record(app)
    url = f"/api/v1/replays/{replay_id}/post"
    composed = client.post(url, json={"composed": True}, headers=site["maker"])
    assert composed.status_code == 409
    assert "not ready" in composed.get_json()["error"]["message"]
    with app.app_context():
        set_setting("STORAGE_QUOTA_MB", 1)  # the replay alone is far less; a big video fills it
        db.session.add(
            Video(
                creator_id=user("maker").id, caption="", status=VideoStatus.READY, size_bytes=2 * 1024 * 1024
            )
        )
        db.session.commit()
    full = client.post(url, json={}, headers=site["maker"])
    assert full.status_code == 409
    assert "use all of your 1 MB of storage" in full.get_json()["error"]["message"]


# -- storage ----------------------------------------------------------------------------------
def test_my_storage_counts_my_replays_and_videos_against_the_quota(app, client, site):
    replay_id = record(app)
    with app.app_context():
        replay_bytes = db.session.get(Replay, replay_id).size_bytes
        set_setting("STORAGE_QUOTA_MB", 10)
    mine = client.get("/api/v1/me/storage", headers=site["maker"]).get_json()
    assert mine == {
        "replays_bytes": replay_bytes,
        "videos_bytes": 0,
        "total_bytes": replay_bytes,
        "quota_bytes": 10 * 1024 * 1024,
        "percent": round(100 * replay_bytes / (10 * 1024 * 1024)),
        "over": False,
    }
    assert replay_bytes > 0
    theirs = client.get("/api/v1/me/storage", headers=site["fan"]).get_json()
    assert (theirs["total_bytes"], theirs["over"]) == (0, False)
    with app.app_context():
        set_setting("STORAGE_QUOTA_MB", 0)
    unlimited = client.get("/api/v1/me/storage", headers=site["maker"]).get_json()
    assert (unlimited["quota_bytes"], unlimited["percent"], unlimited["over"]) == (None, None, False)
    assert client.get("/api/v1/me/storage").status_code == 401


def test_site_storage_is_for_admins(app, client, site):
    replay_id = record(app)
    with app.app_context():
        replay_bytes = db.session.get(Replay, replay_id).size_bytes
        db.session.add(
            Video(creator_id=user("fan").id, caption="", status=VideoStatus.READY, size_bytes=1000)
        )
        db.session.commit()
    for person, status in (("anonymous", 401), ("stranger", 403), ("fan", 403), ("maker", 403)):
        response = client.get("/api/v1/admin/storage", headers=site[person])
        assert response.status_code == status, person
    body = client.get("/api/v1/admin/storage", headers=site["siteadmin"]).get_json()
    assert (body["replays"], body["replays_bytes"], body["videos_bytes"]) == (1, replay_bytes, 1000)
    assert body["total_bytes"] == replay_bytes + 1000
    assert body["quota_bytes"] == 20480 * 1024 * 1024
    assert 0 < body["disk_free_bytes"] <= body["disk_total_bytes"]
    people = [
        (p["user"]["username"], p["replays"], p["replays_bytes"], p["videos_bytes"], p["total_bytes"])
        for p in body["people"]
    ]
    assert people == [("maker", 1, replay_bytes, 0, replay_bytes), ("fan", 0, 0, 1000, 1000)]
    assert body["people"][0]["percent"] == round(100 * replay_bytes / body["quota_bytes"])
    limited = client.get("/api/v1/admin/storage?limit=1", headers=site["siteadmin"]).get_json()
    assert [p["user"]["username"] for p in limited["people"]] == ["maker"]
