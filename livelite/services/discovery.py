"""What to show people who are looking for something to watch or someone to follow."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from livelite.extensions import db
from livelite.models import Follow, Live, Role, User, Video, VideoKind, VideoStatus
from livelite.services import lives


def suggested_people(viewer: User | None, limit: int = 12) -> list[tuple[User, int]]:
    """Creators and admins first, then the most followed, excluding people already followed."""
    followers = select(Follow.followed_id, func.count().label("n")).group_by(Follow.followed_id).subquery()
    query = (
        select(User, func.coalesce(followers.c.n, 0))
        .outerjoin(followers, followers.c.followed_id == User.id)
        .where(User.is_banned.is_(False))
    )
    if viewer is not None:
        already = select(Follow.followed_id).where(Follow.follower_id == viewer.id)
        query = query.where(User.id != viewer.id, User.id.not_in(already))
    creator_first = (User.role.in_([Role.CREATOR, Role.ADMIN])).desc()
    query = query.order_by(creator_first, func.coalesce(followers.c.n, 0).desc(), User.id).limit(limit)
    return [(user, count) for user, count in db.session.execute(query)]


# -- For You -------------------------------------------------------------------------
FEED_PAGE_SIZE = 12
# One live in every LIVE_EVERY slots while lives last: lives are what is happening now,
# so they lead, but a feed of only lives would hide every video behind them.
LIVE_EVERY = 3


@dataclass
class FeedItem:
    kind: str  # "live" or "video"
    live: Live | None = None
    viewers: int = 0
    video: Video | None = None


@dataclass
class FeedPage:
    items: list[FeedItem]
    page: int
    has_next: bool


def ranked_lives(viewer: User | None, viewers_of) -> list[tuple[Live, int]]:
    """Lives the viewer may watch: followed hosts first, then by viewers, then newest.

    ``viewers_of(live_id)`` is the presence count; passing it in keeps this service
    free of the Socket.IO layer (and lets tests give known counts).
    """
    followed: set[int] = set()
    if viewer is not None:
        followed = set(db.session.scalars(select(Follow.followed_id).where(Follow.follower_id == viewer.id)))
    rows = [(live, viewers_of(live.id)) for live in lives.current_lives() if lives.can_watch(live, viewer)]
    rows.sort(
        key=lambda row: (
            row[0].host_id not in followed,
            -row[1],
            -(row[0].started_at.timestamp() if row[0].started_at else 0),
            -row[0].id,
        )
    )
    return rows


def _videos_query(viewer: User | None):
    """Ready short videos by people who are not banned: followed creators first, then newest."""
    query = (
        select(Video)
        .join(User, User.id == Video.creator_id)
        .where(
            Video.kind == VideoKind.VIDEO,
            Video.status == VideoStatus.READY,
            User.is_banned.is_(False),
        )
    )
    if viewer is not None:
        followed = select(Follow.followed_id).where(Follow.follower_id == viewer.id)
        query = query.order_by(
            case((Video.creator_id.in_(followed), 0), else_=1), Video.created_at.desc(), Video.id.desc()
        )
    else:
        query = query.order_by(Video.created_at.desc(), Video.id.desc())
    return query


def _lives_before(slot: int, live_count: int, video_count: int) -> int:
    """How many lives sit in the slots before ``slot``.

    Lives take slots 0, 3, 6… while they last; once the videos run out, the lives
    left follow one another.
    """
    return min(live_count, max(-(-slot // LIVE_EVERY), slot - video_count))


def for_you(viewer: User | None, page: int, viewers_of, page_size: int | None = None) -> FeedPage:
    """One page of the For You feed: lives now interleaved with videos.

    Where each slot's item comes from is arithmetic (``_lives_before``), so any page
    costs one count and one offset query on videos, without walking the pages before
    it. Lives are ranked afresh on each request (they come and go), so a live may
    move between pages while someone scrolls; videos, the bulk of the feed, keep
    their order.
    """
    page = max(page, 1)
    page_size = page_size or FEED_PAGE_SIZE
    ranked = ranked_lives(viewer, viewers_of)
    query = _videos_query(viewer)
    video_count = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = len(ranked) + video_count
    start = (page - 1) * page_size
    # A page past the end is empty (a negative LIMIT is "no limit" on SQLite and an
    # error on PostgreSQL).
    end = max(start, min(start + page_size, total))
    first_live = _lives_before(start, len(ranked), video_count)
    last_live = _lives_before(end, len(ranked), video_count)
    videos = list(
        db.session.scalars(query.offset(start - first_live).limit((end - start) - (last_live - first_live)))
    )
    items: list[FeedItem] = []
    live_index, video_index = first_live, 0
    for slot in range(start, end):
        if _lives_before(slot + 1, len(ranked), video_count) > live_index:
            live, count = ranked[live_index]
            items.append(FeedItem("live", live=live, viewers=count))
            live_index += 1
        elif video_index < len(videos):
            items.append(FeedItem("video", video=videos[video_index]))
            video_index += 1
        else:
            break  # a video deleted between the count and the query
    return FeedPage(items=items, page=page, has_next=end < total)
