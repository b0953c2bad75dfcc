"""The live room: chat, questions, moderation (per live and per host), reports, guests.

Times that a replay needs ("where in the live did this happen") are kept as
milliseconds from the live's start (``offset_ms``) next to the wall-clock time.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow


def _enum(cls):
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class ChatMessage(db.Model):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offset_ms: Mapped[int] = mapped_column(Integer, default=0)
    # Set when a moderator deletes it ("deleted") or its author is muted ("muted"):
    # the row stays for the moderation log and reports, nobody sees it any more.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_reason: Mapped[str | None] = mapped_column(String(16))
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])

    __table_args__ = (
        Index("ix_chat_messages_live_id", "live_id", "id"),
        Index("ix_chat_messages_live_user", "live_id", "user_id"),
    )


class QuestionStatus(str, enum.Enum):
    OPEN = "open"
    ANSWERED = "answered"
    DISMISSED = "dismissed"


class Question(db.Model):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(String(300))
    # Asked anonymously (when the live allows it): the author is hidden from everyone
    # but kept for moderation.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[QuestionStatus] = mapped_column(_enum(QuestionStatus), default=QuestionStatus.OPEN)
    votes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offset_ms: Mapped[int] = mapped_column(Integer, default=0)
    # When it was answered (pinned): the replay's chapters.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_offset_ms: Mapped[int | None] = mapped_column(Integer)

    user: Mapped[User] = relationship()


class QuestionVote(db.Model):
    """One upvote per person per question: the primary key enforces it."""

    __tablename__ = "question_votes"

    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomSettings(db.Model):
    """Per-live chat and Q&A switches, and what is pinned now (one row per live)."""

    __tablename__ = "room_settings"

    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"), primary_key=True)
    slow_mode_seconds: Mapped[int] = mapped_column(Integer, default=0)
    followers_only: Mapped[bool] = mapped_column(Boolean, default=False)
    comments_off: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous_questions: Mapped[bool] = mapped_column(Boolean, default=False)
    # The answered question on every viewer's screen, if any.
    pinned_question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    likes: Mapped[int] = mapped_column(Integer, default=0)


class Moderator(db.Model):
    """Someone a host trusts to moderate all of that host's lives."""

    __tablename__ = "moderators"

    host_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class SanctionKind(str, enum.Enum):
    MUTE = "mute"
    KICK = "kick"


class LiveSanction(db.Model):
    """A mute (until a time, or ``until`` empty: the rest of the live) or a kick."""

    __tablename__ = "live_sanctions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[SanctionKind] = mapped_column(_enum(SanctionKind))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_live_sanctions_live_user", "live_id", "user_id"),)


class HostBan(db.Model):
    """Banned from every live of one host (not from the site)."""

    __tablename__ = "host_bans"

    host_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    live_id: Mapped[int | None] = mapped_column(ForeignKey("lives.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class BlockedWord(db.Model):
    """A word a host does not want in the chat of their lives (stored lower-case)."""

    __tablename__ = "blocked_words"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    word: Mapped[str] = mapped_column(String(50))

    __table_args__ = (UniqueConstraint("host_id", "word"),)


class ModerationEntry(db.Model):
    """The moderation log: who did what to whom, in which live."""

    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    live_id: Mapped[int | None] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # delete_message, mute, unmute, kick, ban, unban, settings, moderator_add,
    # moderator_remove, blocked_words, guest_remove
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    target: Mapped[User | None] = relationship(foreign_keys=[target_id])


class ReportStatus(str, enum.Enum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class Report(db.Model):
    """A message or a person reported to the site admins."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    live_id: Mapped[int | None] = mapped_column(ForeignKey("lives.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("chat_messages.id", ondelete="SET NULL"))
    # A copy of the message as it was, in case it is deleted later.
    message_body: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus), default=ReportStatus.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(500))

    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])
    target: Mapped[User] = relationship(foreign_keys=[target_id])


class GuestStatus(str, enum.Enum):
    INVITED = "invited"  # the host asked; waiting for the person
    REQUESTED = "requested"  # the person asked; waiting for the host
    ACTIVE = "active"  # on stage: may publish a feed
    LEFT = "left"
    REMOVED = "removed"
    DECLINED = "declined"


class LiveGuest(db.Model):
    """A person's place on a live's stage (one row per live and person)."""

    __tablename__ = "live_guests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[GuestStatus] = mapped_column(_enum(GuestStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("live_id", "user_id"),)
