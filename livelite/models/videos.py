"""Short videos and stories: uploads converted for the web in the background."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow
from livelite.models.events import Event


def _enum(cls):
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class VideoKind(str, enum.Enum):
    VIDEO = "video"  # a short video in the feed and on the profile
    STORY = "story"  # a photo or short video that expires after 24 h


class MediaType(str, enum.Enum):
    VIDEO = "video"
    PHOTO = "photo"


class VideoStatus(str, enum.Enum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Video(db.Model):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[VideoKind] = mapped_column(_enum(VideoKind), default=VideoKind.VIDEO)
    media_type: Mapped[MediaType] = mapped_column(_enum(MediaType), default=MediaType.VIDEO)
    caption: Mapped[str] = mapped_column(Text, default="")
    # An optional card for one of the creator's upcoming events.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    status: Mapped[VideoStatus] = mapped_column(_enum(VideoStatus), default=VideoStatus.PROCESSING)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent, while processing
    error: Mapped[str] = mapped_column(Text, default="")
    duration_s: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    # Paths relative to the media root (media.storage); the upload is removed once converted.
    source_path: Mapped[str | None] = mapped_column(String(255))
    file_path: Mapped[str | None] = mapped_column(String(255))
    thumbnail_path: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # stories only
    # A replay posted to the feed: its title, the replay it came from, and the part kept.
    # The conversion reads the replay's MP4 in place (``source_shared``: never deleted
    # here); the result is the video's own copy, so it outlives the replay (retention).
    title: Mapped[str | None] = mapped_column(String(100))
    replay_id: Mapped[int | None] = mapped_column(ForeignKey("replays.id", ondelete="SET NULL"))
    source_shared: Mapped[bool] = mapped_column(Boolean, default=False)
    trim_start_s: Mapped[float | None] = mapped_column(Float)
    trim_end_s: Mapped[float | None] = mapped_column(Float)

    creator: Mapped[User] = relationship()
    event: Mapped[Event | None] = relationship()

    __table_args__ = (
        Index("ix_videos_creator_kind_created", "creator_id", "kind", "created_at"),
        Index("ix_videos_kind_status_created", "kind", "status", "created_at"),
        Index("ix_videos_expires", "expires_at"),
    )
