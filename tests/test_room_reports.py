"""Reports to the site admins: from the room (``report``) and the API, their limits, the
admins' notifications and page, and deciding (services.reports, blueprints/admin/reports.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import PASSWORD, make_admin, make_token, make_user
from pages import field_errors, find_form, flashes, submit, text_of
from sqlalchemy import func, select

from livelite.blueprints.notifications.routes import target_url
from livelite.extensions import db, socketio
from livelite.models import ChatMessage, Notification, Report, ReportStatus, Role, User
from livelite.models.base import utcnow
from livelite.services import accounts, lives, notifications, reports
from livelite.services.errors import Conflict, PermissionDenied, ValidationFailed
from livelite.services.room import RoomError

TROLL_SAYS = "<b>buy followers</b> at spam.example"


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def site(app):
    """Two admins (@siteadmin, @ada); @host (creator) live as "Evening jam" with a message
    of @troll in the chat; @fan, @mia (members)."""
    with app.app_context():
        make_admin()
        accounts.set_role(make_user("ada", display_name="Ada Admin"), Role.ADMIN)
        host = make_user("host", role=Role.CREATOR)
        for name in ("troll", "fan", "mia"):
            make_user(name, display_name=name.title())
        live = lives.start_live(host, title="Evening jam", visibility="public")
        message = ChatMessage(live_id=live.id, user_id=get("troll").id, body=TROLL_SAYS, offset_ms=1500)
        db.session.add(message)
        db.session.commit()
        app.config["TEST_IDS"] = {"live": live.id, "message": message.id}
    yield app
    app.extensions["livelite.media"].shutdown()


def ids(app) -> dict:
    return app.config["TEST_IDS"]


def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def watcher(app, browser):
    client = socketio.test_client(
        app, namespace="/live", flask_test_client=browser, auth={"live_id": ids(app)["live"]}
    )
    assert client.is_connected("/live")
    client.get_received("/live")
    return client


def admin_notes() -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.kind == "report").order_by(Notification.user_id)
        )
    )


# -- from the room ------------------------------------------------------------------------------
def test_a_viewer_reports_a_message_from_the_room(site):
    fan = watcher(site, login(site, "fan"))
    ack = fan.emit(
        "report",
        {"message_id": ids(site)["message"], "reason": "  Spam link  "},
        namespace="/live",
        callback=True,
    )
    assert ack["ok"] is True
    with site.app_context():
        row = db.session.get(Report, ack["report_id"])
        assert row.reporter.username == "fan" and row.target.username == "troll"
        assert row.message_body == TROLL_SAYS and row.reason == "Spam link"
        assert row.live_id == ids(site)["live"] and row.status == ReportStatus.OPEN
        # The copy outlives the message.
        db.session.delete(db.session.get(ChatMessage, ids(site)["message"]))
        db.session.commit()
        assert db.session.get(Report, row.id).message_body == TROLL_SAYS

        notes = admin_notes()
        assert sorted(db.session.get(User, n.user_id).username for n in notes) == ["ada", "siteadmin"]
        assert notifications.describe(notes[0]) == "Fan reported a chat message by @troll."
        with site.test_request_context():
            assert target_url(notes[0]) == "/admin/reports"
    # Nothing is broadcast to the room.
    assert [m["name"] for m in fan.get_received("/live")] == []


def test_a_viewer_reports_a_person_from_the_room(site):
    mia = watcher(site, login(site, "mia"))
    with site.app_context():
        troll_id = get("troll").id
    ack = mia.emit(
        "report", {"user_id": troll_id, "reason": "Insults everyone"}, namespace="/live", callback=True
    )
    assert ack["ok"] is True
    with site.app_context():
        row = db.session.get(Report, ack["report_id"])
        assert row.message_id is None and row.message_body is None and row.target_id == troll_id
        assert notifications.describe(admin_notes()[0]) == "Mia reported @troll."


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (None, "invalid"),
        ("spam", "invalid"),
        ({"reason": "no target"}, "invalid"),
        ({"message_id": "1", "reason": "x"}, "invalid"),
        ({"user_id": True, "reason": "x"}, "invalid"),
        ({"message_id": 1, "reason": 5}, "invalid"),
        ({"message_id": 1, "reason": "   "}, "empty"),
        ({"message_id": 1, "reason": "x" * 501}, "too_long"),
        ({"message_id": 999, "reason": "gone"}, "not_found"),
        ({"user_id": 999, "reason": "nobody"}, "not_found"),
    ],
)
def test_bad_reports_are_refused(site, payload, code):
    fan = watcher(site, login(site, "fan"))
    ack = fan.emit("report", payload, namespace="/live", callback=True)
    assert ack["ok"] is False and ack["code"] == code
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 0
        assert admin_notes() == []


def test_nobody_reports_themselves_and_visitors_must_log_in(site):
    troll = watcher(site, login(site, "troll"))
    ack = troll.emit(
        "report", {"message_id": ids(site)["message"], "reason": "oops"}, namespace="/live", callback=True
    )
    assert ack["code"] == "invalid" and ack["error"] == "You cannot report yourself."
    visitor = watcher(site, site.test_client())
    ack = visitor.emit(
        "report", {"message_id": ids(site)["message"], "reason": "spam"}, namespace="/live", callback=True
    )
    assert ack["code"] == "login_required"
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(Report)) == 0


def test_a_message_of_another_live_cannot_be_reported_from_this_one(site):
    with site.app_context():
        other = lives.start_live(
            make_user("host2", role=Role.CREATOR), title="Other live", visibility="public"
        )
        message = ChatMessage(live_id=other.id, user_id=get("troll").id, body="elsewhere")
        db.session.add(message)
        db.session.commit()
        message_id = message.id
    fan = watcher(site, login(site, "fan"))
    ack = fan.emit("report", {"message_id": message_id, "reason": "spam"}, namespace="/live", callback=True)
    assert ack["code"] == "not_found"


def test_the_same_open_report_twice_is_a_conflict(site):
    fan = watcher(site, login(site, "fan"))
    payload = {"message_id": ids(site)["message"], "reason": "spam"}
    assert fan.emit("report", payload, namespace="/live", callback=True)["ok"] is True
    ack = fan.emit("report", payload, namespace="/live", callback=True)
    assert ack["code"] == "conflict"
    # Reporting the person too is a different report.
    with site.app_context():
        troll_id = get("troll").id
    assert fan.emit("report", {"user_id": troll_id, "reason": "spam"}, namespace="/live", callback=True)["ok"]


def test_ten_reports_an_hour_per_person(site):
    with site.app_context():
        fan = get("fan")
        start = utcnow() - timedelta(minutes=50)
        targets = [make_user(f"target{i}") for i in range(11)]
        for i in range(10):
            reports.create(fan, user_id=targets[i].id, reason="spam", now=start + timedelta(minutes=i))
        with pytest.raises(RoomError) as caught:
            reports.create(fan, user_id=targets[10].id, reason="spam", now=start + timedelta(minutes=20))
        assert caught.value.code == "rate_limited" and caught.value.status == 429
        # The oldest of the hour leaves the window 40 minutes later.
        assert caught.value.retry_after == 40 * 60
        # Others are not affected; and an hour after the first, one more is allowed.
        reports.create(get("mia"), user_id=targets[10].id, reason="spam")
        reports.create(fan, user_id=targets[10].id, reason="spam", now=start + timedelta(minutes=61))

    browser = login(site, "fan")
    fan_socket = watcher(site, browser)
    with site.app_context():
        troll_id = get("troll").id
    ack = fan_socket.emit("report", {"user_id": troll_id, "reason": "spam"}, namespace="/live", callback=True)
    assert ack["code"] == "rate_limited" and ack["retry_after"] > 0
    assert "10 reports an hour" in ack["error"]


def test_a_flood_of_reports_is_turned_away_before_the_database(site):
    fan = watcher(site, login(site, "fan"))
    acks = [fan.emit("report", {"reason": "no target"}, namespace="/live", callback=True) for _ in range(6)]
    assert [a["code"] for a in acks] == ["invalid"] * 5 + ["rate_limited"]


def test_admins_are_notified_once_per_person_while_reports_are_open(site):
    with site.app_context():
        troll = get("troll")
        first = reports.create(get("fan"), user_id=troll.id, reason="spam")
        reports.create(get("mia"), message_id=ids(site)["message"], reason="spam link")
        assert len(admin_notes()) == 2  # two admins, one notification each
        reports.decide(first, get("siteadmin"), "resolved")
        reports.decide(
            db.session.scalar(select(Report).where(Report.reporter_id == get("mia").id)),
            get("ada"),
            "dismissed",
        )
        # Handled: a new report about them is news again.
        reports.create(get("fan"), user_id=troll.id, reason="again")
        assert len(admin_notes()) == 4


def test_an_admin_reporting_does_not_notify_themselves(site):
    with site.app_context():
        reports.create(get("ada"), user_id=get("troll").id, reason="seen it")
        assert [db.session.get(User, n.user_id).username for n in admin_notes()] == ["siteadmin"]


# -- the admins' page ----------------------------------------------------------------------------
@pytest.fixture
def reported(site):
    with site.app_context():
        row = reports.create(
            get("fan"),
            live=lives.get_live(ids(site)["live"]),
            message_id=ids(site)["message"],
            reason="Spam link",
        )
        return row.id


def test_the_admin_page_lists_open_reports_with_the_message_copy(site, reported):
    browser = login(site, "siteadmin")
    html = browser.get("/admin/reports").get_data(as_text=True)
    text = text_of(html)
    assert "Reports 1 open" in text  # the admin tab and its count
    assert "Troll @troll" in text and "Reported by @fan" in text and "A chat message" in text
    assert "Live Evening jam" in text
    assert f"The message, as it was when reported {TROLL_SAYS}" in text
    assert "<b>buy followers</b>" not in html  # escaped
    assert "Reason Spam link" in text
    assert f'href="/lives/{ids(site)["live"]}"' in html
    assert 'href="/admin/users?q=troll"' in html
    find_form(html, f"/admin/reports/{reported}/decision")


def test_resolving_and_dismissing_on_the_page(site, reported):
    browser = login(site, "siteadmin")
    response = submit(
        browser,
        "/admin/reports",
        {"decision": "resolved", "note": "Muted and warned."},
        action=f"/admin/reports/{reported}/decision",
    )
    assert response.status_code == 302
    html = browser.get("/admin/reports").get_data(as_text=True)
    assert flashes(html) == ["The report about @troll is resolved."]
    assert "No open report." in text_of(html)
    text = text_of(browser.get("/admin/reports?status=resolved").get_data(as_text=True))
    assert "Resolved by @siteadmin" in text and "Note Muted and warned." in text
    with site.app_context():
        row = db.session.get(Report, reported)
        assert row.status == ReportStatus.RESOLVED and row.handled_by_id == get("siteadmin").id

    with site.app_context():
        second = reports.create(get("mia"), user_id=get("troll").id, reason="rude").id
    response = submit(
        browser, "/admin/reports", {"decision": "dismissed"}, action=f"/admin/reports/{second}/decision"
    )
    assert response.status_code == 302
    assert "Mia" not in text_of(browser.get("/admin/reports").get_data(as_text=True))
    assert "@mia" in text_of(browser.get("/admin/reports?status=dismissed").get_data(as_text=True))


def test_a_long_note_is_shown_next_to_the_form(site, reported):
    browser = login(site, "siteadmin")
    response = submit(
        browser,
        "/admin/reports",
        {"decision": "resolved", "note": "n" * 501},
        action=f"/admin/reports/{reported}/decision",
    )
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), f"note-{reported}") == [
        "The note is too long: 500 characters at most."
    ]
    with site.app_context():
        assert db.session.get(Report, reported).status == ReportStatus.OPEN


def test_deciding_twice_is_a_conflict(site, reported):
    with site.app_context():
        row = db.session.get(Report, reported)
        reports.decide(row, get("siteadmin"), "dismissed")
        with pytest.raises(Conflict):
            reports.decide(row, get("ada"), "resolved")
        with pytest.raises(ValidationFailed):
            reports.decide(
                reports.create(get("mia"), user_id=get("troll").id, reason="x"), get("ada"), "open"
            )


def test_only_admins_see_and_decide_reports(site, reported):
    for who in ("fan", "host"):
        browser = login(site, who)
        assert browser.get("/admin/reports").status_code == 403
        html = browser.get("/").get_data(as_text=True)
        assert browser.post(
            f"/admin/reports/{reported}/decision", data={"decision": "dismissed"}
        ).status_code in (400, 403)
        assert "/admin/reports" not in html
    assert site.test_client().get("/admin/reports").status_code == 302
    with site.app_context():
        assert db.session.get(Report, reported).status == ReportStatus.OPEN
        with pytest.raises(PermissionDenied):
            reports.decide(db.session.get(Report, reported), get("mia"), "dismissed")
        with pytest.raises(PermissionDenied):
            reports.list_reports(get("mia"))


# -- the API ------------------------------------------------------------------------------------
def test_reporting_through_the_api(site, client):
    with site.app_context():
        secret = make_token(get("mia"), scopes=("read", "write"))
        read_only = make_token(get("fan"), scopes=("read",))
        troll_id = get("troll").id
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.post(
        "/api/v1/reports", json={"message_id": ids(site)["message"], "reason": "spam"}, headers=headers
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (
        body["target"]["username"] == "troll"
        and body["status"] == "open"
        and body["live_id"] == ids(site)["live"]
    )
    assert "message_body" not in body  # the copy is for the admins

    response = client.post(
        "/api/v1/reports", json={"message_id": ids(site)["message"], "reason": "spam"}, headers=headers
    )
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    response = client.post("/api/v1/reports", json={"user_id": troll_id, "reason": ""}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {"reason": ["Say why you report it."]}
    response = client.post(
        "/api/v1/reports",
        json={"user_id": troll_id, "reason": "x"},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert response.status_code == 403
    assert client.post("/api/v1/reports", json={"user_id": troll_id, "reason": "x"}).status_code == 401


def test_the_api_rate_limit_says_when_to_retry(site, client):
    with site.app_context():
        mia = get("mia")
        secret = make_token(mia, scopes=("read", "write"))
        for i in range(10):
            reports.create(mia, user_id=make_user(f"target{i}").id, reason="spam")
        troll_id = get("troll").id
    response = client.post(
        "/api/v1/reports",
        json={"user_id": troll_id, "reason": "spam"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited" and 3500 <= error["retry_after"] <= 3600
    assert response.headers["Retry-After"] == str(error["retry_after"])


def test_admins_list_and_decide_reports_through_the_api(site, client, reported):
    with site.app_context():
        admin_secret = make_token(get("ada"), scopes=("read", "write"))
        fan_secret = make_token(get("fan"), scopes=("read", "write"))
    admin = {"Authorization": f"Bearer {admin_secret}"}
    page = client.get("/api/v1/admin/reports", headers=admin).get_json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert item["message_body"] == TROLL_SAYS and item["reporter"]["username"] == "fan"

    fan = {"Authorization": f"Bearer {fan_secret}"}
    assert client.get("/api/v1/admin/reports", headers=fan).status_code == 403
    assert (
        client.post(
            f"/api/v1/admin/reports/{reported}/decision", json={"status": "resolved"}, headers=fan
        ).status_code
        == 403
    )

    response = client.post(
        f"/api/v1/admin/reports/{reported}/decision",
        json={"status": "dismissed", "note": "Fine."},
        headers=admin,
    )
    assert response.status_code == 200
    assert (
        response.get_json()["status"] == "dismissed"
        and response.get_json()["handled_by"]["username"] == "ada"
    )
    response = client.post(
        f"/api/v1/admin/reports/{reported}/decision", json={"status": "resolved"}, headers=admin
    )
    assert response.status_code == 409
    assert client.get("/api/v1/admin/reports", headers=admin).get_json()["total"] == 0
    assert client.get("/api/v1/admin/reports?status=dismissed", headers=admin).get_json()["total"] == 1
