"""Replays: what stays of a live once it ends.

A ``Replay`` per live (its owner is the host), with a ``ReplayFeed`` per recorded feed
(the host's is the main one; guests' feeds are the others). The HLS recording the
ingest wrote stays where it is (``lives/<live>/feed-<feed>``) and is served as a VOD
playlist; the downloadable MP4s and the thumbnail are made in the background into the
replay's own folder (``files_dir``). Deleting a replay removes every file and keeps the
row as a tombstone (``deleted_at``): a live whose replay was deleted never gets one made
again by a restart's sweep, and the owner's storage figure drops at once.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Enum, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow
from livelite.models.lives import Feed, Live


def _enum(cls):
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class ReplayVisibility(str, enum.Enum):
    PRIVATE = "private"  # the owner and admins
    FOLLOWERS = "followers"
    PUBLIC = "public"


class FileStatus(str, enum.Enum):
    """A background-made file: an MP4 for download, the composed MP4."""

    NONE = "none"  # not made for this replay (a composed MP4 of a live without guests)
    PENDING = "pending"  # queued
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Replay(db.Model):
    __tablename__ = "replays"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100))
    visibility: Mapped[ReplayVisibility] = mapped_column(
        _enum(ReplayVisibility), default=ReplayVisibility.PRIVATE
    )
    # The main feed's duration, and every byte the replay keeps on disk (HLS, MP4s, thumbnail).
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Relative to the media root: replays/<random>/ holds the MP4s and the thumbnail.
    files_dir: Mapped[str | None] = mapped_column(String(255))
    thumbnail_path: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set once the owner was told the replay will be deleted soon (retention).
    expiry_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Tombstone: the files are gone. Reason: owner, admin, expired.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_reason: Mapped[str | None] = mapped_column(String(16))
    # Host and guests side by side, for lives that had guests.
    composed_status: Mapped[FileStatus] = mapped_column(_enum(FileStatus), default=FileStatus.NONE)
    composed_progress: Mapped[int] = mapped_column(Integer, default=0)
    composed_path: Mapped[str | None] = mapped_column(String(255))
    composed_size: Mapped[int | None] = mapped_column(BigInteger)
    composed_error: Mapped[str | None] = mapped_column(String(32))

    live: Mapped[Live] = relationship()
    owner: Mapped[User] = relationship()
    feeds: Mapped[list[ReplayFeed]] = relationship(
        back_populates="replay",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ReplayFeed.id",
    )

    __table_args__ = (
        Index("ix_replays_owner_created", "owner_id", "created_at"),
        Index("ix_replays_deleted_created", "deleted_at", "created_at"),
    )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def main_feed(self) -> ReplayFeed | None:
        for feed in self.feeds:
            if feed.is_main:
                return feed
        return self.feeds[0] if self.feeds else None


class ReplayFeed(db.Model):
    """One recorded feed of a replay and its downloadable MP4."""

    __tablename__ = "replay_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    replay_id: Mapped[int] = mapped_column(ForeignKey("replays.id", ondelete="CASCADE"), index=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    # The feed's HLS folder, relative to the media root (lives/<live>/feed-<feed>).
    media_dir: Mapped[str] = mapped_column(String(255))
    # Seconds after the main feed's first frame at which this feed's first frame was
    # recorded (guests join later): where it goes in the composed MP4.
    offset_s: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # the HLS files
    # JSON list of runs {wall_start, replay_start, duration}: maps the live's clock
    # (chat, questions) onto the replay's, whose gaps between runs are cut out.
    timeline: Mapped[str] = mapped_column(Text, default="[]")
    mp4_status: Mapped[FileStatus] = mapped_column(_enum(FileStatus), default=FileStatus.PENDING)
    mp4_progress: Mapped[int] = mapped_column(Integer, default=0)
    mp4_path: Mapped[str | None] = mapped_column(String(255))
    mp4_size: Mapped[int | None] = mapped_column(BigInteger)
    mp4_error: Mapped[str | None] = mapped_column(String(32))

    replay: Mapped[Replay] = relationship(back_populates="feeds")
    feed: Mapped[Feed] = relationship()
    user: Mapped[User] = relationship()
