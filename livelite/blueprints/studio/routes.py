"""The publisher page: pick sources, preview, go live, end; the guest page next to it."""

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.studio import bp
from livelite.forms import Form
from livelite.models import Visibility
from livelite.services import classes, guests, lives, policy, room
from livelite.services.errors import DomainError
from livelite.services.settings import get_setting


@bp.route("/studio")
@login_required
def studio():
    """Go live from the browser. Shows why not, if the person may not go live."""
    decision = policy.may_go_live(current_user)
    active = lives.active_live_of(current_user)
    return render_template(
        "studio/studio.html",
        decision=decision,
        active=active,
        visibilities=list(Visibility),
        groups=classes.groups_of(current_user),
        active_code=classes.format_code(active.invite_code)
        if active and active.visibility == Visibility.INVITE
        else "",
        max_kbps=current_app.config["MAX_INGEST_KBPS"],
    )


# -- multi-guest: the guest's side (services/guests.py) -----------------------------
def _guest_invite(live, status) -> str | None:
    """An invite-only live's token, for someone the host invited or let on stage: their
    page's connection to the room and the stage's playlists need it."""
    if live.visibility == Visibility.INVITE and status in guests.CURRENT:
        return live.invite_token
    return None


@bp.route("/lives/<int:live_id>/guest")
@login_required
def guest(live_id: int):
    """The guest page: an invitation to accept or decline, a request waiting for the
    host, or (on stage) the camera preview and the same publisher as the studio."""
    live = lives.get_live(live_id)
    if live.host_id == current_user.id:
        return redirect(url_for("studio.studio"))
    status = guests.status_of(live, current_user)
    if status not in guests.CURRENT:
        # Nothing to offer but the live itself: only to people who may watch it.
        lives.require_watch(live, current_user, request.args.get("invite"))
    return render_template(
        "studio/guest.html",
        live=live,
        status=status.value if status else None,
        invite=_guest_invite(live, status) or request.args.get("invite"),
        max_guests=get_setting("MAX_GUESTS"),
        form=Form(),
    )


@bp.route("/lives/<int:live_id>/guest/accept", methods=["POST"])
@login_required
def guest_accept(live_id: int):
    """The invited person accepts: on stage, back to the guest page to publish."""
    live = lives.get_live(live_id)
    if Form().validate_on_submit():
        try:
            guests.accept(live, current_user, current_user.id)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("You are on stage. Start your camera when you are ready."), "success")
    return redirect(url_for("studio.guest", live_id=live.id))


@bp.route("/lives/<int:live_id>/guest/leave", methods=["POST"])
@login_required
def guest_leave(live_id: int):
    """Decline the invitation, withdraw the request, or leave the stage."""
    live = lives.get_live(live_id)
    if Form().validate_on_submit():
        try:
            guests.cancel(live, current_user)
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for("studio.guest", live_id=live.id))
        flash(_("You are no longer on this live’s stage."), "success")
    status = guests.status_of(live, current_user)
    return redirect(url_for("lives.watch", live_id=live.id, invite=_guest_invite(live, status)))


@bp.route("/lives/<int:live_id>/stage")
def stage(live_id: int):
    """The stage as JSON, as in ``room_state``: ``feeds``, the caller's ``guest_status``
    and (staff only) ``guests``. For pages whose shared room connection was open before
    they started listening, so missed its ``room_state``."""
    live = lives.get_live(live_id)
    user = current_user if current_user.is_authenticated else None
    status = guests.status_of(live, user)
    if status not in guests.CURRENT:
        lives.require_watch(live, user, request.args.get("invite"))
    response = jsonify(
        {
            "feeds": guests.feeds_payload(live) if live.is_live else [],
            "guest_status": status.value if status in guests.CURRENT else None,
            "guests": guests.guests_payload(live) if room.is_staff(live, user) else [],
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response
