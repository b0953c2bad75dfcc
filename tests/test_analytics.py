"""Analytics (services/analytics.py): figures and series computed from known fixtures,
attendance recorded through real Socket.IO connections, the sampler job, the pages'
permissions and content, and the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from earnings_support import give, make_gift
from factories import PASSWORD, make_admin, make_token, make_user
from flask import render_template_string
from pages import submit

from livelite.extensions import db, socketio
from livelite.models import (
    Attendance,
    ChatMessage,
    Follow,
    Live,
    LiveSample,
    LiveStatus,
    Question,
    QuestionStatus,
    Role,
    RoomSettings,
)
from livelite.services import accounts, analytics, lives
from livelite.services.errors import PermissionDenied

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _follow(follower, host, when: datetime) -> None:
    db.session.add(Follow(follower_id=follower.id, followed_id=host.id, created_at=when))
    db.session.commit()


def build_live(app) -> int:
    """An ended live of 5 minutes (T0 to T0+300 s) with known samples, attendance,
    follows, gifts, chat and questions; the expected figures are in the tests."""
    with app.app_context():
        make_admin()
        host = make_user("maker", role=Role.CREATOR)
        fan, other = make_user("fan"), make_user("other")
        early, during1, during2, late = (make_user(n) for n in ("early", "during1", "during2", "late"))
        live = Live(
            host_id=host.id,
            title="Maths <b>class</b>",
            status=LiveStatus.ENDED,
            started_at=T0,
            ended_at=at(300),
        )
        db.session.add(live)
        db.session.commit()
        for seconds, viewers, likes in ((0, 2, 0), (30, 4, 5), (90, 1, 12), (150, 3, 12), (240, 0, 20)):
            db.session.add(LiveSample(live_id=live.id, at=at(seconds), viewers=viewers, likes=likes))
        for identity, user, since, until in (
            (f"user:{fan.id}", fan, 0, 60),
            (f"user:{fan.id}", fan, 120, 180),
            ("visitor:abc", None, 10, 100),
            (f"user:{other.id}", other, 30, 300),
        ):
            db.session.add(
                Attendance(
                    live_id=live.id,
                    identity=identity,
                    user_id=user.id if user else None,
                    joined_at=at(since),
                    left_at=at(until),
                    seen_at=at(until),
                )
            )
        _follow(early, host, T0 - timedelta(days=1))
        _follow(during1, host, at(60))
        _follow(during2, host, at(299))
        _follow(late, host, at(600))
        for seconds, removed in ((10, False), (20, False), (70, False), (250, True)):
            db.session.add(
                ChatMessage(
                    live_id=live.id,
                    user_id=fan.id,
                    body="hi",
                    created_at=at(seconds),
                    offset_ms=seconds * 1000,
                    removed_at=at(seconds + 1) if removed else None,
                )
            )
        for status in (QuestionStatus.ANSWERED, QuestionStatus.OPEN, QuestionStatus.DISMISSED):
            db.session.add(
                Question(live_id=live.id, user_id=fan.id, body="why?", status=status, created_at=at(40))
            )
        db.session.commit()
        rose = make_gift("Rose", coins=10)
        for seconds, quantity in ((30, 2), (200, 1)):
            send = give(fan, host, rose, live, quantity=quantity, at=at(seconds))
            send.offset_ms = seconds * 1000
        db.session.commit()
        return live.id


@pytest.fixture
def live_id(app):
    return build_live(app)


def login(app, username: str):
    browser = app.test_client()
    assert submit(browser, "/login", {"login": username, "password": PASSWORD}).status_code == 302
    return browser


# -- figures from known fixtures ------------------------------------------------------------
def test_live_figures_from_known_fixtures(app, live_id):
    with app.app_context():
        f = analytics.live_figures(db.session.get(Live, live_id))
    assert f["duration_s"] == 300
    assert f["peak_viewers"] == 4
    # Each sample holds until the next: (2·30 + 4·60 + 1·60 + 3·90) / 240 = 2.625.
    assert f["average_viewers"] == 2.6
    assert (f["unique_viewers"], f["signed_in_viewers"], f["visitors"]) == (3, 2, 1)
    assert f["watch_seconds"] == 60 + 60 + 90 + 270
    assert f["new_followers"] == 2  # not the one before, nor the one after
    assert (f["gifts"], f["coins"], f["diamonds"]) == (3, 30, 15)
    assert f["likes"] == 20  # no room settings row: the last sample's total
    assert (f["chat_messages"], f["chat_removed"]) == (4, 1)
    assert (f["questions_asked"], f["questions_answered"]) == (3, 1)
    series = f["series"]
    assert series["viewers"] == [
        {"t": 0, "viewers": 2},
        {"t": 30, "viewers": 4},
        {"t": 90, "viewers": 1},
        {"t": 150, "viewers": 3},
        {"t": 240, "viewers": 0},
    ]
    assert series["chat_per_minute"] == [2, 1, 0, 0, 1]
    assert series["likes_per_minute"] == [5, 7, 0, 0, 8]
    assert series["diamonds_per_minute"] == [10, 0, 0, 5, 0]


def test_likes_total_comes_from_the_room_when_it_has_one(app, live_id):
    with app.app_context():
        db.session.add(RoomSettings(live_id=live_id, likes=23))
        db.session.commit()
        assert analytics.live_figures(db.session.get(Live, live_id))["likes"] == 23


def test_time_weighted_average_and_likes_edge_cases():
    assert analytics.time_weighted_average([]) == 0
    assert analytics.time_weighted_average([(T0, 7)]) == 7
    # A long quiet stretch weighs by its length, not by its one sample.
    assert analytics.time_weighted_average([(T0, 10), (at(10), 0), (at(100), 0)]) == 1
    # No sample in minute 1: its likes show in minute 2; a total going down counts 0.
    assert analytics.likes_per_minute([(at(5), 3), (at(150), 9), (at(200), 4)], T0, 4) == [3, 0, 6, 0]


def test_summaries_and_site_days(app, live_id):
    with app.app_context():
        host = accounts.get_by_username("maker")
        admin = accounts.get_by_username("siteadmin")
        other = Live(
            host_id=host.id, title="Second", status=LiveStatus.ENDED, started_at=at(3600), ended_at=at(3660)
        )
        db.session.add(other)
        db.session.commit()
        # Another live sampled at the same tick as the first: the site's peak is their sum.
        db.session.add(LiveSample(live_id=other.id, at=at(30), viewers=5, likes=0))
        db.session.commit()
        page = analytics.lives_of(host)
        assert [live.title for live in page.items] == ["Second", "Maths <b>class</b>"]
        rows = {row["title"]: row for row in analytics.summaries(page.items)}
        assert rows["Maths <b>class</b>"]["peak_viewers"] == 4
        assert rows["Maths <b>class</b>"]["unique_viewers"] == 3
        assert rows["Maths <b>class</b>"]["diamonds"] == 15
        assert rows["Second"]["duration_s"] == 60

        site = analytics.site_days(admin, 3, now=T0 + timedelta(days=1, hours=2))
        assert site["days"] == ["2026-11-19", "2026-11-20", "2026-11-21"]
        assert site["lives"] == [0, 2, 0]
        assert site["peak_viewers"] == [0, 9, 0]
        assert site["hours_watched"] == [0, round(480 / 3600, 1), 0]
        assert site["diamonds"] == [0, 15, 0]
        assert sum(site["new_people"]) == 0  # everyone was registered "now", after the window
        with pytest.raises(PermissionDenied):
            analytics.site_days(host, 3)


# -- recording: the sampler and attendance -------------------------------------------------
def test_sampler_writes_samples_for_lives_that_are_on_only(app, live_id):
    with app.app_context():
        host = accounts.get_by_username("maker")
        on = lives.start_live(host, title="On now")
        presence = app.extensions["livelite.presence"]
        presence.join(on.id, "user:999", "sid-1")
        db.session.add(Attendance(live_id=on.id, identity="user:999", joined_at=at(0), seen_at=at(0)))
        db.session.commit()
        assert analytics.sample(presence, at=at(15)) == 1
        samples = db.session.scalars(db.select(LiveSample).where(LiveSample.at == at(15))).all()
        assert [(s.live_id, s.viewers) for s in samples] == [(on.id, 1)]
        row = db.session.scalar(db.select(Attendance).where(Attendance.live_id == on.id))
        assert row.seen_at == at(15)
        presence.leave("sid-1")


def test_recover_attendance_closes_open_rows_at_seen_at(app, live_id):
    with app.app_context():
        db.session.add(Attendance(live_id=live_id, identity="user:42", joined_at=at(0), seen_at=at(45)))
        db.session.commit()
        assert analytics.recover_attendance() == 1
        row = db.session.scalar(db.select(Attendance).where(Attendance.identity == "user:42"))
        assert row.left_at == at(45)


def _socket(app, live, browser):
    return socketio.test_client(app, namespace="/live", flask_test_client=browser, auth={"live_id": live})


def _rows(app, live):
    with app.app_context():
        return db.session.execute(
            db.select(Attendance.identity, Attendance.user_id, Attendance.joined_at, Attendance.left_at)
            .where(Attendance.live_id == live)
            .order_by(Attendance.id)
        ).all()


def test_attendance_through_real_sockets(app, live_id):
    with app.app_context():
        on = lives.start_live(accounts.get_by_username("maker"), title="On now").id
        fan_id = accounts.get_by_username("fan").id
    fan = login(app, "fan")
    tab1, tab2 = _socket(app, on, fan), _socket(app, on, fan)
    assert tab1.is_connected("/live") and tab2.is_connected("/live")
    rows = _rows(app, on)
    assert [(r.identity, r.user_id, r.left_at) for r in rows] == [(f"user:{fan_id}", fan_id, None)]
    tab1.disconnect("/live")
    assert _rows(app, on)[0].left_at is None  # the other tab is still there
    tab2.disconnect("/live")
    assert _rows(app, on)[0].left_at is not None
    again = _socket(app, on, fan)  # a reconnect: a second stretch
    again.disconnect("/live")
    rows = _rows(app, on)
    assert len(rows) == 2 and all(r.left_at is not None for r in rows)

    visitor = app.test_client()
    assert visitor.get(f"/lives/{on}").status_code == 200  # gives the browser its visitor id
    v1, v2 = _socket(app, on, visitor), _socket(app, on, visitor)
    host_socket = _socket(app, on, login(app, "maker"))
    assert host_socket.is_connected("/live")
    visitors = [r for r in _rows(app, on) if r.identity.startswith("visitor:")]
    assert len(visitors) == 1 and visitors[0].user_id is None
    with app.app_context():
        host_id = accounts.get_by_username("maker").id
        lives.end_live(db.session.get(Live, on), "host")
        figures = analytics.live_figures(db.session.get(Live, on))
    rows = _rows(app, on)
    assert all(r.identity != f"user:{host_id}" for r in rows)  # the host is not audience
    assert all(r.left_at is not None for r in rows)  # the end closed everyone's row
    assert figures["unique_viewers"] == 2 and figures["signed_in_viewers"] == 1
    assert figures["watch_seconds"] == sum(int((r.left_at - r.joined_at).total_seconds()) for r in rows)
    for client in (v1, v2, host_socket):
        client.disconnect("/live")


# -- pages -------------------------------------------------------------------------------------
def test_live_analytics_page_for_host_and_admin(app, live_id):
    host = login(app, "maker")
    html = host.get(f"/lives/{live_id}/analytics").get_data(as_text=True)
    assert "Maths &lt;b&gt;class&lt;/b&gt;" in html and "<b>class</b>" not in html
    assert 'id="tile-peak"' in html and ">4<" in html
    assert ">2.6<" in html  # the average
    assert "signed in: 2 · visitors: 1" in html
    assert 'data-chart="line"' in html and html.count('data-chart="bar"') == 3
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "Show as table" in html and '<td class="num">10</td>' in html  # diamonds in minute 0
    admin = login(app, "siteadmin")
    assert ">4<" in admin.get(f"/lives/{live_id}/analytics").get_data(as_text=True)


def test_live_analytics_page_refused_to_others(app, live_id):
    assert login(app, "other").get(f"/lives/{live_id}/analytics").status_code == 403
    response = app.test_client().get(f"/lives/{live_id}/analytics")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login(app, "maker").get("/lives/9999/analytics").status_code == 404


def test_a_live_without_samples_says_so(app, live_id):
    with app.app_context():
        host = accounts.get_by_username("maker")
        quiet = Live(
            host_id=host.id, title="Quiet", status=LiveStatus.ENDED, started_at=at(0), ended_at=at(60)
        )
        db.session.add(quiet)
        db.session.commit()
        quiet_id = quiet.id
    html = login(app, "maker").get(f"/lives/{quiet_id}/analytics").get_data(as_text=True)
    assert "No viewer counts were recorded for this live" in html
    assert 'data-chart="line"' not in html


def test_my_analytics_list_and_links(app, live_id):
    host = login(app, "maker")
    html = host.get("/settings/analytics").get_data(as_text=True)
    assert f'href="/lives/{live_id}/analytics"' in html and "Maths &lt;b&gt;class&lt;/b&gt;" in html
    assert "5 min 00 s" in html
    assert 'href="/settings/analytics"' in host.get("/studio").get_data(as_text=True)
    assert f'href="/lives/{live_id}/analytics"' in host.get(f"/lives/{live_id}").get_data(as_text=True)
    # Others do not get the link on the ended live's page, and their list is empty.
    other = login(app, "other")
    assert "/analytics" not in other.get(f"/lives/{live_id}").get_data(as_text=True)
    assert "No lives yet" in other.get("/settings/analytics").get_data(as_text=True)


def test_admin_analytics_page_json_and_overview_partial(app, live_id):
    admin = login(app, "siteadmin")
    html = admin.get("/admin/analytics?days=30").get_data(as_text=True)
    assert html.count("data-chart=") == 5 and "Day by day" in html
    data = admin.get("/admin/analytics.json?days=14").get_json()
    assert len(data["days"]) == 14 and set(data) >= {
        "lives",
        "peak_viewers",
        "hours_watched",
        "new_people",
        "diamonds",
    }
    assert login(app, "maker").get("/admin/analytics").status_code == 403
    assert login(app, "maker").get("/admin/analytics.json").status_code == 403
    # The partial H1's overview includes needs nothing from the page's context.
    with app.test_request_context("/admin/"):
        from flask_login import login_user

        with app.app_context():
            login_user(accounts.get_by_username("siteadmin"))
            partial = render_template_string('{% include "admin/_overview_chart.html" %}')
    assert 'id="admin-overview-chart"' in partial and "Lives held" in partial and "<table" in partial


# -- API -----------------------------------------------------------------------------------------
def test_api_analytics(app, live_id):
    with app.app_context():
        host_token = make_token(accounts.get_by_username("maker"))
        other_token = make_token(accounts.get_by_username("other"))
        admin_token = make_token(accounts.get_by_username("siteadmin"))
    client = app.test_client()

    def get(url, token):
        return client.get(url, headers={"Authorization": f"Bearer {token}"})

    body = get(f"/api/v1/lives/{live_id}/analytics", host_token).get_json()
    assert (body["peak_viewers"], body["average_viewers"], body["unique_viewers"]) == (4, 2.6, 3)
    assert body["new_followers"] == 2 and body["diamonds"] == 15 and body["questions_answered"] == 1
    assert body["series"]["chat_per_minute"] == [2, 1, 0, 0, 1]
    assert get(f"/api/v1/lives/{live_id}/analytics", other_token).status_code == 403
    assert client.get(f"/api/v1/lives/{live_id}/analytics").status_code == 401
    mine = get("/api/v1/me/analytics", host_token).get_json()
    assert [item["live_id"] for item in mine["items"]] == [live_id] and mine["items"][0]["diamonds"] == 15
    assert get("/api/v1/me/analytics", other_token).get_json()["items"] == []
    site = get("/api/v1/admin/analytics?days=7", admin_token).get_json()
    assert len(site["days"]) == 7
    assert get("/api/v1/admin/analytics", host_token).status_code == 403
