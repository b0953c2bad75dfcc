"""The live room's API (blueprints/api/room.py): each operation done by the right role
changes the database and the room; viewers and strangers get 403, visitors 401; every
operation is in the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import PASSWORD, make_admin, make_token, make_user
from pages import meta_csrf_token, submit
from sqlalchemy import func, select

from livelite.extensions import db, socketio
from livelite.models import (
    ChatMessage,
    HostBan,
    LiveSanction,
    ModerationEntry,
    Moderator,
    Question,
    QuestionStatus,
    Role,
    RoomSettings,
    SanctionKind,
    User,
)
from livelite.models.base import utcnow
from livelite.services import lives, moderators, questions


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def room(app):
    """@host live as "Evening jam"; @mia is the host's moderator; @troll wrote two
    messages; @fan asked a question; @stranger is elsewhere. Each has a read+write
    token (``tokens[name]``); ``tokens["host-read"]`` is read-only."""
    with app.app_context():
        make_admin()
        host = make_user("host", role=Role.CREATOR)
        for name in ("mia", "troll", "fan", "stranger", "other"):
            make_user(name, display_name=name.title())
        live = lives.start_live(host, title="Evening jam", visibility="public")
        moderators.appoint(host, host, get("mia"))
        messages = []
        for body in ("first!", "buy followers"):
            row = ChatMessage(live_id=live.id, user_id=get("troll").id, body=body, offset_ms=1000)
            db.session.add(row)
            messages.append(row)
        db.session.commit()
        question = questions.ask(live, get("fan"), "What guitar is that?")
        tokens = {
            name: make_token(get(name), scopes=("read", "write"))
            for name in ("host", "mia", "fan", "stranger")
        }
        tokens["host-read"] = make_token(host, scopes=("read",))
        ids = {
            "live": live.id,
            "msg": messages[0].id,
            "msg2": messages[1].id,
            "q": question.id,
            "troll": get("troll").id,
            "fan": get("fan").id,
            "host": host.id,
            "mia": get("mia").id,
        }
    app.config["ROOM"] = {"tokens": tokens, "ids": ids}
    yield app
    app.extensions["livelite.media"].shutdown()


def ids(app) -> dict:
    return app.config["ROOM"]["ids"]


def as_(app, who: str) -> dict:
    return {"Authorization": f"Bearer {app.config['ROOM']['tokens'][who]}"}


def login(app, username: str):
    browser = app.test_client()
    assert submit(browser, "/login", {"login": username, "password": PASSWORD}).status_code == 302
    return browser


def watcher(app, username: str):
    client = socketio.test_client(
        app, namespace="/live", flask_test_client=login(app, username), auth={"live_id": ids(app)["live"]}
    )
    assert client.is_connected("/live")
    client.get_received("/live")
    return client


def received(client, event: str) -> list[dict]:
    return [m["args"][0] for m in client.get_received("/live") if m["name"] == event]


STAFF_OPERATIONS = [
    ("get", "/api/v1/lives/{live}/messages", None),
    ("delete", "/api/v1/lives/{live}/messages/{msg}", None),
    ("post", "/api/v1/lives/{live}/mutes", {"user_id": "troll", "duration": "10m"}),
    ("delete", "/api/v1/lives/{live}/mutes/{troll}", None),
    ("post", "/api/v1/lives/{live}/kicks", {"user_id": "troll"}),
    ("post", "/api/v1/lives/{live}/bans", {"user_id": "troll"}),
    ("patch", "/api/v1/lives/{live}/room-settings", {"comments_off": True}),
    ("get", "/api/v1/lives/{live}/questions", None),
    ("post", "/api/v1/lives/{live}/questions/{q}/answer", None),
    ("post", "/api/v1/lives/{live}/questions/{q}/dismiss", None),
    ("delete", "/api/v1/lives/{live}/pin", None),
    ("get", "/api/v1/lives/{live}/questions.csv", None),
    ("get", "/api/v1/lives/{live}/moderation-log", None),
]


def call(app, client, method, path, body, headers=None):
    known = ids(app)
    url = path.format(**known)
    if body is not None:
        body = {k: known[v] if k == "user_id" else v for k, v in body.items()}
    return getattr(client, method)(url, json=body, headers=headers or {})


def nothing_changed(app) -> None:
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(ChatMessage).where(ChatMessage.removed_at.isnot(None))
            )
            == 0
        )
        assert db.session.scalar(select(func.count()).select_from(LiveSanction)) == 0
        assert db.session.scalar(select(func.count()).select_from(HostBan)) == 0
        settings = db.session.get(RoomSettings, ids(app)["live"])
        assert settings is None or not settings.comments_off
        assert db.session.get(Question, ids(app)["q"]).status == QuestionStatus.OPEN
        actions = db.session.scalars(select(ModerationEntry.action))
        assert set(actions) <= {"moderator_add"}


@pytest.mark.parametrize(("method", "path", "body"), STAFF_OPERATIONS)
def test_viewers_strangers_and_visitors_are_refused(room, client, method, path, body):
    for who in ("fan", "stranger"):
        response = call(room, client, method, path, body, as_(room, who))
        assert response.status_code == 403, (who, response.get_json())
        assert response.get_json()["error"]["code"] == "not_allowed"
    response = call(room, client, method, path, body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if method != "get":
        # A read-only token of the host itself may not act.
        assert call(room, client, method, path, body, as_(room, "host-read")).status_code == 403
    nothing_changed(room)


@pytest.mark.parametrize(("method", "path", "body"), STAFF_OPERATIONS)
def test_every_staff_operation_is_documented(client, method, path, body):
    spec = client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"][
        path.replace("{live}", "{live_id}")
        .replace("{msg}", "{message_id}")
        .replace("{troll}", "{user_id}")
        .replace("{q}", "{question_id}")
    ][method]
    assert op.get("summary") or op.get("description")
    assert {"401", "403", "404"} <= set(op["responses"])


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/moderators", "get"),
        ("/api/v1/moderators", "post"),
        ("/api/v1/moderators/{username}", "delete"),
        ("/api/v1/blocked-words", "get"),
        ("/api/v1/blocked-words", "put"),
        ("/api/v1/bans", "get"),
        ("/api/v1/bans/{user_id}", "delete"),
        ("/api/v1/reports", "post"),
        ("/api/v1/admin/reports", "get"),
        ("/api/v1/admin/reports/{report_id}/decision", "post"),
    ],
)
def test_host_and_report_operations_are_documented(client, path, method):
    op = client.get("/api/v1/openapi.json").get_json()["paths"][path][method]
    assert op.get("summary") or op.get("description")


# -- in one live ------------------------------------------------------------------------------
def test_staff_read_the_recent_messages(room, client):
    for who in ("host", "mia"):
        response = client.get(f"/api/v1/lives/{ids(room)['live']}/messages", headers=as_(room, who))
        assert response.status_code == 200
        body = response.get_json()
        assert [m["body"] for m in body] == ["first!", "buy followers"]
        assert body[0]["user"]["id"] == ids(room)["troll"] and body[0]["user"]["username"] == "troll"
    response = client.get(f"/api/v1/lives/{ids(room)['live']}/messages?limit=1", headers=as_(room, "host"))
    assert [m["body"] for m in response.get_json()] == ["buy followers"]
    assert (
        client.get(
            f"/api/v1/lives/{ids(room)['live']}/messages?limit=0", headers=as_(room, "host")
        ).status_code
        == 422
    )
    assert client.get("/api/v1/lives/9999/messages", headers=as_(room, "host")).status_code == 404


def test_a_moderator_deletes_a_message_and_viewers_see_it_go(room, client):
    fan = watcher(room, "fan")
    response = client.delete(
        f"/api/v1/lives/{ids(room)['live']}/messages/{ids(room)['msg']}", headers=as_(room, "mia")
    )
    assert response.status_code == 204
    assert received(fan, "chat_removed") == [{"ids": [ids(room)["msg"]], "reason": "deleted"}]
    with room.app_context():
        row = db.session.get(ChatMessage, ids(room)["msg"])
        assert row.removed_reason == "deleted" and row.removed_by_id == ids(room)["mia"]
    visible = client.get(f"/api/v1/lives/{ids(room)['live']}/messages", headers=as_(room, "host")).get_json()
    assert [m["body"] for m in visible] == ["buy followers"]


def test_an_api_mute_removes_the_messages_for_socket_viewers(room, client):
    fan = watcher(room, "fan")
    troll = watcher(room, "troll")
    before = utcnow()
    response = client.post(
        f"/api/v1/lives/{ids(room)['live']}/mutes",
        json={"user_id": ids(room)["troll"], "duration": "10m"},
        headers=as_(room, "mia"),
    )
    assert response.status_code == 201
    assert response.get_json()["user_id"] == ids(room)["troll"]
    # The viewer's socket drops the muted person's messages; the muted person is told.
    assert received(fan, "chat_removed") == [
        {"ids": [ids(room)["msg"], ids(room)["msg2"]], "reason": "muted"}
    ]
    (you,) = received(troll, "you")
    assert you["can_chat"] is False and you["muted_until"]
    with room.app_context():
        (mute,) = db.session.scalars(select(LiveSanction))
        assert mute.kind == SanctionKind.MUTE and mute.user_id == ids(room)["troll"]
        assert timedelta(minutes=9) < mute.until - before <= timedelta(minutes=10, seconds=5)

    response = client.delete(
        f"/api/v1/lives/{ids(room)['live']}/mutes/{ids(room)['troll']}", headers=as_(room, "host")
    )
    assert response.status_code == 204
    assert received(troll, "you")[0]["muted_until"] is None
    with room.app_context():
        assert db.session.scalar(select(LiveSanction)).lifted_at is not None


def test_a_mute_for_the_rest_of_the_live_and_bad_mutes(room, client):
    url = f"/api/v1/lives/{ids(room)['live']}/mutes"
    response = client.post(
        url, json={"user_id": ids(room)["troll"], "duration": "live"}, headers=as_(room, "host")
    )
    assert response.status_code == 201 and response.get_json()["until"] is None
    response = client.post(
        url, json={"user_id": ids(room)["troll"], "duration": "1h"}, headers=as_(room, "host")
    )
    assert response.status_code == 422
    # A moderator cannot mute the host (nor the host a moderator).
    response = client.post(
        url, json={"user_id": ids(room)["host"], "duration": "1m"}, headers=as_(room, "mia")
    )
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_allowed"
    response = client.post(
        url, json={"user_id": ids(room)["mia"], "duration": "1m"}, headers=as_(room, "host")
    )
    assert response.status_code == 403


def test_kick_closes_the_persons_connections(room, client):
    troll = watcher(room, "troll")
    response = client.post(
        f"/api/v1/lives/{ids(room)['live']}/kicks",
        json={"user_id": ids(room)["troll"]},
        headers=as_(room, "mia"),
    )
    assert response.status_code == 204
    # Told, then closed (the test client keeps what came before the close in its queue).
    assert not troll.is_connected("/live")
    kicked = [p["args"][0] for p in troll.queue if p["name"] == "kicked"]
    assert kicked == [{"message": "You were removed from this live."}]
    again = socketio.test_client(
        room, namespace="/live", flask_test_client=login(room, "troll"), auth={"live_id": ids(room)["live"]}
    )
    assert not again.is_connected("/live")
    with room.app_context():
        assert db.session.scalar(select(LiveSanction.kind)) == SanctionKind.KICK
        assert db.session.scalar(select(func.count()).select_from(HostBan)) == 0


def test_ban_from_the_api_then_the_host_lists_and_lifts_it(room, client):
    response = client.post(
        f"/api/v1/lives/{ids(room)['live']}/bans",
        json={"user_id": ids(room)["troll"]},
        headers=as_(room, "mia"),
    )
    assert response.status_code == 204
    bans = client.get("/api/v1/bans", headers=as_(room, "host")).get_json()
    assert [(b["user"]["username"], b["live_id"]) for b in bans] == [("troll", ids(room)["live"])]
    # Bans are the host's: the moderator's own list is empty, and they cannot lift it.
    assert client.get("/api/v1/bans", headers=as_(room, "mia")).get_json() == []
    assert client.delete(f"/api/v1/bans/{ids(room)['troll']}", headers=as_(room, "mia")).status_code == 404

    assert (
        client.delete(f"/api/v1/bans/{ids(room)['troll']}", headers=as_(room, "host-read")).status_code == 403
    )
    assert client.delete(f"/api/v1/bans/{ids(room)['troll']}", headers=as_(room, "host")).status_code == 204
    with room.app_context():
        assert db.session.scalar(select(func.count()).select_from(HostBan)) == 0
        assert (
            db.session.scalar(select(ModerationEntry.action).order_by(ModerationEntry.id.desc())) == "unban"
        )
    assert client.delete(f"/api/v1/bans/{ids(room)['troll']}", headers=as_(room, "host")).status_code == 404
    assert client.get("/api/v1/bans").status_code == 401


def test_room_settings(room, client):
    fan = watcher(room, "fan")
    url = f"/api/v1/lives/{ids(room)['live']}/room-settings"
    response = client.patch(
        url, json={"slow_mode_seconds": 30, "comments_off": True}, headers=as_(room, "mia")
    )
    assert response.status_code == 200
    expected = {
        "slow_mode_seconds": 30,
        "followers_only": False,
        "comments_off": True,
        "anonymous_questions": False,
    }
    assert response.get_json() == expected
    assert received(fan, "room_settings") == [expected]
    with room.app_context():
        row = db.session.get(RoomSettings, ids(room)["live"])
        assert row.slow_mode_seconds == 30 and row.comments_off is True
    assert client.patch(url, json={}, headers=as_(room, "host")).status_code == 422
    assert client.patch(url, json={"slow_mode_seconds": 3601}, headers=as_(room, "host")).status_code == 422
    assert client.patch(url, json={"likes": 5}, headers=as_(room, "host")).status_code == 422


def test_the_question_queue_answer_pin_and_dismiss(room, client):
    fan = watcher(room, "fan")
    base = f"/api/v1/lives/{ids(room)['live']}"
    queue = client.get(f"{base}/questions", headers=as_(room, "mia")).get_json()
    assert [(q["id"], q["body"], q["status"]) for q in queue] == [
        (ids(room)["q"], "What guitar is that?", "open")
    ]

    response = client.post(f"{base}/questions/{ids(room)['q']}/answer", headers=as_(room, "mia"))
    assert response.status_code == 200 and response.get_json()["status"] == "answered"
    assert received(fan, "pinned")[0]["question"]["id"] == ids(room)["q"]
    with room.app_context():
        assert db.session.get(RoomSettings, ids(room)["live"]).pinned_question_id == ids(room)["q"]

    assert client.delete(f"{base}/pin", headers=as_(room, "host")).status_code == 204
    assert received(fan, "pinned") == [{"question": None}]
    with room.app_context():
        assert db.session.get(RoomSettings, ids(room)["live"]).pinned_question_id is None

    response = client.post(f"{base}/questions/{ids(room)['q']}/dismiss", headers=as_(room, "host"))
    assert response.status_code == 200 and response.get_json()["status"] == "dismissed"
    with room.app_context():
        assert db.session.get(Question, ids(room)["q"]).status == QuestionStatus.DISMISSED
    response = client.post(f"{base}/questions/{ids(room)['q']}/answer", headers=as_(room, "host"))
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert client.post(f"{base}/questions/9999/answer", headers=as_(room, "host")).status_code == 404


def test_the_questions_csv(room, client):
    response = client.get(f"/api/v1/lives/{ids(room)['live']}/questions.csv", headers=as_(room, "host-read"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert "What guitar is that?" in text and "fan" in text


def test_the_moderation_log_of_a_live(room, client):
    base = f"/api/v1/lives/{ids(room)['live']}"
    client.post(
        f"{base}/mutes", json={"user_id": ids(room)["troll"], "duration": "1m"}, headers=as_(room, "mia")
    )
    client.patch(f"{base}/room-settings", json={"followers_only": True}, headers=as_(room, "host"))
    log = client.get(f"{base}/moderation-log", headers=as_(room, "mia")).get_json()
    assert [(e["action"], e["actor"]["username"], (e["target"] or {}).get("username")) for e in log] == [
        ("settings", "host", None),
        ("mute", "mia", "troll"),
    ]
    assert log[1]["label"] == "Muted for 1 minute" and log[1]["live_id"] == ids(room)["live"]


def test_actions_on_an_ended_live(room, client):
    with room.app_context():
        lives.end_live(lives.get_live(ids(room)["live"]), "host")
    base = f"/api/v1/lives/{ids(room)['live']}"
    response = client.post(
        f"{base}/mutes", json={"user_id": ids(room)["troll"], "duration": "1m"}, headers=as_(room, "host")
    )
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "live_ended"
    # Reading stays possible: the log and the export are for after the live too.
    assert client.get(f"{base}/moderation-log", headers=as_(room, "host")).status_code == 200
    assert client.get(f"{base}/questions.csv", headers=as_(room, "host")).status_code == 200


def test_a_browser_session_needs_the_csrf_header(room):
    browser = login(room, "host")
    url = f"/api/v1/lives/{ids(room)['live']}/kicks"
    assert browser.post(url, json={"user_id": ids(room)["troll"]}).status_code == 400
    token = meta_csrf_token(browser.get("/").get_data(as_text=True))
    assert (
        browser.post(url, json={"user_id": ids(room)["troll"]}, headers={"X-CSRFToken": token}).status_code
        == 204
    )


# -- a host, for all their lives ---------------------------------------------------------------
def test_the_host_manages_moderators(room, client):
    host = as_(room, "host")
    assert [u["username"] for u in client.get("/api/v1/moderators", headers=host).get_json()] == ["mia"]
    response = client.post("/api/v1/moderators", json={"username": "@Other"}, headers=host)
    assert response.status_code == 201 and response.get_json()["username"] == "other"
    assert [u["username"] for u in client.get("/api/v1/moderators", headers=host).get_json()] == [
        "mia",
        "other",
    ]
    with room.app_context():
        assert (
            db.session.get(Moderator, {"host_id": ids(room)["host"], "user_id": get("other").id}) is not None
        )

    assert client.post("/api/v1/moderators", json={"username": "other"}, headers=host).status_code == 409
    assert client.post("/api/v1/moderators", json={"username": "host"}, headers=host).status_code == 409
    assert client.post("/api/v1/moderators", json={"username": "nobody"}, headers=host).status_code == 404
    assert (
        client.post(
            "/api/v1/moderators", json={"username": "fan"}, headers=as_(room, "host-read")
        ).status_code
        == 403
    )
    assert client.post("/api/v1/moderators", json={"username": "fan"}).status_code == 401

    assert client.delete("/api/v1/moderators/other", headers=host).status_code == 204
    assert client.delete("/api/v1/moderators/other", headers=host).status_code == 404
    assert [u["username"] for u in client.get("/api/v1/moderators", headers=host).get_json()] == ["mia"]
    # Someone else's list is their own: the fan has no moderators and removes nobody of the host's.
    assert client.get("/api/v1/moderators", headers=as_(room, "fan")).get_json() == []
    assert client.delete("/api/v1/moderators/mia", headers=as_(room, "fan")).status_code == 404
    with room.app_context():
        assert [u.username for u in moderators.moderators_of(get("host"))] == ["mia"]


def test_the_host_sets_blocked_words(room, client):
    host = as_(room, "host")
    assert client.get("/api/v1/blocked-words", headers=host).get_json() == {
        "words": [],
        "count": 0,
        "max": 200,
    }
    response = client.put("/api/v1/blocked-words", json={"words": ["Spam", " SCAM ", "spam"]}, headers=host)
    assert response.status_code == 200
    assert response.get_json() == {"words": ["scam", "spam"], "count": 2, "max": 200}
    with room.app_context():
        assert moderators.blocked_words(ids(room)["host"]) == ["scam", "spam"]
    response = client.put(
        "/api/v1/blocked-words", json={"words": [f"w{i}" for i in range(201)]}, headers=host
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {
        "words": ["You can block 200 words at most; this list has 201."]
    }
    assert client.put("/api/v1/blocked-words", json={"words": "spam"}, headers=host).status_code == 422
    assert client.get("/api/v1/blocked-words", headers=host).get_json()["words"] == ["scam", "spam"]
    assert client.get("/api/v1/blocked-words").status_code == 401
