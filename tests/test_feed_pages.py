"""The For You page as people see it: lives and videos in order, more on scroll."""

from __future__ import annotations

import re

import pytest
from factories import PASSWORD, make_admin, make_user
from test_feed_service import live_of, ready_video

from livelite.extensions import db
from livelite.models import Role, User
from livelite.services import accounts, discovery


@pytest.fixture
def site(app):
    with app.app_context():
        make_admin()
        host = make_user("hostess", display_name="Hostess", role=Role.CREATOR)
        author = make_user("author", display_name="Author", role=Role.CREATOR)
        viewer = make_user("viewer")
        live = live_of(host)
        clips = [ready_video(author, minutes_ago=m) for m in range(3)]
        return {"live": live.id, "clips": [c.id for c in clips], "viewer": viewer.id}


def item_ids(html: str) -> list[str]:
    """The feed's items in page order: L<live id> or V<video id>."""
    found = re.findall(r'href="/lives/(\d+)"|id="video-(\d+)"', html)
    return [f"L{live}" if live else f"V{video}" for live, video in found]


def test_for_you_shows_the_live_then_the_videos(client, site):
    html = client.get("/").get_data(as_text=True)

    assert item_ids(html) == [f"L{site['live']}"] + [f"V{v}" for v in site["clips"]]
    assert "hostess live" in html
    assert "clip by author 0" in html
    # Videos play inline and muted.
    assert html.count("muted playsinline loop") == 3
    assert "/static/js/videos/inline.js" in html
    assert 'data-fragment="' not in html  # everything fits on one page


def test_more_pages_load_as_fragments_without_repeats(app, client, site, monkeypatch):
    monkeypatch.setattr(discovery, "FEED_PAGE_SIZE", 2)

    first = client.get("/").get_data(as_text=True)
    assert 'data-fragment="/feed?page=2"' in first
    second = client.get("/feed?page=2").get_data(as_text=True)
    assert "<html" not in second  # a fragment, appended by feed.js
    assert "/feed?page=3" not in second

    seen = item_ids(first) + item_ids(second)
    assert sorted(seen) == sorted([f"L{site['live']}"] + [f"V{v}" for v in site["clips"]])
    # Without JavaScript the same link works as a full page.
    assert item_ids(client.get("/?page=2").get_data(as_text=True)) == item_ids(second)


def test_user_text_in_the_feed_is_escaped(app, client):
    with app.app_context():
        make_admin()
        author = make_user("author", role=Role.CREATOR)
        video = ready_video(author)
        video.caption = '<img src=x onerror="alert(1)">'
        db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_empty_feed_suggests_people(app, client):
    with app.app_context():
        make_admin()
        make_user("somebody", display_name="Somebody Nice", role=Role.CREATOR)
    html = client.get("/").get_data(as_text=True)
    assert "Nothing to watch yet" in html
    assert "Somebody Nice" in html


def test_followed_creator_first_for_a_signed_in_viewer(app, client, auth, site):
    with app.app_context():
        friend = make_user("friend", role=Role.CREATOR)
        old = ready_video(friend, minutes_ago=999)
        viewer = db.session.get(User, site["viewer"])
        accounts.follow(viewer, friend)
        old_id = old.id
    auth.login("viewer", PASSWORD)
    ids = item_ids(client.get("/").get_data(as_text=True))
    assert ids[:2] == [f"L{site['live']}", f"V{old_id}"]


def test_feed_api_matches_the_page(client, site, monkeypatch):
    monkeypatch.setattr(discovery, "FEED_PAGE_SIZE", 3)
    first = client.get("/api/v1/feed").get_json()
    second = client.get("/api/v1/feed?page=2").get_json()

    assert [i["kind"] for i in first["items"]] == ["live", "video", "video"]
    assert first["items"][0]["live"]["id"] == site["live"]
    assert first["items"][0]["live"]["watch_url"].endswith(f"/lives/{site['live']}")
    assert [i["video"]["id"] for i in first["items"][1:]] == site["clips"][:2]
    assert first["items"][1]["video"]["file_url"].endswith(f"/v/{site['clips'][0]}/file")
    assert first["has_next"] is True
    assert [i["video"]["id"] for i in second["items"]] == site["clips"][2:]
    assert second["has_next"] is False
    assert client.get("/api/v1/feed?page=0").status_code == 422
