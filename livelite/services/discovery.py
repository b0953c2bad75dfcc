"""What to show people who are looking for something to watch or someone to follow."""

from __future__ import annotations

from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import Follow, Role, User


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
