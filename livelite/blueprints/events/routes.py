"""Event pages: create, edit, cancel, RSVP, calendar files, GO LIVE from an event."""

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.events import bp
from livelite.blueprints.events.forms import EventForm
from livelite.forms import Form, safe_next
from livelite.models import Visibility
from livelite.models.base import utcnow
from livelite.services import accounts, classes, events, policy
from livelite.services.errors import DomainError


def _event_url(event) -> str:
    return url_for("events.show", event_id=event.id, _external=True)


def _save(form: EventForm, event=None):
    starts_at = form.starts_at_utc()
    cover = form.cover.data.read() if form.cover.data else None
    fields = {
        "title": form.title.data,
        "description": form.description.data or "",
        "starts_at": starts_at,
        "duration_minutes": form.duration_minutes.data,
        "cover": cover,
        "visibility": form.visibility.data,
        # Like the studio: a group only goes with an invite-only live (the page hides
        # and disables the list otherwise).
        "group_id": form.group_id.data if form.visibility.data == Visibility.INVITE.value else None,
    }
    if event is None:
        return events.create_event(current_user, **fields)
    return events.update_event(event, current_user, **fields)


@bp.route("/events/new", methods=["GET", "POST"])
@login_required
def new():
    """Schedule a LIVE event (people who may go live)."""
    decision = policy.may_go_live(current_user)
    form = EventForm()
    form.set_groups(classes.groups_of(current_user))
    if decision and form.is_submitted():
        form.validate()  # field messages; the service below reports every rule at once
        try:
            event = _save(form)
        except DomainError as exc:
            if not form.add_errors(exc, only_empty=True):
                flash(exc.message, "error")
        else:
            flash(_("Your event is scheduled."), "success")
            return redirect(url_for("events.show", event_id=event.id))
    status = 422 if form.is_submitted() else 200
    if form.is_submitted() and not decision:
        status = 403  # the page says why this person may not schedule
    return render_template("events/form.html", form=form, event=None, decision=decision), status


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@login_required
def edit(event_id: int):
    event = events.get_event(event_id)
    events.require_creator(event, current_user)
    form = EventForm(obj=event if request.method == "GET" else None)
    form.set_groups(classes.groups_of(event.creator))
    if request.method == "GET":
        form.visibility.data = event.visibility.value
        form.starts_at.data = event.starts_at.strftime("%Y-%m-%dT%H:%M")
        form.timezone.data = "UTC"  # the page converts it to the browser's zone
    if form.is_submitted():
        form.validate()
        try:
            _save(form, event)
        except DomainError as exc:
            if not form.add_errors(exc, only_empty=True):
                flash(exc.message, "error")
        else:
            flash(_("Your event is updated. Calendars pick up the change."), "success")
            return redirect(url_for("events.show", event_id=event.id))
    status = 422 if form.is_submitted() else 200
    return render_template("events/form.html", form=form, event=event, decision=True), status


@bp.route("/events/<int:event_id>")
def show(event_id: int):
    """The event page: countdown, RSVP, calendar, and GO LIVE for the creator."""
    event = events.get_event(event_id)
    viewer = current_user if current_user.is_authenticated else None
    is_creator = viewer is not None and viewer.id == event.creator_id
    now = utcnow()
    return render_template(
        "events/show.html",
        event=event,
        going=events.has_rsvp(event, viewer),
        count=events.rsvp_count(event),
        attendees=events.attendees(event, viewer) if is_creator else None,
        is_creator=is_creator,
        opens_at=events.window_opens_at(event),
        window_open=now >= events.window_opens_at(event),
        live_decision=policy.may_go_live(viewer) if is_creator else None,
        form=Form(),
    )


@bp.route("/events/<int:event_id>/rsvp", methods=["POST"])
@login_required
def rsvp(event_id: int):
    event = events.get_event(event_id)
    if Form().validate_on_submit():
        try:
            events.rsvp(event, current_user)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("You’re going. We’ll remind you before it starts."), "success")
    # A card elsewhere (a video's event card) sends ``next`` to come back to itself.
    return redirect(safe_next(url_for("events.show", event_id=event.id)))


@bp.route("/events/<int:event_id>/unrsvp", methods=["POST"])
@login_required
def unrsvp(event_id: int):
    event = events.get_event(event_id)
    if Form().validate_on_submit():
        events.cancel_rsvp(event, current_user)
        flash(_("You’re no longer going."), "info")
    return redirect(safe_next(url_for("events.show", event_id=event.id)))


@bp.route("/events/<int:event_id>/cancel", methods=["POST"])
@login_required
def cancel(event_id: int):
    event = events.get_event(event_id)
    if Form().validate_on_submit():
        events.cancel_event(event, current_user)
        flash(_("The event is cancelled. Calendars show it as cancelled."), "info")
    return redirect(url_for("events.show", event_id=event.id))


@bp.route("/events/<int:event_id>/go-live", methods=["POST"])
@login_required
def go_live(event_id: int):
    """Open the studio on this event's live (inside the window only)."""
    event = events.get_event(event_id)
    # Only the creator is offered the button: anyone else's request is refused (403),
    # not flashed back like the creator's own "not yet" or "not allowed to go live".
    events.require_event_host(event, current_user)
    if Form().validate_on_submit():
        try:
            events.go_live(event, current_user)
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for("events.show", event_id=event.id))
        return redirect(url_for("studio.studio"))
    return redirect(url_for("events.show", event_id=event.id))


@bp.route("/events/<int:event_id>.ics")
def ics(event_id: int):
    event = events.get_event(event_id)
    body = events.event_ics(event, _event_url(event))
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="livelite-event-{event.id}.ics"'},
    )


@bp.route("/@<username>/events.ics")
def creator_feed(username: str):
    """A creator's calendar feed, to subscribe to in any calendar app."""
    creator = accounts.get_by_username(username)
    body = events.creator_feed_ics(creator, _event_url)
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "public, max-age=300"})
