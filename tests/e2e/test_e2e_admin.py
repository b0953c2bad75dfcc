"""The admin overview in a real browser: a seeded site (a live with a lagging feed, a
banned account, a video that failed converting, a live stopped by the server) shows
its figures in the tiles, and the lives tile leads to the live monitor."""

from __future__ import annotations

import pytest
from livelite_e2e import log_in, run_seed, start_server, stop_server
from playwright.sync_api import expect

ADMIN, PASSWORD = "dora", "dora-password-1"

SEED = r"""
import json, sys
from datetime import date, timedelta
from app import app
from livelite.extensions import db
from livelite.models import Feed, FeedSource, Live, LiveStatus, ModerationEntry, Role
from livelite.models.base import utcnow
from livelite.models.videos import Video, VideoStatus
from livelite.services import accounts
from livelite.services.settings import set_setting

password = sys.argv[1]
def person(username, name, role=None):
    return accounts.register(username=username, display_name=name, email=f"{username}@example.com",
                             password=password, birth_date=date(1990, 5, 17), role=role, check_open=False)

with app.app_context():
    # No ingest runs for the seeded live: the media tick must not end it meanwhile.
    set_setting("PUBLISHER_GRACE_SECONDS", 3600)
    dora = person("dora", "Dora Admin")
    carla = person("carla", "Carla Creator", Role.CREATOR)
    gus = person("gus", "Gus Guest", Role.CREATOR)
    troll = person("troll", "Troll")
    accounts.set_banned(troll, True)
    now = utcnow()
    live = Live(host_id=carla.id, title="Pasta night <live>", status=LiveStatus.LIVE, started_at=now - timedelta(minutes=5))
    db.session.add(live)
    db.session.flush()
    health = {"input_bitrate_kbps": 2480.4, "output_fps": 30.0, "keyframe_interval_s": 2.0, "lag_seconds": 1.2}
    db.session.add(Feed(live_id=live.id, user_id=carla.id, source=FeedSource.RTMP, input_format="flv", health=json.dumps(health)))
    db.session.add(Feed(live_id=live.id, user_id=gus.id, source=FeedSource.BROWSER, input_format="webm", video_codec="vp8",
                        health=json.dumps({**health, "input_bitrate_kbps": 900.0, "output_fps": 24.0, "lag_seconds": 11.8})))
    stopped = Live(host_id=gus.id, title="Morning run", status=LiveStatus.ENDED, started_at=now - timedelta(hours=5),
                   ended_at=now - timedelta(hours=4), end_reason="ingest_failed")
    db.session.add(stopped)
    db.session.add(Video(creator_id=carla.id, caption="Knife skills <3", status=VideoStatus.FAILED,
                         error="The file is not a video we can read."))
    db.session.flush()
    for action, target, detail in (("kick", troll, ""), ("mute", gus, "10m"), ("blocked_words", None, "3 words")):
        db.session.add(ModerationEntry(host_id=carla.id, live_id=live.id, actor_id=carla.id,
                                       target_id=target.id if target else None, action=action, detail=detail))
    db.session.commit()
"""


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-admin") / "instance")
    try:
        run_seed(server, SEED, PASSWORD)
        yield server
    finally:
        stop_server(server)


def test_overview_shows_the_site_figures(make_page, admin_server, tmp_path):
    page = make_page(admin_server)
    log_in(page, ADMIN, PASSWORD)
    page.goto("/admin/")
    expect(page.locator("[data-tile=lives] .storage-stat-value")).to_have_text("1")
    expect(page.locator("[data-tile=people] .storage-stat-value")).to_have_text("4")
    expect(page.locator("[data-tile=people]")).to_contain_text("1 banned")
    failures = page.locator("[data-failures]")
    expect(failures).to_contain_text("Knife skills <3")
    expect(failures).to_contain_text("Morning run")
    page.screenshot(path=tmp_path / "admin-overview.png", full_page=True)

    page.locator("[data-tile=lives]").click()
    expect(page).to_have_url(f"{admin_server.url}/admin/lives")
    expect(page.get_by_role("heading", name="Pasta night <live>")).to_be_visible()
    expect(page.locator("[data-feed-id]")).to_have_count(2)
    expect(page.locator("[data-feed-id] [data-h=input_bitrate_kbps]").first).to_have_text("2,480 kbit/s")
    # lives.js refreshes the figures every 5 s: the status line then loses its Refresh link
    expect(page.locator("[data-monitor-status] a")).to_have_count(0, timeout=9000)
    expect(page.locator("[data-monitor-status]")).to_contain_text("Figures as of")
