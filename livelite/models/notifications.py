"""In-app notifications, one row per person and thing to tell."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow


class Notification(db.Model):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # new_follower, live_started, event_changed, event_cancelled (later: reminders, gifts…)
    kind: Mapped[str] = mapped_column(String(32))
    # Unique per person: the same news is never stored (or pushed) twice, restarts included.
    dedupe_key: Mapped[str] = mapped_column(String(128))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    live_id: Mapped[int | None] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    # Values frozen at the time (a title as it was when it changed), JSON.
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    __table_args__ = (
        UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_dedupe"),
        Index("ix_notifications_user_created", "user_id", "created_at"),
    )
