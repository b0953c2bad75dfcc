"""Lives, their feeds (one published stream each) and per-user stream keys."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow


def _enum(cls):
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class LiveStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class Visibility(str, enum.Enum):
    PUBLIC = "public"
    FOLLOWERS = "followers"
    INVITE = "invite"


class FeedSource(str, enum.Enum):
    BROWSER = "browser"
    RTMP = "rtmp"


def new_invite_token() -> str:
    return secrets.token_urlsafe(12)


# No 0/O, 1/I/L: a code is read aloud in a class or copied from a board.
INVITE_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_invite_code() -> str:
    """Eight characters (31^8 ≈ 8.5e11), shown as XXXX-XXXX; typed at /join."""
    return "".join(secrets.choice(INVITE_CODE_ALPHABET) for _ in range(8))


class Live(db.Model):
    __tablename__ = "lives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    status: Mapped[LiveStatus] = mapped_column(_enum(LiveStatus), default=LiveStatus.LIVE)
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility), default=Visibility.PUBLIC)
    # Needed in the URL of an invite-only live (pages and every media file).
    invite_token: Mapped[str] = mapped_column(String(32), default=new_invite_token)
    # The same permission as a short code to type (class mode). Every live has one:
    # new lives by default, older ones from migration 0011.
    invite_code: Mapped[str | None] = mapped_column(String(16), unique=True, default=new_invite_code)
    # Class mode: members of this host's group may watch an invite-only live without
    # the link or code.
    group_id: Mapped[int | None] = mapped_column(ForeignKey("member_groups.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it ended: host, publisher_lost, disk_full, ingest_failed, admin, recovered.
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # Relative to the media root; refreshed about every 10 s while live.
    preview_path: Mapped[str | None] = mapped_column(String(255))

    host: Mapped[User] = relationship()
    feeds: Mapped[list[Feed]] = relationship(
        back_populates="live", cascade="all, delete-orphan", passive_deletes=True, order_by="Feed.id"
    )

    __table_args__ = (Index("ix_lives_status_started", "status", "started_at"),)

    @property
    def is_live(self) -> bool:
        return self.status == LiveStatus.LIVE

    @property
    def main_feed(self) -> Feed | None:
        for feed in self.feeds:
            if feed.user_id == self.host_id:
                return feed
        return None


class Feed(db.Model):
    """One published stream of a live: the host's, later guests'."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[FeedSource] = mapped_column(_enum(FeedSource))
    input_format: Mapped[str] = mapped_column(String(16))
    video_codec: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Relative to the media root: lives/<live id>/feed-<feed id>
    media_dir: Mapped[str | None] = mapped_column(String(255))
    # Last health snapshot (JSON) for pages that are not connected to the socket.
    health: Mapped[str | None] = mapped_column(Text)

    live: Mapped[Live] = relationship(back_populates="feeds")
    user: Mapped[User] = relationship()


class StreamKey(db.Model):
    """A user's RTMP stream key. Kept readable because the owner must be able to
    reveal it again for OBS; it is never shown to anyone else and can be rotated."""

    __tablename__ = "stream_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
