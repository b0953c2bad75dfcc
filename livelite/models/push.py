"""Web Push subscriptions: one row per browser that said yes to notifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow


class PushSubscription(db.Model):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The push service's URL for this browser; unique because a browser re-subscribing
    # (or another account on the same browser) must replace, not duplicate, the row.
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    # The browser's keys (base64url): the payload is encrypted for them (RFC 8291).
    p256dh: Mapped[str] = mapped_column(String(255))
    auth: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    # The page's language when the browser subscribed: pushes are written in it when
    # the person never chose a language of their own (User.locale).
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consecutive failures other than 404/410 (those remove the row at once).
    failures: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship()
