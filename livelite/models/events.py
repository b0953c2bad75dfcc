"""Scheduled LIVE events and who said they will come (RSVPs)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow
from livelite.models.classes import MemberGroup
from livelite.models.lives import Visibility


class EventStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


def new_uid() -> str:
    return f"{uuid.uuid4()}@livelite"


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    # Always UTC; pages show it in the viewer's own time zone.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=EventStatus.SCHEDULED,
    )
    # Calendar identity: the UID never changes, SEQUENCE grows with every edit.
    uid: Mapped[str] = mapped_column(String(64), unique=True, default=new_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    cover_path: Mapped[str | None] = mapped_column(String(255))
    live_id: Mapped[int | None] = mapped_column(ForeignKey("lives.id", ondelete="SET NULL"))
    # Who may watch the live GO LIVE starts; an invite-only one may be opened to one of
    # the creator's groups (a scheduled class).
    visibility: Mapped[Visibility] = mapped_column(
        Enum(Visibility, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=Visibility.PUBLIC,
        server_default=Visibility.PUBLIC.value,
    )
    group_id: Mapped[int | None] = mapped_column(ForeignKey("member_groups.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    creator: Mapped[User] = relationship()
    group: Mapped[MemberGroup | None] = relationship()

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED


class Rsvp(db.Model):
    __tablename__ = "rsvps"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_rsvps_user", "user_id"),)
