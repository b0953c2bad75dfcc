"""What a live's analytics are computed from: viewer samples and attendance.

``LiveSample`` rows are written by a job every ``ANALYTICS_SAMPLE_SECONDS`` while a
live is on (viewers present at that moment, and the likes total so far: likes are
aggregated in memory and only their total is stored, so the per-minute figure is the
difference between two samples). Chat messages and gifts carry their own times and are
counted from their tables.

``Attendance`` is one row per stretch of presence of one person (or one visitor's
browser) in one live: opened when their first connection joins, closed when their last
one leaves, so several tabs count once and reconnects make several rows whose sum is
the time present. ``seen_at`` is refreshed by the sampler, so rows a crash left open
are closed at the last moment the person was known to be there, not at the restart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow


class LiveSample(db.Model):
    __tablename__ = "live_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    viewers: Mapped[int] = mapped_column(Integer, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)  # running total at ``at``

    __table_args__ = (Index("ix_live_samples_live_at", "live_id", "at"),)


class Attendance(db.Model):
    __tablename__ = "attendance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"))
    # "user:<id>" or "visitor:<per-browser id>" (realtime presence's identity).
    identity: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()

    __table_args__ = (
        Index("ix_attendance_live_identity", "live_id", "identity"),
        Index("ix_attendance_open", "left_at"),
    )
