"""Database models, one module per feature; imported here so Alembic sees every table."""

from livelite.models.access import AccessRequest, AccessRequestStatus
from livelite.models.accounts import ApiToken, Follow, Role, User
from livelite.models.events import Event, EventStatus, Rsvp
from livelite.models.lives import Feed, FeedSource, Live, LiveStatus, StreamKey, Visibility
from livelite.models.notifications import Notification
from livelite.models.push import PushSubscription
from livelite.models.room import (
    BlockedWord,
    ChatMessage,
    GuestStatus,
    HostBan,
    LiveGuest,
    LiveSanction,
    ModerationEntry,
    Moderator,
    Question,
    QuestionStatus,
    QuestionVote,
    Report,
    ReportStatus,
    RoomSettings,
    SanctionKind,
)
from livelite.models.settings import SiteSetting
from livelite.models.videos import MediaType, Video, VideoKind, VideoStatus

__all__ = [
    "AccessRequest",
    "AccessRequestStatus",
    "ApiToken",
    "BlockedWord",
    "ChatMessage",
    "Event",
    "EventStatus",
    "Feed",
    "FeedSource",
    "Follow",
    "GuestStatus",
    "HostBan",
    "Live",
    "LiveGuest",
    "LiveSanction",
    "LiveStatus",
    "MediaType",
    "ModerationEntry",
    "Moderator",
    "Notification",
    "PushSubscription",
    "Question",
    "QuestionStatus",
    "QuestionVote",
    "Report",
    "ReportStatus",
    "Role",
    "RoomSettings",
    "Rsvp",
    "SanctionKind",
    "SiteSetting",
    "StreamKey",
    "User",
    "Video",
    "VideoKind",
    "VideoStatus",
    "Visibility",
]
