"""Admin overview, live monitor, settings page, registration invite codes, and the
site-wide moderation log: what admins see and do, end to end through the pages."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from factories import make_admin, make_user
from pages import field_errors, find_form, flashes, submit, text_of
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import Feed, FeedSource, Live, LiveStatus, ModerationEntry, Role, SiteSetting, User
from livelite.models.base import utcnow
from livelite.models.settings import RegistrationInvite
from livelite.models.videos import Video, VideoStatus
from livelite.services import registration
from livelite.services.settings import get_setting, set_setting

HEALTH = {
    "input_bitrate_kbps": 2480.4,
    "output_fps": 30.0,
    "keyframe_interval_s": 2.0,
    "lag_seconds": 12.5,
}


@pytest.fixture
def site(app):
    """@siteadmin, @carla (creator, live now with a feed), @bob (member), @troll (banned),
    a video that failed converting."""
    with app.app_context():
        admin = make_admin()
        carla = make_user("carla", display_name="Carla", role=Role.CREATOR)
        make_user("bob")
        make_user("troll", banned=True)
        live = Live(host_id=carla.id, title="Carla <b>cooks</b>", status=LiveStatus.LIVE, started_at=utcnow())
        db.session.add(live)
        db.session.flush()
        db.session.add(
            Feed(
                live_id=live.id,
                user_id=carla.id,
                source=FeedSource.RTMP,
                input_format="flv",
                health=json.dumps(HEALTH),
            )
        )
        db.session.add(
            Video(
                creator_id=carla.id,
                caption="<i>my clip</i>",
                status=VideoStatus.FAILED,
                error="ffmpeg exited 1",
            )
        )
        db.session.add(
            ModerationEntry(
                host_id=carla.id, live_id=live.id, actor_id=carla.id, target_id=admin.id, action="kick"
            )
        )
        db.session.commit()
    return app


def live_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Live.id).where(Live.title.startswith("Carla")))


def test_overview_shows_the_figures_and_an_escaped_logged_error(site, client, auth):
    with site.app_context():
        logging.getLogger("livelite.test").error(
            "ingest <script>alert(1)</script> token=ll_secret123456",
            exc_info=(ValueError, ValueError("x"), None),
        )
    auth.login("siteadmin")
    html = client.get("/admin/").get_data(as_text=True)
    text = text_of(html)
    assert "Lives now 1" in text
    assert "People 4 4 new in 7 days · 1 banned" in text
    assert "1 video" in text
    # the buffer keeps the message, escaped, with the exception's type and no secret
    assert "ingest &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "ll_secret123456" not in html
    assert "ValueError" in text
    # the failed video, with its creator and reason
    assert "Video not converted" in text
    assert "&lt;i&gt;my clip&lt;/i&gt;" in html
    assert "ffmpeg exited 1" in text
    # tiles lead to the detailed pages
    assert 'href="/admin/lives"' in html and 'href="/admin/users"' in html and 'href="/admin/storage"' in html
    assert 'href="/admin/access-requests"' in html and 'href="/admin/cashouts"' in html


def test_logged_errors_stay_with_their_app(make_app):
    first, second = make_app(), make_app()
    with first.app_context():
        logging.getLogger("livelite.media").error("only in the first")
    from livelite import errorlog

    assert [r.message for r in errorlog.buffer_of(first).recent()] == ["only in the first"]
    assert errorlog.buffer_of(second).recent() == []
    for i in range(errorlog.KEEP + 5):
        errorlog.buffer_of(first).add(
            logging.makeLogRecord({"name": "livelite.x", "msg": f"e{i}", "levelname": "ERROR"})
        )
    recent = errorlog.buffer_of(first).recent()
    assert len(recent) == errorlog.KEEP and recent[0].message == f"e{errorlog.KEEP + 4}"


def test_live_monitor_lists_the_live_with_feed_health_and_stop_ends_it(site, client, auth):
    auth.login("siteadmin")
    lid = live_id(site)
    html = client.get("/admin/lives").get_data(as_text=True)
    text = text_of(html)
    assert "Carla &lt;b&gt;cooks&lt;/b&gt;" in html
    assert "@carla" in text
    assert "2,480 kbit/s" in text and "30 fps" in text and "2.0 s" in text and "12.5 s" in text
    assert "Far behind" in text
    figures = client.get("/admin/lives.json").get_json()
    assert figures["lives"][0]["id"] == lid
    assert figures["lives"][0]["feeds"][0]["lag_seconds"] == "12.5 s"

    # the confirm step, then the stop
    confirm = client.get(f"/admin/lives/{lid}/stop").get_data(as_text=True)
    assert "An admin ended your live." in text_of(confirm)
    response = submit(
        client, f"/admin/lives/{lid}/stop", action=f"/admin/lives/{lid}/stop", follow_redirects=True
    )
    assert any("has ended" in f for f in flashes(response.get_data(as_text=True)))
    with site.app_context():
        live = db.session.get(Live, lid)
        assert live.status == LiveStatus.ENDED and live.end_reason == "admin"
    assert "No one is live right now." in text_of(client.get("/admin/lives").get_data(as_text=True))


def test_settings_page_saves_changes_and_keeps_a_refused_value(site, client, auth):
    auth.login("siteadmin")
    page = client.get("/admin/settings").get_data(as_text=True)
    for heading in (
        "People and registration",
        "Going live",
        "Videos and stories",
        "Chat and room",
        "Gifts and money",
        "Replays and storage",
    ):
        assert heading in page
    from livelite.services.settings import SETTINGS

    for key in SETTINGS:
        assert f'name="{key}"' in page

    response = submit(
        client, "/admin/settings", {"MIN_AGE": "500", "CHAT_MAX_LENGTH": "250"}, action="/admin/settings"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "setting-MIN_AGE") == ["Enter a number from 0 to 120."]
    assert 'value="500"' in html and 'value="250"' in html  # what was typed stays
    with site.app_context():
        assert get_setting("CHAT_MAX_LENGTH") != 250  # nothing saved
        assert db.session.scalar(select(func.count()).select_from(SiteSetting)) == 0

    # the ordered pair, checked against the values being saved
    response = submit(
        client,
        "/admin/settings",
        {"VIDEO_MIN_SECONDS": "90", "VIDEO_MAX_SECONDS": "60"},
        action="/admin/settings",
    )
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "setting-VIDEO_MIN_SECONDS")

    response = submit(
        client, "/admin/settings", {"CHAT_MAX_LENGTH": "250"}, action="/admin/settings", follow_redirects=True
    )
    assert any("Saved" in f for f in flashes(response.get_data(as_text=True)))
    with site.app_context():
        assert get_setting("CHAT_MAX_LENGTH") == 250
        assert list(db.session.scalars(select(SiteSetting.key))) == ["CHAT_MAX_LENGTH"]  # only what changed


def _register(client, username, code=None):
    data = {
        "username": username,
        "display_name": username.title(),
        "email": f"{username}@example.com",
        "password": "correct horse battery",
        "birth_date": "1990-05-17",
    }
    if code is not None:
        data["invite_code"] = code
    return submit(client, "/register", data)


def _user_exists(app, username) -> bool:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username)) is not None


def test_invite_only_registration(site, client, auth):
    with site.app_context():
        set_setting("REGISTRATION_OPEN", False)
    auth.login("siteadmin")
    response = submit(
        client,
        "/admin/settings/invites",
        {"note": "For <Dana>", "max_uses": "1", "expires_in_days": "7"},
        action="/admin/settings/invites",
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "For &lt;Dana&gt;" in html
    with site.app_context():
        code = db.session.scalar(select(RegistrationInvite.code))
    assert registration.format_code(code) in html
    auth.logout()

    # closed, no code: today's message, nothing created
    response = _register(client, "dana")
    assert "Registration is closed on this site." in flashes(response.get_data(as_text=True))
    assert not _user_exists(site, "dana")

    # with the code (typed in lower case, with its dash): in, one use taken
    response = _register(client, "dana", registration.format_code(code).lower())
    assert response.status_code == 302
    assert _user_exists(site, "dana")
    auth.logout()

    # a one-use code the second time: refused on the field, the rest kept
    response = _register(client, "eve", code)
    html = response.get_data(as_text=True)
    assert field_errors(html, "invite_code") == ["This invite code has been used up."]
    assert 'value="eve@example.com"' in html
    assert not _user_exists(site, "eve")
    with site.app_context():
        assert db.session.scalar(select(RegistrationInvite.uses)) == 1

    # an expired code
    with site.app_context():
        admin = db.session.scalar(select(User).where(User.username == "siteadmin"))
        old = registration.create_invite(
            admin, max_uses=5, expires_in_days=1, now=utcnow() - timedelta(days=2)
        )
        old_code = old.code
    response = _register(client, "frank", old_code)
    assert field_errors(response.get_data(as_text=True), "invite_code") == ["This invite code has expired."]
    assert not _user_exists(site, "frank")


def test_revoked_code_is_refused_and_listed(site, client, auth):
    with site.app_context():
        set_setting("REGISTRATION_OPEN", False)
        admin = db.session.scalar(select(User).where(User.username == "siteadmin"))
        invite = registration.create_invite(admin, max_uses=None)
        invite_id, code = invite.id, invite.code
    auth.login("siteadmin")
    form = find_form(
        client.get("/admin/settings/invites").get_data(as_text=True),
        f"/admin/settings/invites/{invite_id}/revoke",
    )
    client.post(form.action, data=form.values())
    assert "Revoked" in text_of(client.get("/admin/settings/invites").get_data(as_text=True))
    auth.logout()
    response = _register(client, "gina", code)
    assert field_errors(response.get_data(as_text=True), "invite_code") == ["This invite code was withdrawn."]


def test_moderation_log_lists_every_host_and_filters(site, client, auth):
    auth.login("siteadmin")
    text = text_of(client.get("/admin/moderation").get_data(as_text=True))
    assert "@carla" in text and "Removed from the live" in text and "@siteadmin" in text
    assert "Carla <b>cooks</b>" in text
    assert "1 entry" in text
    assert "0 entries" in text_of(client.get("/admin/moderation?action=ban").get_data(as_text=True))
    assert "0 entries" in text_of(client.get("/admin/moderation?host=bob").get_data(as_text=True))
    assert "1 entry" in text_of(
        client.get("/admin/moderation?host=%40Carla&action=kick").get_data(as_text=True)
    )


def test_api_settings_patch_refuses_with_errors_per_field(site, client, auth, csrf_headers):
    auth.login("siteadmin")
    response = client.patch(
        "/api/v1/admin/settings", json={"MIN_AGE": 500, "MAX_GUESTS": 3}, headers=csrf_headers()
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {"MIN_AGE": ["Enter a number from 0 to 120."]}
    response = client.patch("/api/v1/admin/settings", json={"MAX_GUESTS": 3}, headers=csrf_headers())
    assert response.status_code == 200
    assert {s["key"]: s["value"] for s in response.get_json()}["MAX_GUESTS"] == 3
    overview = client.get("/api/v1/admin/overview").get_json()
    assert overview["lives_now"] == 1 and overview["people"]["banned"] == 1
    lid = live_id(site)
    response = client.post(f"/api/v1/admin/lives/{lid}/stop", headers=csrf_headers())
    assert response.get_json()["end_reason"] == "admin"
    assert client.post(f"/api/v1/admin/lives/{lid}/stop", headers=csrf_headers()).status_code == 409


def test_api_registration_invites(site, client, auth, csrf_headers):
    with site.app_context():
        set_setting("REGISTRATION_OPEN", False)
    auth.login("siteadmin")
    response = client.post(
        "/api/v1/admin/registration-invites", json={"note": "api", "max_uses": 1}, headers=csrf_headers()
    )
    assert response.status_code == 201
    invite = response.get_json()
    assert invite["state"] == "active" and invite["uses"] == 0
    assert client.post(
        "/api/v1/admin/registration-invites", json={"max_uses": 0}, headers=csrf_headers()
    ).get_json()["error"]["errors"] == {"max_uses": ["Enter a number from 1 to 100000."]}
    auth.logout()

    person = {"username": "hana", "display_name": "Hana", "email": "hana@example.com",
              "password": "correct horse battery", "birth_date": "1990-01-01"}  # fmt: skip
    assert client.post("/api/v1/accounts", json=person).status_code == 403
    assert client.post("/api/v1/accounts", json={**person, "invite_code": invite["code"]}).status_code == 201
    auth.login("siteadmin")
    listed = client.get("/api/v1/admin/registration-invites").get_json()
    assert [(i["uses"], i["state"]) for i in listed] == [(1, "used_up")]
    revoked = client.post(f"/api/v1/admin/registration-invites/{invite['id']}/revoke", headers=csrf_headers())
    assert revoked.get_json()["state"] == "revoked"
