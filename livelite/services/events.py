"""LIVE events: scheduling, RSVPs, the go-live window, calendar files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from icalendar import Calendar
from icalendar import Event as ICalEvent
from sqlalchemy import case, func, select

from livelite.extensions import db
from livelite.media import images
from livelite.models import Event, EventStatus, Follow, Live, Rsvp, User, Visibility
from livelite.models.base import utcnow
from livelite.services import classes, lives, notifications, policy, webhooks
from livelite.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from livelite.services.settings import get_setting

TITLE_MAX = 100
DESCRIPTION_MAX = 2000
DURATION_CHOICES = (15, 30, 45, 60, 90, 120, 180, 240)
# Scheduling further ahead than this is almost always a typo in the year.
MAX_AHEAD = timedelta(days=366)
# update_event: a field not given keeps its value.
KEEP = object()


def storage():
    return current_app.extensions["livelite.storage"]


def get_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(_("This event does not exist."))
    return event


def require_creator(event: Event, user: User) -> None:
    if not (user and user.is_authenticated and (user.id == event.creator_id or user.is_admin)):
        raise PermissionDenied(_("Only the creator of this event can do this."))


def _validate(title, description, starts_at, duration_minutes, now, *, check_future=True):
    errors = {}
    title = (title or "").strip()
    description = (description or "").strip().replace("\r\n", "\n")
    if not title:
        errors["title"] = [_("Give your event a title.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("Titles have at most %(n)s characters.", n=TITLE_MAX)]
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [_("The description has at most %(n)s characters.", n=DESCRIPTION_MAX)]
    if starts_at is None:
        errors["starts_at"] = [_("Choose when the event starts.")]
    elif starts_at.tzinfo is None:
        raise ValueError("starts_at must be timezone-aware")
    elif check_future and starts_at <= now:
        errors["starts_at"] = [_("Choose a time in the future.")]
    elif starts_at - now > MAX_AHEAD:
        errors["starts_at"] = [_("Events can be scheduled up to a year ahead.")]
    if duration_minutes not in DURATION_CHOICES:
        errors["duration_minutes"] = [_("Choose a duration from the list.")]
    if errors:
        raise ValidationFailed(errors)
    # Whole minutes: what people type, and what calendars show.
    return title, description, starts_at.astimezone(UTC).replace(second=0, microsecond=0)


def _audience(creator: User, visibility, group_id, errors: dict) -> tuple[Visibility | None, int | None]:
    """Who may watch the event's live, checked like a live's: a group only for an
    invite-only event, and only one of the creator's own groups. Messages go to
    ``errors`` so every field is reported at once."""
    try:
        visibility = lives.checked_visibility(visibility)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        return None, None
    try:
        return visibility, classes.group_for_live(creator, visibility, group_id)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        return visibility, None


def _validated(creator: User, fields: tuple, visibility, group_id, *, check_future: bool = True):
    """Every rule of an event at once: (title, description, starts_at, visibility, group_id)."""
    errors: dict = {}
    visibility, group_id = _audience(creator, visibility, group_id, errors)
    try:
        title, description, starts_at = _validate(*fields, check_future=check_future)
    except ValidationFailed as exc:
        raise ValidationFailed({**exc.errors, **errors}) from None
    if errors:
        raise ValidationFailed(errors)
    return title, description, starts_at, visibility, group_id


def _cover(data: bytes | None) -> str | None:
    """The stored cover made from ``data``; None when no file was chosen (an empty
    file that was chosen is refused, not taken for "no cover")."""
    if data is None:
        return None
    config = current_app.config
    image = images.decode_image(
        data, field="cover", max_bytes=config["COVER_MAX_BYTES"], max_pixels=config["AVATAR_MAX_PIXELS"]
    )
    return storage().save("covers", "cover.jpg", images.cover_jpeg(image, config["COVER_WIDTH"]))


def create_event(
    user: User,
    *,
    title: str,
    description: str = "",
    starts_at: datetime | None,
    duration_minutes: int = 60,
    cover: bytes | None = None,
    visibility: str | Visibility = Visibility.PUBLIC,
    group_id: int | None = None,
    now: datetime | None = None,
) -> Event:
    """Schedule an event. Only people who may go live can schedule one. An invite-only
    event may be opened to one of the creator's groups (a scheduled class)."""
    decision = policy.may_go_live(user)
    if not decision:
        raise PermissionDenied(" ".join(decision.reasons))
    title, description, starts_at, visibility, group_id = _validated(
        user, (title, description, starts_at, duration_minutes, now or utcnow()), visibility, group_id
    )
    cover_path = _cover(cover)
    event = Event(
        creator_id=user.id,
        title=title,
        description=description,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        cover_path=cover_path,
        visibility=visibility,
        group_id=group_id,
    )
    db.session.add(event)
    db.session.commit()
    webhooks.event_created(event)
    return event


def update_event(
    event: Event,
    user: User,
    *,
    title: str,
    description: str,
    starts_at: datetime | None,
    duration_minutes: int,
    cover: bytes | None = None,
    visibility: str | Visibility | None = None,
    group_id: int | None | object = KEEP,
    now: datetime | None = None,
) -> Event:
    """Edit an event; calendars see the change through a higher SEQUENCE.

    ``visibility`` None keeps the current one; ``group_id`` not given keeps the current
    group while the event stays invite-only. The group is always one of the creator's
    (an admin editing cannot bring in their own)."""
    require_creator(event, user)
    if event.is_cancelled:
        raise Conflict(_("This event is cancelled."))
    now = now or utcnow()
    if visibility is None:
        visibility = event.visibility
    if group_id is KEEP:
        group_id = event.group_id if visibility == Visibility.INVITE else None
    unchanged_start = starts_at is not None and starts_at == event.starts_at
    title, description, starts_at, visibility, group_id = _validated(
        event.creator,
        (title, description, starts_at, duration_minutes, now),
        visibility,
        group_id,
        check_future=not unchanged_start,
    )
    new_cover = _cover(cover)
    old_cover = event.cover_path if new_cover else None
    event.title, event.description = title, description
    event.starts_at, event.duration_minutes = starts_at, duration_minutes
    event.visibility, event.group_id = visibility, group_id
    if new_cover:
        event.cover_path = new_cover
    event.sequence += 1
    db.session.commit()
    storage().delete(old_cover)
    notifications.event_changed(event)
    return event


def cancel_event(event: Event, user: User) -> Event:
    require_creator(event, user)
    if event.is_cancelled:
        return event
    event.status = EventStatus.CANCELLED
    event.sequence += 1
    db.session.commit()
    notifications.event_changed(event)
    return event


# -- RSVPs -------------------------------------------------------------------------
def has_rsvp(event: Event, user: User | None) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return db.session.get(Rsvp, {"event_id": event.id, "user_id": user.id}) is not None


def rsvp(event: Event, user: User, now: datetime | None = None) -> bool:
    """Say you will come; a repeat is harmless. Returns False if already going."""
    now = now or utcnow()
    if event.is_cancelled:
        raise Conflict(_("This event is cancelled."))
    if event.starts_at + timedelta(minutes=event.duration_minutes) < now:
        raise Conflict(_("This event is over."))
    if has_rsvp(event, user):
        return False
    db.session.add(Rsvp(event_id=event.id, user_id=user.id))
    db.session.commit()
    return True


def cancel_rsvp(event: Event, user: User) -> bool:
    row = db.session.get(Rsvp, {"event_id": event.id, "user_id": user.id})
    if row is None:
        return False
    db.session.delete(row)
    db.session.commit()
    return True


def rsvp_count(event: Event) -> int:
    return db.session.scalar(select(func.count()).select_from(Rsvp).where(Rsvp.event_id == event.id))


def attendees(event: Event, user: User) -> list[User]:
    """Who RSVPed, for the creator only."""
    require_creator(event, user)
    return list(
        db.session.scalars(
            select(User)
            .join(Rsvp, Rsvp.user_id == User.id)
            .where(Rsvp.event_id == event.id)
            .order_by(Rsvp.created_at)
        )
    )


# -- lists -------------------------------------------------------------------------
def upcoming_for(creator: User, now: datetime | None = None, limit: int = 20) -> list[Event]:
    """A creator's events that have not ended, soonest first (the profile)."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Event)
            .where(
                Event.creator_id == creator.id,
                Event.status == EventStatus.SCHEDULED,
                Event.starts_at >= now - timedelta(hours=4),
            )
            .order_by(Event.starts_at)
            .limit(limit)
        )
    )


def upcoming(viewer: User | None, now: datetime | None = None, limit: int = 60) -> list[Event]:
    """Upcoming events for the Upcoming page: followed creators first, then by start."""
    now = now or utcnow()
    query = select(Event).where(
        Event.status == EventStatus.SCHEDULED, Event.starts_at >= now - timedelta(hours=1)
    )
    if viewer is not None and viewer.is_authenticated:
        followed = select(Follow.followed_id).where(Follow.follower_id == viewer.id)
        query = query.order_by(case((Event.creator_id.in_(followed), 0), else_=1), Event.starts_at)
    else:
        query = query.order_by(Event.starts_at)
    return list(db.session.scalars(query.limit(limit)))


# -- going live ---------------------------------------------------------------------
def window_opens_at(event: Event) -> datetime:
    return event.starts_at - timedelta(minutes=get_setting("GO_LIVE_WINDOW_MINUTES"))


def require_event_host(event: Event, user: User) -> None:
    """Only the event's creator goes live with it (an admin too may edit or cancel it,
    but the live would be the admin's)."""
    require_creator(event, user)
    if event.creator_id != user.id:
        raise PermissionDenied(_("Only the creator of this event can go live with it."))


def go_live(event: Event, user: User, now: datetime | None = None) -> Live:
    """Start the event's live: from GO_LIVE_WINDOW_MINUTES before the start, not earlier;
    a late start is fine. Every go-live rule applies."""
    now = now or utcnow()
    require_event_host(event, user)
    if event.is_cancelled:
        raise Conflict(_("This event is cancelled."))
    if event.live_id is not None:
        live = db.session.get(Live, event.live_id)
        if live is not None and live.is_live:
            return live
    opens = window_opens_at(event)
    if now < opens:
        raise Conflict(
            ngettext(
                "GO LIVE opens %(num)s minute before the start.",
                "GO LIVE opens %(num)s minutes before the start.",
                get_setting("GO_LIVE_WINDOW_MINUTES"),
            )
        )
    # The event's audience, checked again: a group deleted since is simply gone
    # (the foreign key set it to NULL), and the live is invite-only all the same.
    live = lives.start_live(user, title=event.title, visibility=event.visibility, group_id=event.group_id)
    event.live_id = live.id
    db.session.commit()
    # Now that the live is linked, the RSVPs are told too (followers already were;
    # the dedupe key keeps anyone from hearing it twice).
    notifications.live_started(live)
    return live


# -- calendars ---------------------------------------------------------------------
def _ical_event(event: Event, url: str) -> ICalEvent:
    item = ICalEvent()
    item.add("uid", event.uid)
    item.add("sequence", event.sequence)
    item.add("dtstamp", event.updated_at or utcnow())
    item.add("dtstart", event.starts_at)
    item.add("dtend", event.starts_at + timedelta(minutes=event.duration_minutes))
    item.add("summary", event.title)
    if event.description:
        item.add("description", f"{event.description}\n\n{url}")
    else:
        item.add("description", url)
    item.add("url", url)
    item.add(
        "organizer",
        f"mailto:noreply@{event.creator.username}.livelite",
        parameters={"cn": event.creator.display_name},
    )
    item.add("status", "CANCELLED" if event.is_cancelled else "CONFIRMED")
    return item


def _calendar(name: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//LiveLite//Events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    return calendar


def event_ics(event: Event, url: str) -> bytes:
    calendar = _calendar(event.title)
    calendar.add("method", "CANCEL" if event.is_cancelled else "PUBLISH")
    calendar.add_component(_ical_event(event, url))
    return calendar.to_ical()


def creator_feed_ics(creator: User, url_for_event) -> bytes:
    """Every event of a creator from the last 30 days on, cancelled ones included
    (so calendars that subscribed remove them)."""
    since = utcnow() - timedelta(days=30)
    events = db.session.scalars(
        select(Event)
        .where(Event.creator_id == creator.id, Event.starts_at >= since)
        .order_by(Event.starts_at)
    )
    calendar = _calendar(_("%(name)s on LiveLite", name=creator.display_name))
    for event in events:
        calendar.add_component(_ical_event(event, url_for_event(event)))
    return calendar.to_ical()
