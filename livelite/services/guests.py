"""Multi-guest: who is on a live's stage, and their feeds.

A person gets on stage in one of two ways: they ask (``request``) and the host accepts,
or the host invites them (``invite``) and they accept. On stage (``ACTIVE``) they may
publish from their browser with the same publisher as the host; their feed is an extra
feed of the live, recorded like the host's. At most ``MAX_GUESTS`` are on stage at once.
The host takes anyone off the stage at any time (``remove``), and a guest may leave
(``cancel``): their feed is closed and its ingest stopped at once, so the next chunk
their page sends is refused for good.

Every function here does the database change, commits, and only then tells the rooms
(docs/realtime.md): ``guests`` to the staff room, ``feeds`` to everyone when the stage
changes, ``you`` to the person concerned. Socket handlers (blueprints/lives/
guest_events.py) and pages (the guest page in blueprints/studio/routes.py) call the
same functions, so the rules are the same whichever way an action arrives.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import Feed, GuestStatus, Live, LiveGuest, LiveStatus, User, Visibility
from livelite.models.base import utcnow
from livelite.realtime import emit_to_live, emit_to_staff
from livelite.services import room
from livelite.services.errors import Conflict, NotFound
from livelite.services.settings import get_setting

# Statuses that still mean something to the person and the host; the others are history.
PENDING = (GuestStatus.INVITED, GuestStatus.REQUESTED)
CURRENT = (GuestStatus.INVITED, GuestStatus.REQUESTED, GuestStatus.ACTIVE)


# -- reading -------------------------------------------------------------------------
def row_of(live: Live, user_id: int) -> LiveGuest | None:
    return db.session.scalar(
        select(LiveGuest).where(LiveGuest.live_id == live.id, LiveGuest.user_id == user_id)
    )


def status_of(live: Live, user: User | None) -> GuestStatus | None:
    """The person's standing on this live's stage (None for visitors and the host)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    row = row_of(live, user.id)
    return row.status if row is not None else None


def on_stage(live: Live) -> list[LiveGuest]:
    """Guests on stage now, in the order they came on."""
    return list(
        db.session.scalars(
            select(LiveGuest)
            .where(LiveGuest.live_id == live.id, LiveGuest.status == GuestStatus.ACTIVE)
            .order_by(LiveGuest.updated_at, LiveGuest.id)
        )
    )


def listing(live: Live) -> list[LiveGuest]:
    """What the host's panel shows: invitations, requests and guests on stage."""
    return list(
        db.session.scalars(
            select(LiveGuest)
            .where(LiveGuest.live_id == live.id, LiveGuest.status.in_(CURRENT))
            .order_by(LiveGuest.created_at, LiveGuest.id)
        )
    )


def may_publish(live: Live, user: User | None) -> bool:
    """The host, or a guest on stage, while the live is live."""
    if user is None or not getattr(user, "is_authenticated", False) or not live.is_live:
        return False
    if user.id == live.host_id:
        return True
    return status_of(live, user) == GuestStatus.ACTIVE


def publish_refusal(live: Live, user: User) -> str:
    """Why ``user`` may not publish to ``live``, in words they can act on."""
    if not live.is_live:
        return room.ended_message()
    status = status_of(live, user)
    if status == GuestStatus.INVITED:
        return _("Accept the host’s invitation before you publish.")
    if status == GuestStatus.REQUESTED:
        return _("The host has not accepted your request to join yet.")
    if status == GuestStatus.REMOVED:
        return _("The host removed you from the stage.")
    if status in (GuestStatus.LEFT, GuestStatus.DECLINED):
        return _("You are not on this live’s stage any more.")
    return _("Only the host publishes to this live.")


def stage_feeds(live: Live) -> list[Feed]:
    """Active feeds of the host and of guests on stage: the host's first."""
    allowed = {live.host_id} | {row.user_id for row in on_stage(live)}
    feeds = db.session.scalars(
        select(Feed).where(Feed.live_id == live.id, Feed.active.is_(True)).order_by(Feed.id)
    )
    chosen = [feed for feed in feeds if feed.user_id in allowed]
    return sorted(chosen, key=lambda feed: feed.user_id != live.host_id)


# -- payloads ------------------------------------------------------------------------
def feed_payload(live: Live, feed: Feed) -> dict:
    invite = live.invite_token if live.visibility == Visibility.INVITE else None
    return {
        "feed_id": feed.id,
        "user": room.user_payload(feed.user),
        "host": feed.user_id == live.host_id,
        "playlist": url_for("lives.playlist", live_id=live.id, feed_id=feed.id, invite=invite),
    }


def feeds_payload(live: Live) -> list[dict]:
    with _url_context():
        return [feed_payload(live, feed) for feed in stage_feeds(live)]


@contextmanager
def _url_context():
    """url_for needs a request; a background job (``close_lost_feeds``) has none, so it
    borrows an empty one: the playlist URLs are paths either way."""
    if has_request_context():
        yield
    else:
        with current_app.test_request_context():
            yield


def guest_payload(row: LiveGuest) -> dict:
    return {"user": room.user_payload(row.user), "status": row.status.value}


def guests_payload(live: Live) -> list[dict]:
    return [guest_payload(row) for row in listing(live)]


def you_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    status = status_of(live, user)
    return {"guest_status": status.value if status in CURRENT else None}


def state_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    staff = role in room.STAFF_ROLES
    return {"feeds": feeds_payload(live), "guests": guests_payload(live) if staff else []}


# -- telling the rooms (after the commit) ------------------------------------------
def _tell_staff(live: Live) -> None:
    emit_to_staff(live.id, "guests", {"guests": guests_payload(live)})


def tell_feeds(live: Live) -> None:
    """Everyone in the live: the stage's feeds changed (one came on or left)."""
    emit_to_live(live.id, "feeds", {"feeds": feeds_payload(live)})


def _tell_person(live: Live, user_id: int) -> None:
    person = db.session.get(User, user_id)
    if person is not None:
        room.emit_you(live, person)


# -- rules shared by the actions ---------------------------------------------------
def _require_welcome(live: Live, person: User) -> None:
    """Nobody kicked from this live, banned by its host or banned from the site comes on stage."""
    if person.is_banned:
        raise room.RoomError("not_allowed", _("This account is banned."), status=403)
    if room.is_banned_by_host(live.host_id, person.id):
        raise room.RoomError("not_allowed", _("This person is banned from the host’s lives."), status=403)
    if room.is_kicked(live, person.id):
        raise room.RoomError("not_allowed", _("This person was removed from this live."), status=403)


def _require_room_on_stage(live: Live) -> None:
    limit = get_setting("MAX_GUESTS")
    count = db.session.scalar(
        select(func.count())
        .select_from(LiveGuest)
        .where(LiveGuest.live_id == live.id, LiveGuest.status == GuestStatus.ACTIVE)
    )
    if count >= limit:
        if limit == 0:
            raise Conflict(_("Guests are turned off on this site."))
        raise Conflict(
            ngettext(
                "The stage is full: at most %(num)s guest at once.",
                "The stage is full: at most %(num)s guests at once.",
                limit,
            )
        )


def _set(live: Live, user_id: int, status: GuestStatus) -> LiveGuest:
    row = row_of(live, user_id)
    if row is None:
        row = LiveGuest(live_id=live.id, user_id=user_id, status=status)
        db.session.add(row)
    else:
        row.status = status
    return row


def _close_feed(live: Live, user_id: int) -> bool:
    """Close the person's active feed in the database (no commit). True if there was one.
    The ingest is stopped by ``_stop_ingest`` after the commit."""
    feed = db.session.scalar(
        select(Feed).where(Feed.live_id == live.id, Feed.user_id == user_id, Feed.active.is_(True))
    )
    if feed is None:
        return False
    feed.active = False
    feed.ended_at = utcnow()
    return True


def _stop_ingest(live: Live, user_id: int, code: str) -> None:
    """Refuse the person's next chunks (``code`` says why), then let ffmpeg finish the
    files of what was sent: the recording keeps everything up to this moment (in the
    ingest process, wherever this runs)."""
    media = current_app.extensions["livelite.media"]
    feed_ids = list(db.session.scalars(select(Feed.id).where(Feed.live_id == live.id, Feed.user_id == user_id)))
    for feed_id in feed_ids:
        media.stop_publishing(feed_id, code)


def _off_stage(live: Live, row: LiveGuest, status: GuestStatus, code: str) -> None:
    """Take a guest off the stage: status, feed closed, ingest stopped, everyone told."""
    was_on = row.status == GuestStatus.ACTIVE
    row.status = status
    had_feed = _close_feed(live, row.user_id)
    db.session.commit()
    if was_on or had_feed:
        _stop_ingest(live, row.user_id, code)
    _tell_staff(live)
    if was_on or had_feed:
        tell_feeds(live)
    _tell_person(live, row.user_id)


# -- actions -------------------------------------------------------------------------
def request(live: Live, user: User | None) -> LiveGuest:
    """A viewer asks to join the stage; the host sees it in their panel."""
    user = room.require_member(user)
    room.require_live(live)
    if user.id == live.host_id:
        raise Conflict(_("You are the host: you are already on stage."))
    room.require_may_join(live, user)
    row = row_of(live, user.id)
    if row is not None:
        if row.status == GuestStatus.REQUESTED:
            return row  # asked twice (a second tab): nothing new
        if row.status == GuestStatus.ACTIVE:
            raise Conflict(_("You are already on stage."))
        if row.status == GuestStatus.INVITED:
            raise Conflict(_("The host has invited you: accept the invitation."))
        if row.status == GuestStatus.REMOVED:
            raise room.RoomError(
                "not_allowed", _("The host removed you from the stage of this live."), status=403
            )
    row = _set(live, user.id, GuestStatus.REQUESTED)
    db.session.commit()
    _tell_staff(live)
    room.emit_you(live, user)
    return row


def cancel(live: Live, user: User | None) -> LiveGuest:
    """The person withdraws their request, declines an invitation, or leaves the stage."""
    user = room.require_member(user)
    row = row_of(live, user.id)
    if row is None or row.status not in CURRENT:
        raise NotFound(_("You have no request, invitation or place on stage in this live."))
    if row.status == GuestStatus.ACTIVE:
        _off_stage(live, row, GuestStatus.LEFT, "left")
        return row
    row.status = GuestStatus.DECLINED if row.status == GuestStatus.INVITED else GuestStatus.LEFT
    db.session.commit()
    _tell_staff(live)
    room.emit_you(live, user)
    return row


def invite(live: Live, actor: User | None, user_id: int) -> LiveGuest:
    """The host invites someone on stage; they are notified (bell, push) and told live."""
    room.require_member(actor)
    room.require_host(live, actor)
    room.require_live(live)
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound(_("This person does not exist."))
    if person.id == live.host_id:
        raise Conflict(_("You are the host: you are already on stage."))
    _require_welcome(live, person)
    if live.visibility == Visibility.FOLLOWERS and not room.follows_host(live, person):
        raise Conflict(
            _("This live is for followers: %(name)s does not follow the host.", name=person.display_name)
        )
    row = row_of(live, person.id)
    if row is not None:
        if row.status == GuestStatus.INVITED:
            return row  # already invited: no second notification
        if row.status == GuestStatus.ACTIVE:
            raise Conflict(_("%(name)s is already on stage.", name=person.display_name))
        if row.status == GuestStatus.REQUESTED:
            raise Conflict(
                _("%(name)s already asked to join: accept their request.", name=person.display_name)
            )
    row = _set(live, person.id, GuestStatus.INVITED)
    db.session.commit()
    _notify_invited(live, row)
    _tell_staff(live)
    room.emit_you(live, person)
    return row


def _notify_invited(live: Live, row: LiveGuest) -> None:
    from livelite.services import notifications

    # One notification per invitation: a new one after a decline is news again.
    key = f"guest_invite:{live.id}:{row.user_id}:{row.updated_at.isoformat()}"
    notifications.notify(
        [row.user_id], "guest_invite", key, actor=live.host, live=live, data={"title": live.title}
    )


def accept(live: Live, actor: User | None, user_id: int) -> LiveGuest:
    """The host accepts someone's request, or the invited person accepts the invitation.
    Either way they are on stage and may publish, if the stage has room."""
    actor = room.require_member(actor)
    room.require_live(live)
    row = row_of(live, user_id)
    if actor.id == user_id and actor.id != live.host_id:
        if row is not None and row.status == GuestStatus.ACTIVE:
            return row
        if row is None or row.status != GuestStatus.INVITED:
            raise NotFound(_("You have no invitation to this live’s stage."))
    else:
        room.require_host(live, actor)
        if row is not None and row.status == GuestStatus.ACTIVE:
            return row
        if row is None or row.status != GuestStatus.REQUESTED:
            raise NotFound(_("This person has not asked to join."))
    _require_welcome(live, row.user)
    _require_room_on_stage(live)
    row.status = GuestStatus.ACTIVE
    db.session.commit()
    _tell_staff(live)
    _tell_person(live, row.user_id)
    return row


def remove(live: Live, actor: User | None, user_id: int) -> LiveGuest:
    """The host takes a guest off the stage (their feed ends at once), declines a
    request, or withdraws an invitation."""
    room.require_member(actor)
    room.require_host(live, actor)
    row = row_of(live, user_id)
    if row is None or row.status not in CURRENT:
        raise NotFound(_("This person is not on stage and is not waiting to join."))
    if row.status == GuestStatus.ACTIVE:
        from livelite.services import moderation

        # Committed with the change, like every moderation action (the moderation log).
        moderation.log("guest_remove", host_id=live.host_id, live_id=live.id, actor=actor, target_id=user_id)
        _off_stage(live, row, GuestStatus.REMOVED, "removed")
        return row
    row.status = GuestStatus.DECLINED
    db.session.commit()
    _tell_staff(live)
    _tell_person(live, row.user_id)
    return row


def take_off_stage(live: Live, user_id: int) -> None:
    """For moderation (kick, ban): whatever the person's standing, it ends now. No
    permission check: the caller made it. Does nothing if they had none."""
    row = row_of(live, user_id)
    if row is None or row.status not in CURRENT:
        return
    if row.status == GuestStatus.ACTIVE:
        _off_stage(live, row, GuestStatus.REMOVED, "removed")
        return
    row.status = GuestStatus.DECLINED
    db.session.commit()
    _tell_staff(live)


# -- the publisher's side ----------------------------------------------------------
def feed_started(live: Live) -> None:
    """A feed of this live just opened (publishing.start): the stage changed."""
    tell_feeds(live)


def feed_failed(live: Live, user_id: int, code: str) -> None:
    """A guest's ingest broke a limit or failed: their feed alone stops (not the live);
    they stay on stage and may start again."""
    _close_feed(live, user_id)
    db.session.commit()
    _stop_ingest(live, user_id, code)
    tell_feeds(live)


def close_lost_feeds(now: float | None = None) -> int:
    """Guests whose page stopped sending (a closed tab, a lost network) for
    ``PUBLISHER_GRACE_SECONDS``: their feed is closed and its files finished, so viewers
    do not keep a frozen tile. They stay on stage and may start their camera again.
    Runs as a job (jobs.py); feeds whose ingest runs in another process are left alone.
    Returns how many feeds were closed."""
    media = current_app.extensions["livelite.media"]
    grace = get_setting("PUBLISHER_GRACE_SECONDS")
    now = time.monotonic() if now is None else now
    rows = db.session.execute(
        select(Feed, Live)
        .join(Live, Live.id == Feed.live_id)
        .where(Live.status == LiveStatus.LIVE, Feed.active.is_(True), Feed.user_id != Live.host_id)
    ).all()
    closed = 0
    for feed, live in rows:
        last = media.last_data.get(feed.id)
        if last is None or now - last <= grace:
            continue
        feed_failed(live, feed.user_id, "lost")
        closed += 1
    return closed


def stop_code(live: Live, user_id: int) -> str | None:
    """Why a guest's publishing connection must stop, checked against the database on
    each chunk (the host may have removed them through another process): None while
    they are on stage in a live that goes on."""
    if not live.is_live:
        return None  # the live's own end answers that (publishing.LiveEnded)
    status = status_of(live, db.session.get(User, user_id))
    if status == GuestStatus.ACTIVE:
        return None
    return "removed" if status == GuestStatus.REMOVED else "left"
