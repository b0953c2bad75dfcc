"""Database models, one module per feature; imported here so Alembic sees every table."""

from livelite.models.accounts import ApiToken, Follow, Role, User
from livelite.models.events import Event, EventStatus, Rsvp
from livelite.models.lives import Feed, FeedSource, Live, LiveStatus, StreamKey, Visibility
from livelite.models.notifications import Notification
from livelite.models.settings import SiteSetting

__all__ = [
    "ApiToken",
    "Event",
    "EventStatus",
    "Feed",
    "FeedSource",
    "Follow",
    "Live",
    "LiveStatus",
    "Notification",
    "Role",
    "Rsvp",
    "SiteSetting",
    "StreamKey",
    "User",
    "Visibility",
]
