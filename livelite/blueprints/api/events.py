"""LIVE events: schedule, edit, cancel, RSVP, attendees, go live."""

import marshmallow as ma
from flask import url_for
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, UserSchema, require, user_payload
from livelite.blueprints.api.lives import LiveSchema, live_payload
from livelite.models import Visibility
from livelite.services import events
from livelite.services.events import DURATION_CHOICES

bp = Blueprint("api_events", __name__, url_prefix="/api/v1/events", description="LIVE events")


class EventSchema(ma.Schema):
    id = ma.fields.Int()
    title = ma.fields.Str()
    description = ma.fields.Str()
    starts_at = ma.fields.AwareDateTime()
    duration_minutes = ma.fields.Int()
    status = ma.fields.Str(metadata={"enum": ["scheduled", "cancelled"]})
    creator = ma.fields.Nested(UserSchema)
    rsvp_count = ma.fields.Int()
    going = ma.fields.Bool(metadata={"description": "Whether the caller RSVPed."})
    go_live_opens_at = ma.fields.AwareDateTime()
    live_id = ma.fields.Int(allow_none=True)
    url = ma.fields.Str()
    ics_url = ma.fields.Str()
    cover_url = ma.fields.Str(allow_none=True)
    visibility = ma.fields.Str(
        metadata={"enum": [v.value for v in Visibility], "description": "Who may watch the event's live."}
    )
    group_id = ma.fields.Int(
        allow_none=True,
        metadata={"description": "Only for the creator: the group whose members may watch (invite only)."},
    )


_VISIBILITY_DOC = "Who may watch the live GO LIVE starts."
_GROUP_DOC = "Invite-only events: one of your groups (/groups), whose members may watch."


class EventInSchema(ma.Schema):
    title = ma.fields.Str(required=True)
    description = ma.fields.Str(load_default="")
    starts_at = ma.fields.AwareDateTime(
        required=True, metadata={"description": "ISO 8601 with its offset, e.g. 2026-12-01T18:00:00+01:00"}
    )
    duration_minutes = ma.fields.Int(load_default=60, validate=ma.validate.OneOf(DURATION_CHOICES))
    visibility = ma.fields.Str(
        load_default="public",
        validate=ma.validate.OneOf([v.value for v in Visibility]),
        metadata={"description": _VISIBILITY_DOC},
    )
    group_id = ma.fields.Int(load_default=None, allow_none=True, metadata={"description": _GROUP_DOC})


class EventUpdateSchema(EventInSchema):
    """As for scheduling; ``visibility`` and ``group_id`` left out keep their values
    (the group is dropped when the event is no longer invite-only)."""

    visibility = ma.fields.Str(
        validate=ma.validate.OneOf([v.value for v in Visibility]), metadata={"description": _VISIBILITY_DOC}
    )
    group_id = ma.fields.Int(allow_none=True, metadata={"description": _GROUP_DOC})


def event_payload(event) -> dict:
    viewer = current_user if current_user.is_authenticated else None
    data = {
        "id": event.id,
        "title": event.title,
        "description": event.description,
        "starts_at": event.starts_at,
        "duration_minutes": event.duration_minutes,
        "status": event.status.value,
        "creator": user_payload(event.creator, viewer),
        "rsvp_count": events.rsvp_count(event),
        "going": events.has_rsvp(event, viewer),
        "go_live_opens_at": events.window_opens_at(event),
        "live_id": event.live_id,
        "url": url_for("events.show", event_id=event.id, _external=True),
        "ics_url": url_for("events.ics", event_id=event.id, _external=True),
        "cover_url": url_for("media.file", path=event.cover_path) if event.cover_path else None,
        "visibility": event.visibility.value,
    }
    if viewer is not None and (viewer.id == event.creator_id or viewer.is_admin):
        data["group_id"] = event.group_id
    return data


@bp.route("")
@bp.response(200, EventSchema(many=True))
def list_events():
    """Upcoming events, the caller's followed creators first."""
    viewer = current_user if current_user.is_authenticated else None
    return [event_payload(e) for e in events.upcoming(viewer)]


@bp.route("", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(EventInSchema)
@bp.response(201, EventSchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="May not go live, so may not schedule.")
@bp.alt_response(422, schema=ApiErrorSchema)
def create(data):
    """Schedule an event (covers are uploaded on the event form)."""
    return event_payload(events.create_event(current_user, **data))


@bp.route("/<int:event_id>")
@bp.response(200, EventSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def get(event_id):
    return event_payload(events.get_event(event_id))


@bp.route("/<int:event_id>", methods=["PUT"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(EventUpdateSchema)
@bp.response(200, EventSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def update(data, event_id):
    """Change an event; its calendar SEQUENCE goes up."""
    return event_payload(events.update_event(events.get_event(event_id), current_user, **data))


@bp.route("/<int:event_id>/cancel", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, EventSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def cancel(event_id):
    return event_payload(events.cancel_event(events.get_event(event_id), current_user))


@bp.route("/<int:event_id>/rsvp", methods=["PUT"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, EventSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="Cancelled or over.")
def rsvp(event_id):
    """RSVP (idempotent)."""
    event = events.get_event(event_id)
    events.rsvp(event, current_user)
    return event_payload(event)


@bp.route("/<int:event_id>/rsvp", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, EventSchema)
def unrsvp(event_id):
    """Cancel your RSVP (idempotent)."""
    event = events.get_event(event_id)
    events.cancel_rsvp(event, current_user)
    return event_payload(event)


@bp.route("/<int:event_id>/attendees")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, UserSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
def attendees(event_id):
    """Who RSVPed (the creator only)."""
    return [user_payload(u) for u in events.attendees(events.get_event(event_id), current_user)]


@bp.route("/<int:event_id>/go-live", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, LiveSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="The window is not open yet, or cancelled.")
def go_live(event_id):
    """Start the event's live (from GO_LIVE_WINDOW_MINUTES before the start)."""
    return live_payload(events.go_live(events.get_event(event_id), current_user))
