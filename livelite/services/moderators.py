"""What a host sets once for all their lives: moderators, blocked words, bans, and the
moderation log that records every action taken in their rooms.

A host's moderators moderate every live of that host (services.room.role_of reads the
``moderators`` table), so an appointment made while a live is running takes effect at
once: the person's open connections join the staff room and are told their new role.
Chat (services.chat) reads the blocked words from the database on every message, and
the room's join check reads the bans, so those need no realtime push.

The host changes these; a site admin may act for any host. Each change is written to
the moderation log with who made it.
"""

from __future__ import annotations

import unicodedata

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from livelite.extensions import db
from livelite.models import BlockedWord, HostBan, Live, LiveStatus, ModerationEntry, Moderator, User
from livelite.services import moderation, notifications, room
from livelite.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

BLOCKED_WORDS_MAX = 200
BLOCKED_WORD_MAX_LENGTH = 50
LOG_LIMIT = 200


def _require_host_or_admin(host: User, actor: User | None) -> None:
    """Only the host chooses who moderates their lives (a site admin may act for them)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise PermissionDenied(_("Log in to take part."))
    if actor.id != host.id and not actor.is_admin:
        raise PermissionDenied(_("Only the host can change this."))


def _log(
    action: str, *, host: User, actor: User, target_id: int | None = None, detail: str = ""
) -> ModerationEntry:
    """One line in the host's moderation log (not tied to one live: these are host-wide),
    flushed so that its id can name the notification it causes."""
    entry = moderation.log(
        action, host_id=host.id, live_id=None, actor=actor, target_id=target_id, detail=detail
    )
    db.session.flush()
    return entry


def _running_lives(host: User) -> list[Live]:
    return list(
        db.session.scalars(select(Live).where(Live.host_id == host.id, Live.status == LiveStatus.LIVE))
    )


def _tell_rooms(host: User, user: User) -> None:
    """After the commit: the person's open connections to the host's running lives join
    or leave the staff room, and are told their role. ``is_staff`` decides rather than
    the change itself: a site moderator removed from a host's list stays staff."""
    from livelite import realtime

    for live in _running_lives(host):
        realtime.set_staff(live.id, user.id, room.is_staff(live, user))
        room.emit_you(live, user)


# -- moderators -------------------------------------------------------------------------
def is_moderator(host: User, user: User) -> bool:
    return room.is_moderator_of(host.id, user.id)


def moderators_of(host: User) -> list[User]:
    """The host's moderators, by username."""
    return list(
        db.session.scalars(
            select(User)
            .join(Moderator, Moderator.user_id == User.id)
            .where(Moderator.host_id == host.id)
            .order_by(User.username)
        )
    )


def appoint(host: User, actor: User, user: User) -> Moderator:
    """Make ``user`` a moderator of every live of ``host``; they are notified.

    Refused for the host themselves (they moderate already), a banned account, and
    someone the host banned (unban them first); appointing a moderator twice is a
    Conflict that says so, never a second row or notification.
    """
    _require_host_or_admin(host, actor)
    if user.id == host.id:
        raise Conflict(_("You are the host: you moderate your lives already."))
    if user.is_banned:
        raise Conflict(_("@%(u)s is banned from the site and cannot moderate.", u=user.username))
    if room.is_banned_by_host(host.id, user.id):
        raise Conflict(_("@%(u)s is banned from your lives. Unban them first.", u=user.username))
    if room.is_moderator_of(host.id, user.id):
        raise Conflict(_("@%(u)s is already your moderator.", u=user.username))
    row = Moderator(host_id=host.id, user_id=user.id)
    db.session.add(row)
    entry = _log("moderator_add", host=host, actor=actor, target_id=user.id)
    try:
        db.session.commit()
    except IntegrityError:
        # A second click (or the API and the page at once) appointed them already.
        db.session.rollback()
        raise Conflict(_("@%(u)s is already your moderator.", u=user.username)) from None
    # One notification per appointment: a moderator removed and appointed again is told again.
    notifications.notify(
        [user.id],
        "moderator_added",
        f"moderator:{entry.id}",
        actor=host,
        data={"host": host.username},
    )
    _tell_rooms(host, user)
    return row


def remove(host: User, actor: User, user: User) -> None:
    """Stop ``user`` moderating the host's lives, at once on their open connections."""
    _require_host_or_admin(host, actor)
    row = db.session.get(Moderator, {"host_id": host.id, "user_id": user.id})
    if row is None:
        raise NotFound(_("@%(u)s is not your moderator.", u=user.username))
    db.session.delete(row)
    _log("moderator_remove", host=host, actor=actor, target_id=user.id)
    db.session.commit()
    _tell_rooms(host, user)


# -- blocked words ------------------------------------------------------------------------
def blocked_words(host_id: int) -> list[str]:
    """The host's blocked words, lower-case (case-folded), sorted."""
    return sorted(db.session.scalars(select(BlockedWord.word).where(BlockedWord.host_id == host_id)))


def normalise_words(words) -> list[str]:
    """Stripped, case-folded, de-duplicated, empty entries dropped (in their first order).

    Raises ValidationFailed (field ``words``) for an entry over 50 characters or a list
    over 200 words, naming the culprit so the host can fix it.
    """
    seen: dict[str, None] = {}
    for raw in words or []:
        # As chat.blocked_word_in reads them: compatibility-normalised, case-folded.
        word = " ".join(unicodedata.normalize("NFKC", str(raw)).split()).casefold()
        if not word:
            continue
        if len(word) > BLOCKED_WORD_MAX_LENGTH:
            raise ValidationFailed(
                {
                    "words": [
                        _(
                            "“%(word)s…” is too long: a blocked word has %(n)s characters at most.",
                            word=word[:20],
                            n=BLOCKED_WORD_MAX_LENGTH,
                        )
                    ]
                }
            )
        seen.setdefault(word, None)
    if len(seen) > BLOCKED_WORDS_MAX:
        raise ValidationFailed(
            {
                "words": [
                    _(
                        "You can block %(max)s words at most; this list has %(n)s.",
                        max=BLOCKED_WORDS_MAX,
                        n=len(seen),
                    )
                ]
            }
        )
    return list(seen)


def set_blocked_words(host: User, actor: User, words) -> list[str]:
    """Replace the host's whole list; returns it as stored (sorted).

    The moderation log keeps what was added and removed, not the whole list.
    """
    _require_host_or_admin(host, actor)
    wanted = normalise_words(words)
    before = set(blocked_words(host.id))
    after = set(wanted)
    if before == after:
        return sorted(after)
    db.session.execute(
        delete(BlockedWord).where(BlockedWord.host_id == host.id, BlockedWord.word.in_(before - after))
    )
    for word in sorted(after - before):
        db.session.add(BlockedWord(host_id=host.id, word=word))
    _log("blocked_words", host=host, actor=actor, detail=_words_change(before, after))
    try:
        db.session.commit()
    except IntegrityError:
        # Two saves at once; the other one's list stands. Saving again settles it.
        db.session.rollback()
        raise Conflict(_("Your blocked words changed meanwhile. Reload and try again.")) from None
    return sorted(after)


def _words_change(before: set[str], after: set[str]) -> str:
    added = ", ".join(sorted(after - before))
    removed = ", ".join(sorted(before - after))
    parts = []
    if added:
        parts.append("+ " + added)
    if removed:
        parts.append("− " + removed)
    return "; ".join(parts)  # moderation.log cuts it to the column's 500 characters


# -- bans ---------------------------------------------------------------------------------
def bans_of(host: User) -> list[HostBan]:
    """People banned from the host's lives, the latest first."""
    return list(
        db.session.scalars(
            select(HostBan).where(HostBan.host_id == host.id).order_by(HostBan.created_at.desc())
        )
    )


def unban(host: User, actor: User, user_id: int) -> None:
    """Let someone join the host's lives again (the kick from one live stays)."""
    _require_host_or_admin(host, actor)
    row = db.session.get(HostBan, {"host_id": host.id, "user_id": user_id})
    if row is None:
        raise NotFound(_("This person is not banned from your lives."))
    db.session.delete(row)
    _log("unban", host=host, actor=actor, target_id=user_id)
    db.session.commit()


# -- the log --------------------------------------------------------------------------------
def may_read_log(live: Live, user: User | None) -> bool:
    """The host, their moderators (and site moderators and admins) read a live's log."""
    return room.is_staff(live, user)


def log_entries(host: User, live: Live | None = None, limit: int = LOG_LIMIT) -> list[ModerationEntry]:
    """The host's moderation log (or one live's), the latest first. Callers check who
    may read it (``may_read_log``; the host's own settings page)."""
    stmt = select(ModerationEntry).where(ModerationEntry.host_id == host.id)
    if live is not None:
        stmt = stmt.where(ModerationEntry.live_id == live.id)
    stmt = stmt.order_by(ModerationEntry.created_at.desc(), ModerationEntry.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))


def lives_of_entries(entries: list[ModerationEntry]) -> dict[int, Live]:
    """The lives the entries happened in, by id (one query, for the log's titles)."""
    ids = {e.live_id for e in entries if e.live_id is not None}
    if not ids:
        return {}
    return {live.id: live for live in db.session.scalars(select(Live).where(Live.id.in_(ids)))}


def action_label(entry: ModerationEntry) -> str:
    """What was done, in the reader's words."""
    labels = {
        "delete_message": _("Deleted a message"),
        "mute": _("Muted"),
        "unmute": _("Unmuted"),
        "kick": _("Removed from the live"),
        "ban": _("Banned from the host's lives"),
        "unban": _("Unbanned"),
        "settings": _("Changed the room settings"),
        "moderator_add": _("Made moderator"),
        "moderator_remove": _("Removed as moderator"),
        "blocked_words": _("Changed the blocked words"),
        "guest_remove": _("Removed from the stage"),
    }
    label = labels.get(entry.action, entry.action)
    if entry.action == "mute":
        duration = {
            "1m": _("for 1 minute"),
            "10m": _("for 10 minutes"),
            "live": _("for the rest of the live"),
        }.get(entry.detail or "")
        if duration:
            return f"{label} {duration}"
    return label


def detail_of(entry: ModerationEntry) -> str:
    """The entry's detail when the label does not already say it; room settings
    (stored by services.moderation as ``key=value, …``) in words."""
    if entry.action == "mute" and entry.detail in ("1m", "10m", "live"):
        return ""
    if entry.action == "settings" and entry.detail:
        return ", ".join(_setting_words(part.strip()) for part in entry.detail.split(","))
    return entry.detail or ""


def _setting_words(change: str) -> str:
    key, _sep, value = change.partition("=")
    on = value == "true"
    if key == "slow_mode_seconds" and value.isdigit():
        seconds = int(value)
        return _("slow mode %(n)s s", n=seconds) if seconds else _("slow mode off")
    if key == "followers_only":
        return _("followers-only chat on") if on else _("followers-only chat off")
    if key == "comments_off":
        return _("comments off") if on else _("comments on")
    if key == "anonymous_questions":
        return _("anonymous questions allowed") if on else _("anonymous questions not allowed")
    return change
