"""Notifications: stored per person, never twice, told to open pages at once.

Each notification has a dedupe key unique per person (``live:12``, ``follow:7``,
``event:3:seq:2``), so whatever calls ``notify`` twice — a retry, a restarted
process, a job that catches up — stores and delivers it once. After the commit the
new unread counts go out over Socket.IO (realtime.emit_to_user) and the news goes to
each person's subscribed browsers by Web Push (services.push, in the background).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from flask_babel import format_datetime, format_decimal, ngettext
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from livelite.extensions import db
from livelite.models import Event, Follow, Live, Notification, Rsvp, User, Visibility
from livelite.models.base import utcnow
from livelite.services.errors import NotFound

PAGE_SIZE = 50
# Every kind ``describe`` has a sentence for; the API documents this list
# (blueprints/api/notifications.py), so a new kind goes here too.
KINDS = (
    "new_follower",
    "live_started",
    "event_changed",
    "event_cancelled",
    "event_reminder",
    "access_requested",
    "access_approved",
    "access_refused",
    "guest_invite",
    "gift_received",
    "video_ready",
    "video_failed",
    "replay_ready",
    "replay_expiring",
    "moderator_added",
    "report",
    "coin_request",
    "coins_approved",
    "coins_rejected",
    "coins_granted",
    "cashout_requested",
    "cashout_approved",
    "cashout_rejected",
    "cashout_paid",
)


def notify(
    user_ids: Iterable[int],
    kind: str,
    dedupe_key: str,
    *,
    actor: User | None = None,
    live: Live | None = None,
    event: Event | None = None,
    data: dict | None = None,
) -> list[int]:
    """Store one notification per person who does not have this key yet; returns who got one."""
    wanted = {uid for uid in user_ids if uid is not None and (actor is None or uid != actor.id)}
    if not wanted:
        return []
    have = set(
        db.session.scalars(
            select(Notification.user_id).where(
                Notification.dedupe_key == dedupe_key, Notification.user_id.in_(wanted)
            )
        )
    )
    fresh = sorted(wanted - have)
    payload = json.dumps(data or {})

    def row(uid: int) -> Notification:
        return Notification(
            user_id=uid,
            kind=kind,
            dedupe_key=dedupe_key,
            actor_id=actor.id if actor else None,
            live_id=live.id if live else None,
            event_id=event.id if event else None,
            data=payload,
        )

    db.session.add_all(row(uid) for uid in fresh)
    try:
        db.session.commit()
    except IntegrityError:
        # Another request stored the same key for some of them between our look and
        # our commit (two gifts from one fan at once): store the rest one at a time.
        db.session.rollback()
        stored = []
        for uid in fresh:
            db.session.add(row(uid))
            try:
                db.session.commit()
                stored.append(uid)
            except IntegrityError:
                db.session.rollback()
        fresh = stored
    _announce(fresh)
    _push(dedupe_key, fresh)
    return fresh


def notify_or_update(
    user_id: int,
    kind: str,
    dedupe_key: str,
    *,
    actor: User | None = None,
    live: Live | None = None,
    data: dict | None = None,
) -> None:
    """A running total under one key (the gifts of one sender in one live): the first
    call stores and pushes the notification as ``notify`` does; later ones give the
    stored one the new ``data`` and make it unread and new again, without a second push."""
    row = db.session.scalar(
        select(Notification).where(Notification.user_id == user_id, Notification.dedupe_key == dedupe_key)
    )
    if row is None:
        if notify([user_id], kind, dedupe_key, actor=actor, live=live, data=data):
            return
        row = db.session.scalar(
            select(Notification).where(Notification.user_id == user_id, Notification.dedupe_key == dedupe_key)
        )
        if row is None:
            return
    row.data = json.dumps(data or {})
    row.read_at = None
    row.created_at = utcnow()
    db.session.commit()
    _announce([user_id])


def _announce(user_ids: list[int]) -> None:
    from livelite.realtime import emit_to_user

    for uid in user_ids:
        emit_to_user(uid, "notifications", {"unread": unread_count_of(uid)})


def _push(dedupe_key: str, user_ids: list[int]) -> None:
    """Web Push to the browsers these people subscribed, sent in the background (services.push)."""
    from livelite.services import push

    push.notification_stored(dedupe_key, user_ids)


# -- what happens in the app ----------------------------------------------------
def new_follower(follower: User, followed: User) -> None:
    notify([followed.id], "new_follower", f"follow:{follower.id}", actor=follower)


def live_started(live: Live) -> None:
    """To the host's followers and to everyone who RSVPed to the live's event. An
    invite-only live goes only to the members of the group it is opened to (class
    mode): nobody else could open it from the notification."""
    if live.visibility == Visibility.INVITE:
        from livelite.services import classes

        people = set(classes.member_ids(live.group_id)) if live.group_id else set()
        people.discard(live.host_id)
        data = {"title": live.title}
        notify(people, "live_started", f"live:{live.id}", actor=live.host, live=live, data=data)
        return
    followers = select(Follow.follower_id).where(Follow.followed_id == live.host_id)
    rsvps = select(Rsvp.user_id).join(Event, Event.id == Rsvp.event_id).where(Event.live_id == live.id)
    people = set(db.session.scalars(followers)) | set(db.session.scalars(rsvps))
    notify(people, "live_started", f"live:{live.id}", actor=live.host, live=live, data={"title": live.title})


def event_changed(event: Event) -> None:
    people = db.session.scalars(select(Rsvp.user_id).where(Rsvp.event_id == event.id))
    kind = "event_cancelled" if event.is_cancelled else "event_changed"
    notify(
        people,
        kind,
        f"event:{event.id}:seq:{event.sequence}",
        actor=event.creator,
        event=event,
        data={"title": event.title, "starts_at": event.starts_at.isoformat()},
    )


# -- reading -------------------------------------------------------------------------
def unread_count_of(user_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def latest(user: User, limit: int = PAGE_SIZE) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(user: User, ids: Iterable[int] | None = None) -> int:
    """Mark some (or all) of the user's notifications read; returns how many changed."""
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    changed = db.session.execute(query.values(read_at=utcnow())).rowcount
    db.session.commit()
    if changed:
        _announce([user.id])
    return changed


def get_own(user: User, notification_id: int) -> Notification:
    row = db.session.get(Notification, notification_id)
    if row is None or row.user_id != user.id:
        raise NotFound(_("No such notification."))
    return row


def describe(row: Notification) -> str:
    """The sentence for a notification, in the reader's language."""
    data = json.loads(row.data or "{}")
    name = row.actor.display_name if row.actor else _("Someone")
    title = data.get("title", "")
    if row.kind == "new_follower":
        return _("%(name)s started following you.", name=name)
    if row.kind == "live_started":
        return _("%(name)s is LIVE: %(title)s", name=name, title=title)
    if row.kind == "event_cancelled":
        return _("“%(title)s” was cancelled.", title=title)
    if row.kind == "event_changed":
        return _("“%(title)s” changed: it starts %(when)s.", title=title, when=_when(data))
    if row.kind == "event_reminder":
        return _("Reminder: “%(title)s” starts %(when)s.", title=title, when=_when(data))
    # Live-access requests (services.access): the admins' news, then the person's.
    if row.kind == "access_requested":
        return _("%(name)s asks for live access.", name=name)
    if row.kind == "access_approved":
        if data.get("note"):
            return _(
                "Your live-access request was approved. You can go live now. The admin wrote: “%(note)s”",
                note=_clip(data["note"]),
            )
        return _("Your live-access request was approved. You can go live now.")
    if row.kind == "access_refused":
        return _(
            "Your live-access request was refused. The admin wrote: “%(note)s”",
            note=_clip(data.get("note", "")),
        )
    # Multi-guest (services.guests): the host asks the person on stage.
    if row.kind == "guest_invite":
        return _("%(name)s invites you on stage in their live: %(title)s", name=name, title=title)
    # Gifts received in a live (services.gifts): one line per live and sender, its total.
    if row.kind == "gift_received":
        return ngettext(
            "%(name)s sent you %(num)s gift in your live “%(title)s”.",
            "%(name)s sent you %(num)s gifts in your live “%(title)s”.",
            int(data.get("gifts", 1)),
            name=name,
            title=title,
        )
    # Conversions of uploads (services.videos).
    if row.kind == "video_ready":
        if data.get("story"):
            return _("Your story is ready and visible for 24 hours.")
        return _("Your video is ready: “%(caption)s”", caption=data.get("caption") or _("untitled"))
    if row.kind == "video_failed":
        return _("Your video could not be converted. Open it to see why, then try another file.")
    # Replays (services.replays).
    if row.kind == "replay_ready":
        return _(
            "The replay of your live “%(title)s” is ready. It is private until you share it.", title=title
        )
    if row.kind == "replay_expiring":
        return _(
            "The replay of “%(title)s” will be deleted on %(date)s. Download it or post it to keep it.",
            title=title,
            date=_date(data.get("expires_at")),
        )
    # The live room (services.moderators, services.reports).
    if row.kind == "moderator_added":
        return _("%(name)s made you a moderator of their lives.", name=name)
    if row.kind == "report":
        if data.get("message"):
            return _(
                "%(name)s reported a chat message by @%(target)s.", name=name, target=data.get("target", "")
            )
        return _("%(name)s reported @%(target)s.", name=name, target=data.get("target", ""))
    # Coins (services.coins): a request for the admins, then the person's answer; grants.
    if row.kind == "coin_request":
        return _(
            "%(name)s asks for %(coins)s coins (%(price)s).",
            name=name,
            coins=format_decimal(data.get("coins", 0)),
            price=_price(data),
        )
    if row.kind == "coins_approved":
        if data.get("note"):
            return _(
                "Your %(coins)s coins are in your wallet. The admin wrote: “%(note)s”",
                coins=format_decimal(data.get("coins", 0)),
                note=_clip(data["note"]),
            )
        return _("Your %(coins)s coins are in your wallet.", coins=format_decimal(data.get("coins", 0)))
    if row.kind == "coins_rejected":
        return _(
            "Your request for %(coins)s coins was rejected. The admin wrote: “%(note)s”",
            coins=format_decimal(data.get("coins", 0)),
            note=_clip(data.get("note", "")),
        )
    if row.kind == "coins_granted":
        return _(
            "%(name)s gave you %(coins)s coins: “%(memo)s”",
            name=name,
            coins=format_decimal(data.get("coins", 0)),
            memo=_clip(data.get("memo", "")),
        )
    # Cash-outs (services.cashouts): a request for the admins, then the creator's answers.
    if row.kind == "cashout_requested":
        return _(
            "%(name)s asks to cash out %(diamonds)s diamonds (%(money)s).",
            name=name,
            diamonds=format_decimal(data.get("diamonds", 0)),
            money=_cashout_money(data),
        )
    if row.kind == "cashout_approved":
        if data.get("note"):
            return _(
                "Your cash-out of %(diamonds)s diamonds was approved: %(money)s is on its way. The admin wrote: “%(note)s”",
                diamonds=format_decimal(data.get("diamonds", 0)),
                money=_cashout_money(data),
                note=_clip(data["note"]),
            )
        return _(
            "Your cash-out of %(diamonds)s diamonds was approved: %(money)s is on its way.",
            diamonds=format_decimal(data.get("diamonds", 0)),
            money=_cashout_money(data),
        )
    if row.kind == "cashout_rejected":
        return _(
            "Your cash-out of %(diamonds)s diamonds was rejected and the diamonds are back. The admin wrote: “%(note)s”",
            diamonds=format_decimal(data.get("diamonds", 0)),
            note=_clip(data.get("note", "")),
        )
    if row.kind == "cashout_paid":
        if data.get("note"):
            return _(
                "Your cash-out of %(money)s was paid. Reference: %(note)s",
                money=_cashout_money(data),
                note=_clip(data["note"]),
            )
        return _("Your cash-out of %(money)s was paid.", money=_cashout_money(data))
    return _("Something new for you.")


def _price(data: dict) -> str:
    from livelite.services.coins import money

    return money(int(data.get("price_cents", 0)), data.get("currency") or None)


def _cashout_money(data: dict) -> str:
    from livelite.services.cashouts import money

    return money(int(data.get("amount_cents", 0)), data.get("currency") or None)


def _clip(text: str, limit: int = 280) -> str:
    """A long note cut for the list; the whole of it is on the page the item opens."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _date(iso: str | None) -> str:
    """A day written into a sentence (a replay's deletion date)."""
    if not iso:
        return ""
    from datetime import datetime

    from flask_babel import format_date

    return format_date(datetime.fromisoformat(iso), "long")


def _when(data: dict) -> str:
    """The start written into a sentence: server-side text, so its zone is spelled out."""
    if not data.get("starts_at"):
        return ""
    from datetime import datetime

    return _("%(time)s UTC", time=format_datetime(datetime.fromisoformat(data["starts_at"]), "short"))
