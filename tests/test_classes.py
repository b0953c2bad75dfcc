"""Class mode: member groups, invite codes at /join, attendance (page, CSV, API).

Real SQLite, the real pages and API, and Socket.IO test clients on /live (as in
test_lives_sockets.py) for who may connect and how tabs count.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from factories import PASSWORD, make_admin, make_token, make_user
from pages import field_errors, find_form, flashes, submit, text_of

from livelite.extensions import db, socketio
from livelite.models import Attendance, Notification, Role
from livelite.services import accounts, analytics, classes, lives
from livelite.services.errors import ValidationFailed

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def site(app):
    """A teacher (creator) with a class group (ann, bob), a follower, another host with
    their own group holding carl, and a stranger."""
    with app.app_context():
        make_admin()
        teacher = make_user("teacher", display_name="Ms Teacher", role=Role.CREATOR)
        other = make_user("otherhost", role=Role.CREATOR)
        ann = make_user("ann", display_name="Ann Archer")
        bob = make_user("bob", display_name="Bob Baker")
        carl = make_user("carl", display_name="Carl Cole")
        make_user("stranger")
        accounts.follow(make_user("fan"), teacher)
        group = classes.create_group(teacher, "Class 4B")
        classes.add_members(group, teacher, "ann, bob")
        other_group = classes.create_group(other, "Other class")
        classes.add_members(other_group, other, ["carl"])
        ids = {
            "group": group.id,
            "other_group": other_group.id,
            "ann": ann.id,
            "bob": bob.id,
            "carl": carl.id,
            "token": make_token(teacher, scopes=("read", "write")),
        }
    yield ids
    app.extensions["livelite.media"].shutdown()


def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def class_live(app, group_id=None, visibility="invite"):
    with app.app_context():
        teacher = accounts.get_by_username("teacher")
        live = lives.start_live(teacher, title="Maths =SUM(A1)", visibility=visibility, group_id=group_id)
        return live.id, live.invite_token, live.invite_code


def watcher(app, live_id: int, browser=None, **auth):
    return socketio.test_client(
        app,
        namespace="/live",
        flask_test_client=browser or app.test_client(),
        auth={"live_id": live_id, **auth},
    )


def csv_rows(response) -> list[list[str]]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


# -- who may watch ---------------------------------------------------------------------
def test_a_group_member_may_watch_without_link_and_nobody_else_may(app, site):
    live_id, token, _code = class_live(app, site["group"])
    ann = login(app, "ann")
    page = ann.get(f"/lives/{live_id}")
    assert page.status_code == 200
    assert "Maths =SUM(A1)" in text_of(page.get_data(as_text=True))
    socket = watcher(app, live_id, ann)
    assert socket.is_connected("/live")
    socket.disconnect("/live")

    # A stranger, a visitor, and a member of ANOTHER host's group need the invitation.
    for browser in (login(app, "stranger"), app.test_client(), login(app, "carl"), login(app, "fan")):
        assert browser.get(f"/lives/{live_id}").status_code == 403
        assert not watcher(app, live_id, browser).is_connected("/live")
    carl = login(app, "carl")
    assert carl.get(f"/lives/{live_id}?invite={token}").status_code == 200
    assert watcher(app, live_id, carl, invite=token).is_connected("/live")

    # Members see it in the list of lives; others do not.
    assert [row["id"] for row in ann.get("/api/v1/lives").get_json()] == [live_id]
    assert carl.get("/api/v1/lives").get_json() == []


def test_starting_with_another_hosts_group_is_refused(app, site):
    with app.app_context():
        teacher = accounts.get_by_username("teacher")
        with pytest.raises(ValidationFailed) as refused:
            lives.start_live(teacher, title="Class", visibility="invite", group_id=site["other_group"])
        assert "group_id" in refused.value.errors
        with pytest.raises(ValidationFailed):
            lives.start_live(teacher, title="Class", visibility="public", group_id=site["group"])
    auth = {"Authorization": f"Bearer {site['token']}"}
    response = app.test_client().post(
        "/api/v1/lives",
        json={"title": "Class", "visibility": "invite", "group_id": site["other_group"]},
        headers=auth,
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"]["group_id"] == ["Choose one of your own groups."]
    response = app.test_client().post(
        "/api/v1/lives",
        json={"title": "Class", "visibility": "invite", "group_id": site["group"]},
        headers=auth,
    )
    assert response.status_code == 201
    data = response.get_json()
    assert data["group_id"] == site["group"]
    code = data["invite_code"]
    assert len(code) == 9 and code[4] == "-"


def test_members_are_told_when_an_invite_only_live_starts_and_followers_are_not(app, site):
    live_id, _token, _code = class_live(app, site["group"])
    with app.app_context():
        told = set(
            db.session.scalars(
                db.select(Notification.user_id).where(
                    Notification.live_id == live_id, Notification.kind == "live_started"
                )
            )
        )
        assert told == {site["ann"], site["bob"]}


# -- join by code ----------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["{lower}", "{dashed}", " {lower_dashed} ", "{spaced}"])
def test_join_by_code_lands_in_the_live(app, site, typed):
    live_id, token, code = class_live(app)
    values = {
        "lower": code.lower(),
        "dashed": f"{code[:4]}-{code[4:]}",
        "lower_dashed": f"{code[:4]}-{code[4:]}".lower(),
        "spaced": f"{code[:4]} {code[4:]}",
    }
    browser = app.test_client()
    response = submit(browser, "/join", {"code": typed.format(**values)}, action="/join")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/lives/{live_id}?invite={token}"
    assert browser.get(response.headers["Location"]).status_code == 200


def test_a_wrong_code_says_so_and_keeps_what_was_typed(app, site):
    class_live(app)
    browser = app.test_client()
    response = submit(browser, "/join", {"code": "abcd-wxyz"}, action="/join")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert field_errors(html, "code") == ["No live has this code. Check it and try again."]
    assert find_form(html, "/join").values()["code"] == "abcd-wxyz"


def test_a_public_lives_code_opens_nothing_and_an_ended_live_says_so(app, site):
    _live_id, _token, public_code = class_live(app, visibility="public")
    response = submit(app.test_client(), "/join", {"code": public_code}, action="/join")
    assert field_errors(response.get_data(as_text=True), "code") == [
        "No live has this code. Check it and try again."
    ]
    with app.app_context():
        live = lives.get_live(_live_id)
        lives.end_live(live, "host")
    live_id, _token, code = class_live(app)
    with app.app_context():
        lives.end_live(lives.get_live(live_id), "host")
    response = submit(app.test_client(), "/join", {"code": code}, action="/join")
    assert response.status_code == 200
    assert "“Maths =SUM(A1)” has ended" in text_of(response.get_data(as_text=True))


def test_join_api_answers_the_url(app, site):
    live_id, token, code = class_live(app)
    response = app.test_client().post("/api/v1/join", json={"code": code.lower()})
    assert response.status_code == 200
    data = response.get_json()
    assert data["live_id"] == live_id
    assert data["url"].endswith(f"/lives/{live_id}?invite={token}")
    assert app.test_client().post("/api/v1/join", json={"code": "ZZZZ-ZZZZ"}).status_code == 404


def test_guessing_codes_is_rate_limited_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    with app.app_context():
        make_admin()
    browser = app.test_client()
    form = find_form(browser.get("/join").get_data(as_text=True), "/join").values()
    for attempt in range(9):
        response = browser.post("/join", data={**form, "code": f"AAAA-AAA{attempt + 2}"})
        assert response.status_code == 200, attempt
        assert "No live has this code" in text_of(response.get_data(as_text=True))
    # The API shares the budget: the tenth try goes there, the eleventh is refused.
    assert browser.post("/api/v1/join", json={"code": "AAAA-AAAA"}).status_code == 404
    response = browser.post("/join", data={**form, "code": "AAAA-BBBB"})
    assert response.status_code == 429
    assert app.test_client().get("/join").status_code == 200


# -- groups ----------------------------------------------------------------------------
def test_groups_pages_create_add_remove_rename_delete(app, site):
    teacher = login(app, "teacher")
    response = submit(teacher, "/settings/groups", {"name": "  class 4b "}, action="/settings/groups")
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "name") == [
        "You already have a group called “class 4b”."
    ]

    response = submit(teacher, "/settings/groups", {"name": "Chess club"}, action="/settings/groups")
    assert response.status_code == 302
    page = response.headers["Location"]
    group_id = int(page.rsplit("/", 1)[1])

    response = submit(
        teacher, page, {"usernames": "ann,\n@bob  nobody1 carl\nghost"}, action=f"{page}/members"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "usernames") == ["No account has these usernames: nobody1, ghost"]
    assert find_form(html, f"{page}/members").values()["usernames"].strip() == "nobody1\nghost"
    assert flashes(html) == ["3 people added."]
    with app.app_context():
        members = classes.members_of(classes.get_group(group_id, accounts.get_by_username("teacher")))
        assert [u.username for u in members] == ["ann", "bob", "carl"]

    response = submit(teacher, page, action=f"{page}/members/{site['bob']}/remove")
    assert response.status_code == 302
    html = teacher.get(page).get_data(as_text=True)
    assert "@bob" not in text_of(html) and "@ann" in text_of(html)

    response = submit(teacher, page, {"name": "Chess club B"}, action=f"{page}/rename")
    assert response.status_code == 302
    assert "Chess club B" in text_of(teacher.get("/settings/groups").get_data(as_text=True))

    # Another person's group is not found, for reading and for writing.
    other = login(app, "otherhost")
    assert other.get(page).status_code == 404
    token = find_form(other.get("/settings/groups").get_data(as_text=True), "/settings/groups").values()
    assert other.post(f"{page}/delete", data={"csrf_token": token["csrf_token"]}).status_code == 404

    assert submit(teacher, page, action=f"{page}/delete").status_code == 302
    assert teacher.get(page).status_code == 404


def test_groups_api_and_limits(app, site):
    auth = {"Authorization": f"Bearer {site['token']}"}
    client = app.test_client()
    assert [g["name"] for g in client.get("/api/v1/groups", headers=auth).get_json()] == ["Class 4B"]
    created = client.post("/api/v1/groups", json={"name": "Seminar"}, headers=auth)
    assert created.status_code == 201
    gid = created.get_json()["id"]
    added = client.post(f"/api/v1/groups/{gid}/members", json={"usernames": ["ann", "zed"]}, headers=auth)
    assert added.get_json() == {"added": ["ann"], "already": [], "unknown": ["zed"]}
    one = client.get(f"/api/v1/groups/{gid}", headers=auth).get_json()
    assert [m["username"] for m in one["members"]] == ["ann"]
    assert client.patch(f"/api/v1/groups/{gid}", json={"name": "x" * 81}, headers=auth).status_code == 422
    assert client.patch(f"/api/v1/groups/{gid}", json={"name": "Class 4B"}, headers=auth).status_code == 422
    gone = client.delete(f"/api/v1/groups/{gid}/members", json={"usernames": ["ann"]}, headers=auth)
    assert gone.status_code == 204
    assert client.get(f"/api/v1/groups/{gid}", headers=auth).get_json()["member_count"] == 0
    other = {"Authorization": f"Bearer {_token_of(app, 'otherhost')}"}
    assert client.get(f"/api/v1/groups/{gid}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/groups/{gid}", headers=auth).status_code == 204

    with app.app_context():
        teacher = accounts.get_by_username("teacher")
        for n in range(classes.MAX_GROUPS - 1):
            classes.create_group(teacher, f"G{n}")
    assert client.post("/api/v1/groups", json={"name": "One too many"}, headers=auth).status_code == 409


def _token_of(app, username: str) -> str:
    with app.app_context():
        return make_token(accounts.get_by_username(username), scopes=("read", "write"))


# -- attendance ------------------------------------------------------------------------
def test_attendance_sums_visits_and_lists_absent_members(app, site):
    live_id, _token, _code = class_live(app, site["group"])
    with app.app_context():
        ann = f"user:{site['ann']}"
        carl = f"user:{site['carl']}"
        # Ann: 09:00–09:10, then 09:20–09:25 → 15 min in 2 joins.
        analytics.attendance_join(live_id, ann, at=T0)
        analytics.attendance_leave(live_id, ann, at=T0 + timedelta(minutes=10))
        analytics.attendance_join(live_id, ann, at=T0 + timedelta(minutes=20))
        analytics.attendance_leave(live_id, ann, at=T0 + timedelta(minutes=25))
        # Carl came with the link at 09:05 and is still there.
        analytics.attendance_join(live_id, carl, at=T0 + timedelta(minutes=5))
        # Two visitors, one of them twice.
        for who, start, minutes in (("visitor:a1", 0, 2), ("visitor:b2", 3, 1), ("visitor:a1", 10, 3)):
            analytics.attendance_join(live_id, who, at=T0 + timedelta(minutes=start))
            analytics.attendance_leave(live_id, who, at=T0 + timedelta(minutes=start + minutes))

        teacher = accounts.get_by_username("teacher")
        lines = classes.attendance(lives.get_live(live_id), teacher, now=T0 + timedelta(minutes=35))
        summary = [
            (line.kind, line.user.username if line.user else None, line.seconds, line.joins) for line in lines
        ]
        assert summary == [
            ("user", "ann", 900, 2),
            ("absent", "bob", 0, 0),
            ("user", "carl", 1800, 1),
            ("visitors", None, 360, 3),
        ]
        assert lines[0].first_join == T0 and lines[0].last_leave == T0 + timedelta(minutes=25)
        assert lines[2].still_here and lines[3].visitors == 2


def test_attendance_csv_has_exact_totals_and_neutralises_formulas(app, site):
    live_id, _token, _code = class_live(app, site["group"])
    with app.app_context():
        ann = accounts.get_by_username("ann")
        accounts.update_profile(ann, display_name='=HYPERLINK("http://x")', bio="")
        for start, end in ((0, 10), (20, 25)):
            analytics.attendance_join(live_id, f"user:{ann.id}", at=T0 + timedelta(minutes=start))
            analytics.attendance_leave(live_id, f"user:{ann.id}", at=T0 + timedelta(minutes=end, seconds=7))
    response = login(app, "teacher").get(f"/lives/{live_id}/attendance.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="attendance-maths-sum-a1-' in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == [
        "Username",
        "Display name",
        "First join (UTC)",
        "Last leave (UTC)",
        "Total seconds",
        "Total time",
        "Joins",
    ]
    # Sorted by display name: "'=HYPERLINK…" sorts before "Bob Baker".
    assert rows[1:] == [
        [
            "ann",
            '\'=HYPERLINK("http://x")',
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:25:07Z",
            "914",
            "0:15:14",
            "2",
        ],
        ["bob", "Bob Baker", "", "", "0", "0:00:00", "0"],
    ]


def test_two_tabs_count_once_over_real_sockets(app, site):
    live_id, _token, _code = class_live(app, site["group"])
    ann = login(app, "ann")
    first, second = watcher(app, live_id, ann), watcher(app, live_id, ann)
    assert first.is_connected("/live") and second.is_connected("/live")
    first.disconnect("/live")
    with app.app_context():
        rows = db.session.scalars(db.select(Attendance).where(Attendance.live_id == live_id)).all()
        assert [(r.user_id, r.left_at) for r in rows] == [(site["ann"], None)]
    second.disconnect("/live")
    auth = {"Authorization": f"Bearer {site['token']}"}
    data = app.test_client().get(f"/api/v1/lives/{live_id}/attendance", headers=auth).get_json()
    assert [(row["username"], row["kind"], row["joins"], row["still_here"]) for row in data] == [
        ("ann", "user", 1, False),
        ("bob", "absent", 0, False),
    ]


def test_only_the_host_and_admins_see_attendance(app, site):
    live_id, _token, _code = class_live(app, site["group"])
    with app.app_context():
        analytics.attendance_join(live_id, f"user:{site['ann']}", at=T0)
    teacher = login(app, "teacher")
    page = teacher.get(f"/lives/{live_id}/attendance")
    assert page.status_code == 200
    text = text_of(page.get_data(as_text=True))
    assert "Ann Archer @ann" in text and "Bob Baker @bob Absent" in text and "Still here" in text
    admin = login(app, "siteadmin")
    assert admin.get(f"/lives/{live_id}/attendance").status_code == 200
    assert admin.get(f"/lives/{live_id}/attendance.csv").status_code == 200
    ann = login(app, "ann")
    assert ann.get(f"/lives/{live_id}/attendance").status_code == 403
    assert ann.get(f"/lives/{live_id}/attendance.csv").status_code == 403
    assert ann.get(f"/api/v1/lives/{live_id}/attendance").status_code == 403
    assert app.test_client().get(f"/lives/{live_id}/attendance").status_code == 302  # to log in


def test_class_mode_operations_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    expected = {
        "/api/v1/groups": {"get", "post"},
        "/api/v1/groups/{group_id}": {"get", "patch", "delete"},
        "/api/v1/groups/{group_id}/members": {"post", "delete"},
        "/api/v1/join": {"post"},
        "/api/v1/lives/{live_id}/attendance": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    start = paths["/api/v1/lives"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert start["$ref"].endswith("/StartLive")


# -- scheduled classes (events) ----------------------------------------------------------
def _event_fields(**extra) -> dict:
    """The event form filled in UTC: starts five minutes from now (GO LIVE is open)."""
    start = datetime.now(UTC) + timedelta(minutes=5)
    return {
        "title": "Fractions",
        "description": "Bring a ruler",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "timezone": "UTC",
        "duration_minutes": "60",
        **extra,
    }


def test_a_scheduled_class_goes_live_invite_only_for_its_group(app, site):
    from livelite.models import Event, Live, Visibility

    teacher = login(app, "teacher")
    page = teacher.get("/events/new").get_data(as_text=True)
    assert "Who can watch" in text_of(page) and "Class 4B" in page
    assert "Other class" not in page  # only the teacher's own groups are offered
    response = submit(
        teacher,
        "/events/new",
        _event_fields(visibility="invite", group_id=str(site["group"])),
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Your event is scheduled." in flashes(html)
    assert "Class: Class 4B" in text_of(html)
    with app.app_context():
        event = db.session.query(Event).one()
        assert (event.visibility, event.group_id) == (Visibility.INVITE, site["group"])
        event_id = event.id
    # Others see that it is invite only, not the group's name.
    other_view = login(app, "stranger").get(f"/events/{event_id}").get_data(as_text=True)
    assert "Invite only" in text_of(other_view) and "Class 4B" not in other_view

    # The edit form shows the choice made.
    form = find_form(teacher.get(f"/events/{event_id}/edit").get_data(as_text=True)).values()
    assert (form["visibility"], form["group_id"]) == ("invite", str(site["group"]))

    response = submit(teacher, f"/events/{event_id}", action=f"/events/{event_id}/go-live")
    assert response.status_code == 302 and response.location.endswith("/studio")
    with app.app_context():
        live = db.session.get(Live, db.session.get(Event, event_id).live_id)
        assert live.is_live and (live.visibility, live.group_id) == (Visibility.INVITE, site["group"])
        live_id = live.id
        told = set(
            db.session.scalars(
                db.select(Notification.user_id).where(
                    Notification.live_id == live_id, Notification.kind == "live_started"
                )
            )
        )
        assert told == {site["ann"], site["bob"]}  # not the follower
    assert login(app, "ann").get(f"/lives/{live_id}").status_code == 200
    for browser in (login(app, "stranger"), login(app, "carl"), login(app, "fan"), app.test_client()):
        assert browser.get(f"/lives/{live_id}").status_code == 403


def test_a_scheduled_class_refuses_another_hosts_group_and_keeps_what_was_typed(app, site):
    from livelite.models import Event

    teacher = login(app, "teacher")
    fields = _event_fields(visibility="invite", group_id=str(site["other_group"]))
    response = submit(teacher, "/events/new", fields)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "group_id") == ["Choose one of your own groups."]
    kept = find_form(html).values()
    # (a textarea starts with a new line, which browsers drop)
    assert (kept["title"], kept["description"].strip(), kept["starts_at"], kept["visibility"]) == (
        "Fractions",
        "Bring a ruler",
        fields["starts_at"],
        "invite",
    )
    assert "data-group-field hidden" not in html  # the list with its error stays in view
    # A public event carries no group: the list is left out, whatever it held.
    response = submit(teacher, "/events/new", _event_fields(visibility="public", group_id=str(site["group"])))
    assert response.status_code == 302
    with app.app_context():
        event = db.session.query(Event).one()
        assert (event.visibility.value, event.group_id) == ("public", None)


def test_scheduled_class_api_checks_the_group_and_keeps_it_on_edit(app, site):
    from livelite.models import Event, Live

    client = app.test_client()
    auth = {"Authorization": f"Bearer {site['token']}"}
    start = (datetime.now(UTC) + timedelta(minutes=5)).replace(second=0, microsecond=0).isoformat()
    body = {"title": "Fractions", "starts_at": start, "visibility": "invite"}
    refused = client.post("/api/v1/events", json={**body, "group_id": site["other_group"]}, headers=auth)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["errors"]["group_id"] == ["Choose one of your own groups."]
    refused = client.post(
        "/api/v1/events", json={**body, "visibility": "public", "group_id": site["group"]}, headers=auth
    )
    assert refused.get_json()["error"]["errors"]["group_id"] == [
        "Only invite-only lives can be opened to a group."
    ]
    created = client.post("/api/v1/events", json={**body, "group_id": site["group"]}, headers=auth)
    assert created.status_code == 201, created.get_json()
    event = created.get_json()
    assert (event["visibility"], event["group_id"]) == ("invite", site["group"])
    # Nobody else is told which group it is.
    assert "group_id" not in client.get(f"/api/v1/events/{event['id']}").get_json()

    # An edit that leaves the audience out keeps it; another host's group is refused.
    edited = client.put(
        f"/api/v1/events/{event['id']}", json={"title": "Decimals", "starts_at": start}, headers=auth
    )
    assert (edited.get_json()["title"], edited.get_json()["group_id"]) == ("Decimals", site["group"])
    refused = client.put(
        f"/api/v1/events/{event['id']}",
        json={"title": "Decimals", "starts_at": start, "group_id": site["other_group"]},
        headers=auth,
    )
    assert refused.status_code == 422 and "group_id" in refused.get_json()["error"]["errors"]

    live = client.post(f"/api/v1/events/{event['id']}/go-live", headers=auth).get_json()
    assert (live["visibility"], live["group_id"]) == ("invite", site["group"])
    with app.app_context():
        assert db.session.get(Live, live["id"]).group_id == site["group"]
        assert db.session.get(Event, event["id"]).live_id == live["id"]

    # Made public, the event drops its group.
    edited = client.put(
        f"/api/v1/events/{event['id']}",
        json={"title": "Decimals", "starts_at": start, "visibility": "public"},
        headers=auth,
    )
    assert (edited.get_json()["visibility"], edited.get_json()["group_id"]) == ("public", None)
