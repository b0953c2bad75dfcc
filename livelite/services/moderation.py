"""Moderation inside one live: delete a message, mute, unmute, kick, ban, room settings.

Only staff act (the host, the host's moderators, site moderators and admins:
``room.require_staff``), and never on the host, on other staff or on themselves: a
moderator cannot silence the host, nor one moderator another. Each action is written
to the moderation log in the same commit as the change itself, and only after the
commit is the room told (docs/realtime.md), so what people see is what is stored.

An action reaches every connection of the person concerned at once through their
member room (``live:<id>:user:<uid>``): a mute updates the composer of all their tabs
(``you``), a kick or a ban closes them all. Nothing relies on those connections
obeying, though: chat and the join check read the sanctions from the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from livelite import realtime
from livelite.extensions import db
from livelite.models import (
    ChatMessage,
    HostBan,
    Live,
    LiveSanction,
    ModerationEntry,
    SanctionKind,
    User,
)
from livelite.models.base import is_id, utcnow
from livelite.services import room

MUTE_DURATIONS: dict[str, timedelta | None] = {
    "1m": timedelta(minutes=1),
    "10m": timedelta(minutes=10),
    "live": None,  # the rest of the live
}
SLOW_MODE_MAX_SECONDS = 3600
SETTING_FIELDS = ("slow_mode_seconds", "followers_only", "comments_off", "anonymous_questions")
# The log keeps the start of a deleted message, so the host can see what was removed.
LOGGED_BODY_CHARS = 200


def _invalid() -> room.RoomError:
    return room.RoomError("invalid", _("This request is not valid."), status=422)


def _positive_int(value) -> int:
    # bool is an int in Python: true must not mean user 1; nor may 10**30 reach a query.
    if not is_id(value):
        raise _invalid()
    return value


# -- the log -------------------------------------------------------------------------------
def log(
    action: str,
    *,
    host_id: int,
    live_id: int | None,
    actor: User | None,
    target_id: int | None = None,
    detail="",
) -> ModerationEntry:
    """Add one line to the moderation log; the caller commits it with the change."""
    detail = str(detail or "")
    if len(detail) > 500:
        detail = detail[:499] + "…"
    entry = ModerationEntry(
        host_id=host_id,
        live_id=live_id,
        actor_id=actor.id if actor is not None else None,
        target_id=target_id,
        action=action,
        detail=detail,
    )
    db.session.add(entry)
    return entry


def _log(live: Live, actor: User, action: str, target_id: int | None = None, detail="") -> ModerationEntry:
    return log(action, host_id=live.host_id, live_id=live.id, actor=actor, target_id=target_id, detail=detail)


# -- who may be sanctioned ---------------------------------------------------------------------
def _target(live: Live, actor: User, target_id) -> User:
    """The person a mute, kick or ban is for: someone else, who exists, and is not
    the host nor staff of this live (those are removed from staff first)."""
    target_id = _positive_int(target_id)
    if target_id == actor.id:
        raise room.RoomError("not_allowed", _("You cannot do this to yourself."), status=403)
    target = db.session.get(User, target_id)
    if target is None:
        raise room.RoomError("not_found", _("No such user."), status=404)
    if room.role_of(live, target) in room.STAFF_ROLES:
        raise room.RoomError("not_allowed", _("The host and moderators cannot be sanctioned."), status=403)
    return target


# -- messages ----------------------------------------------------------------------------------
def delete_message(live: Live, actor: User | None, message_id) -> ChatMessage:
    """Hide one message from everyone (``chat_removed`` {ids, reason: "deleted"}).

    Allowed after the live too: the replay shows the chat. Deleting a message that is
    already gone changes nothing and says nothing to the room."""
    room.require_staff(live, actor)
    message_id = _positive_int(message_id)
    message = db.session.get(ChatMessage, message_id)
    if message is None or message.live_id != live.id:
        raise room.RoomError("not_found", _("This message does not exist any more."), status=404)
    if message.removed_at is not None:
        return message
    message.removed_at = utcnow()
    message.removed_reason = "deleted"
    message.removed_by_id = actor.id
    body = message.body
    if len(body) > LOGGED_BODY_CHARS:
        body = body[: LOGGED_BODY_CHARS - 1] + "…"
    _log(live, actor, "delete_message", message.user_id, body)
    db.session.commit()
    realtime.emit_to_live(live.id, "chat_removed", {"ids": [message.id], "reason": "deleted"})
    return message


# -- mutes -------------------------------------------------------------------------------------
def _active_mutes(live: Live, user_id: int, now: datetime) -> list[LiveSanction]:
    rows = db.session.scalars(
        select(LiveSanction).where(
            LiveSanction.live_id == live.id,
            LiveSanction.user_id == user_id,
            LiveSanction.kind == SanctionKind.MUTE,
            LiveSanction.lifted_at.is_(None),
        )
    )
    return [row for row in rows if row.until is None or row.until > now]


def mute(live: Live, actor: User | None, target_id, duration) -> LiveSanction:
    """Silence someone for 1 minute, 10 minutes or the rest of the live.

    Their messages of this live disappear for everyone (``chat_removed`` with reason
    "muted"), and every tab of theirs is told (``you`` with ``muted_until``). A new
    mute replaces one in force: the latest decision counts, shorter or longer.
    """
    room.require_staff(live, actor)
    room.require_live(live)
    if not isinstance(duration, str) or duration not in MUTE_DURATIONS:
        raise _invalid()
    target = _target(live, actor, target_id)
    now = utcnow()
    for old in _active_mutes(live, target.id, now):
        old.lifted_at = now
    length = MUTE_DURATIONS[duration]
    sanction = LiveSanction(
        live_id=live.id,
        user_id=target.id,
        kind=SanctionKind.MUTE,
        until=now + length if length is not None else None,
        by_id=actor.id,
        created_at=now,
    )
    db.session.add(sanction)
    hidden = list(
        db.session.scalars(
            select(ChatMessage.id).where(
                ChatMessage.live_id == live.id,
                ChatMessage.user_id == target.id,
                ChatMessage.removed_at.is_(None),
            )
        )
    )
    if hidden:
        db.session.execute(
            update(ChatMessage)
            .where(ChatMessage.id.in_(hidden))
            .values(removed_at=now, removed_reason="muted", removed_by_id=actor.id)
        )
    _log(live, actor, "mute", target.id, duration)
    db.session.commit()
    if hidden:
        realtime.emit_to_live(live.id, "chat_removed", {"ids": sorted(hidden), "reason": "muted"})
    room.emit_you(live, target)
    return sanction


def unmute(live: Live, actor: User | None, target_id) -> None:
    """Lift a mute at once (``you`` to every tab of theirs). Their hidden messages stay
    hidden: the mute was about them."""
    room.require_staff(live, actor)
    target_id = _positive_int(target_id)
    target = db.session.get(User, target_id)
    if target is None:
        raise room.RoomError("not_found", _("No such user."), status=404)
    now = utcnow()
    mutes = _active_mutes(live, target.id, now)
    if not mutes:
        raise room.RoomError("not_found", _("This person is not muted."), status=404)
    for row in mutes:
        row.lifted_at = now
    _log(live, actor, "unmute", target.id)
    db.session.commit()
    room.emit_you(live, target)


# -- kick and ban ------------------------------------------------------------------------------
def _kicked_message(target: User, banned: bool) -> str:
    """In the removed person's language, not the moderator's."""
    languages = current_app.config["LANGUAGES"]
    locale = target.locale if target.locale in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        if banned:
            return _("The host has banned you from their lives.")
        return _("You were removed from this live.")


def _add_kick(live: Live, actor: User, target: User) -> None:
    if not room.is_kicked(live, target.id):
        db.session.add(
            LiveSanction(live_id=live.id, user_id=target.id, kind=SanctionKind.KICK, by_id=actor.id)
        )


def _close_connections(live: Live, target: User, banned: bool) -> None:
    """After the commit: off the stage (their camera feed stops), then out of the room."""
    from livelite.services import guests

    if live.is_live:
        guests.take_off_stage(live, target.id)
    realtime.emit_to_member(live.id, target.id, "kicked", {"message": _kicked_message(target, banned)})
    realtime.disconnect_member(live.id, target.id)


def kick(live: Live, actor: User | None, target_id) -> None:
    """Remove someone from this live: every tab of theirs gets ``kicked`` and is
    closed, and they cannot connect to this live again (``room.require_may_join``)."""
    room.require_staff(live, actor)
    room.require_live(live)
    target = _target(live, actor, target_id)
    _add_kick(live, actor, target)
    _log(live, actor, "kick", target.id)
    db.session.commit()
    _close_connections(live, target, banned=False)


def ban(live: Live, actor: User | None, target_id) -> None:
    """Kick, and keep them out of every live of this host (now and later) until the
    host unbans them (services.moderators.unban). Also allowed after the live ends:
    a host may ban someone they noticed in the replay."""
    room.require_staff(live, actor)
    target = _target(live, actor, target_id)
    if not room.is_banned_by_host(live.host_id, target.id):
        db.session.add(HostBan(host_id=live.host_id, user_id=target.id, by_id=actor.id, live_id=live.id))
    _add_kick(live, actor, target)
    _log(live, actor, "ban", target.id)
    db.session.commit()
    _close_connections(live, target, banned=True)


# -- room settings -----------------------------------------------------------------------------
def _checked_changes(changes: dict) -> dict:
    if not changes or any(key not in SETTING_FIELDS for key in changes):
        raise _invalid()
    for key, value in changes.items():
        if key == "slow_mode_seconds":
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= SLOW_MODE_MAX_SECONDS
            ):
                raise room.RoomError(
                    "invalid",
                    _("Slow mode is between 0 and %(n)s seconds.", n=SLOW_MODE_MAX_SECONDS),
                    status=422,
                )
        elif not isinstance(value, bool):
            raise _invalid()
    return changes


def update_settings(live: Live, actor: User | None, **changes) -> dict:
    """Change any of slow mode (seconds, 0 to turn it off), followers-only chat,
    comments off and anonymous questions; everyone gets the four (``room_settings``).

    Returns ``room.settings_payload``. Values that do not change are not logged, and
    when nothing changes the room is not told."""
    room.require_staff(live, actor)
    room.require_live(live)
    changes = _checked_changes(changes)
    row = room.settings_of(live)
    changed = {key: value for key, value in changes.items() if getattr(row, key) != value}
    if not changed:
        db.session.commit()  # settings_of may have created the row
        return room.settings_payload(row)
    for key, value in changed.items():
        setattr(row, key, value)
    detail = ", ".join(f"{key}={str(value).lower()}" for key, value in changed.items())
    _log(live, actor, "settings", None, detail)
    db.session.commit()
    payload = room.settings_payload(row)
    realtime.emit_to_live(live.id, "room_settings", payload)
    return payload
