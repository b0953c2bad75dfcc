"""The For You feed: which lives and videos, in which order, page after page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_admin, make_user

from livelite.extensions import db
from livelite.models import Role, Video, VideoKind, VideoStatus, Visibility
from livelite.models.base import utcnow
from livelite.services import accounts, discovery, lives


@pytest.fixture
def ctx(app):
    with app.app_context():
        make_admin()
        yield


def ready_video(creator, *, minutes_ago: int = 0, status=VideoStatus.READY, kind=VideoKind.VIDEO) -> Video:
    """A video row as the conversion leaves it; the feed reads rows, not files."""
    video = Video(
        creator_id=creator.id,
        kind=kind,
        status=status,
        caption=f"clip by {creator.username} {minutes_ago}",
        created_at=utcnow() - timedelta(minutes=minutes_ago),
    )
    db.session.add(video)
    db.session.commit()
    return video


def live_of(user, visibility=Visibility.PUBLIC):
    return lives.start_live(user, title=f"{user.username} live", visibility=visibility)


def describe(page) -> list[str]:
    return [f"L{item.live.id}" if item.kind == "live" else f"V{item.video.id}" for item in page.items]


def all_pages(viewer, viewers_of=lambda _id: 0, page_size=4):
    seen, page = [], 1
    while True:
        result = discovery.for_you(viewer, page, viewers_of, page_size=page_size)
        seen.extend(describe(result))
        if not result.has_next:
            return seen, page
        page += 1


def test_lives_lead_and_come_back_every_third_slot(ctx):
    hosts = [make_user(f"host{i}", role=Role.CREATOR) for i in range(2)]
    author = make_user("author", role=Role.CREATOR)
    live_ids = [live_of(h).id for h in hosts]
    video_ids = [ready_video(author, minutes_ago=m).id for m in range(5)]

    page = discovery.for_you(None, 1, lambda _id: 0, page_size=10)

    kinds = [item.kind for item in page.items]
    assert kinds == ["live", "video", "video", "live", "video", "video", "video"]
    # Newest videos first for an anonymous visitor.
    assert [item.video.id for item in page.items if item.kind == "video"] == video_ids
    assert {item.live.id for item in page.items if item.kind == "live"} == set(live_ids)
    assert page.has_next is False


@pytest.mark.parametrize(
    ("n_lives", "n_videos", "page_size"), [(0, 7, 3), (3, 0, 2), (4, 9, 4), (5, 2, 3), (2, 11, 5)]
)
def test_pages_cover_everything_once(ctx, n_lives, n_videos, page_size):
    author = make_user("author", role=Role.CREATOR)
    expected = {f"L{live_of(make_user(f'host{i}', role=Role.CREATOR)).id}" for i in range(n_lives)}
    expected |= {f"V{ready_video(author, minutes_ago=i).id}" for i in range(n_videos)}

    seen, pages = all_pages(None, page_size=page_size)

    assert sorted(seen) == sorted(expected)  # nothing twice, nothing missing
    assert pages == max(1, -(-(n_lives + n_videos) // page_size))


def test_followed_hosts_first_then_most_watched(ctx):
    viewer = make_user("viewer")
    quiet_friend, busy, busier = (make_user(n, role=Role.CREATOR) for n in ("friend", "busy", "busier"))
    accounts.follow(viewer, quiet_friend)
    friend_live, busy_live, busier_live = live_of(quiet_friend), live_of(busy), live_of(busier)
    counts = {friend_live.id: 1, busy_live.id: 40, busier_live.id: 90}

    ranked = [live.id for live, _ in discovery.ranked_lives(viewer, counts.get)]
    assert ranked == [friend_live.id, busier_live.id, busy_live.id]
    # Without following anyone, viewers decide.
    ranked_anon = [live.id for live, _ in discovery.ranked_lives(None, counts.get)]
    assert ranked_anon == [busier_live.id, busy_live.id, friend_live.id]


def test_followed_creators_videos_come_first(ctx):
    viewer = make_user("viewer")
    friend, stranger = make_user("friend", role=Role.CREATOR), make_user("stranger", role=Role.CREATOR)
    accounts.follow(viewer, friend)
    old_friend_clip = ready_video(friend, minutes_ago=600)
    new_stranger_clip = ready_video(stranger, minutes_ago=1)

    page = discovery.for_you(viewer, 1, lambda _id: 0)

    assert [item.video.id for item in page.items] == [old_friend_clip.id, new_stranger_clip.id]


def test_only_ready_videos_by_people_in_good_standing(ctx):
    author = make_user("author", role=Role.CREATOR)
    banned = make_user("banned", role=Role.CREATOR)
    shown = ready_video(author)
    ready_video(author, status=VideoStatus.PROCESSING)
    ready_video(author, status=VideoStatus.FAILED)
    ready_video(author, kind=VideoKind.STORY)
    ready_video(banned)
    accounts.set_banned(banned, True)

    page = discovery.for_you(None, 1, lambda _id: 0)

    assert describe(page) == [f"V{shown.id}"]


def test_lives_the_viewer_may_not_watch_are_left_out(ctx):
    host = make_user("host", role=Role.CREATOR)
    fan, stranger = make_user("fan"), make_user("stranger")
    accounts.follow(fan, host)
    live = live_of(host, Visibility.FOLLOWERS)

    assert describe(discovery.for_you(fan, 1, lambda _id: 0)) == [f"L{live.id}"]
    assert describe(discovery.for_you(stranger, 1, lambda _id: 0)) == []
    assert describe(discovery.for_you(None, 1, lambda _id: 0)) == []


def test_a_page_past_the_end_is_empty(ctx):
    ready_video(make_user("author", role=Role.CREATOR))
    page = discovery.for_you(None, 5, lambda _id: 0)
    assert page.items == [] and page.has_next is False
