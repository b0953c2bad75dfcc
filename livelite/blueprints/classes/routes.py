"""Class mode pages: join by code, Settings → Groups, a live's attendance (and CSV)."""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from livelite.blueprints.classes import bp
from livelite.blueprints.classes.forms import GroupForm, JoinForm, MembersForm, RenameForm
from livelite.extensions import limiter
from livelite.forms import Form
from livelite.models import LiveStatus
from livelite.services import classes, lives, replays
from livelite.services.errors import DomainError


def join_limit() -> str:
    return current_app.config["JOIN_RATE_LIMIT"]


def _viewer():
    return current_user if current_user.is_authenticated else None


# -- /join -------------------------------------------------------------------------------
@bp.route("/join", methods=["GET", "POST"])
@limiter.shared_limit(join_limit, scope="join-code", methods=["POST"])
def join():
    """Type an invite code → the live, with its invitation. A wrong code is said so and
    the typed text stays; an ended live says it ended (and links to its replay for
    those who may watch it). Guessing is rate limited per address (JOIN_RATE_LIMIT,
    shared with POST /api/v1/join)."""
    form = JoinForm()
    ended = replay = None
    if form.is_submitted() and form.validate():
        try:
            live = classes.live_for_code(form.code.data)
        except DomainError as exc:
            form.code.errors = [*form.code.errors, exc.message]
        else:
            if live.status != LiveStatus.ENDED:
                return redirect(url_for("lives.watch", live_id=live.id, invite=live.invite_token))
            ended = live
            found = replays.replay_of_live(live)
            replay = found if found is not None and replays.can_view(found, _viewer()) else None
    # A wrong code answers 200, as a wrong password does: the page is the answer.
    return render_template("classes/join.html", form=form, ended=ended, replay=replay)


# -- Settings → Groups ---------------------------------------------------------------------
@bp.route("/settings/groups", methods=["GET", "POST"])
@login_required
def groups():
    """The host's groups (class lists) and a form to create one."""
    form = GroupForm()
    if form.is_submitted() and form.validate():
        try:
            group = classes.create_group(current_user, form.name.data)
        except DomainError as exc:
            if not form.add_errors(exc):
                flash(exc.message, "error")
        else:
            flash(_("Group “%(name)s” created. Add its members below.", name=group.name), "success")
            return redirect(url_for("classes.group", group_id=group.id))
    mine = classes.groups_of(current_user)
    return render_template(
        "classes/groups.html",
        form=form,
        groups=mine,
        counts=classes.member_counts(mine),
        max_groups=classes.MAX_GROUPS,
    ), (422 if form.errors else 200)


def _group_page(group, *, members_form=None, rename_form=None, status=200):
    rename_form = rename_form or RenameForm(formdata=None, data={"name": group.name})
    return render_template(
        "classes/group.html",
        group=group,
        members=classes.members_of(group),
        members_form=members_form or MembersForm(formdata=None),
        rename_form=rename_form,
        form=Form(),
        max_members=classes.MAX_MEMBERS,
    ), status


@bp.route("/settings/groups/<int:group_id>")
@login_required
def group(group_id: int):
    """One group: its members, add people, rename, delete."""
    return _group_page(classes.get_group(group_id, current_user))


@bp.route("/settings/groups/<int:group_id>/members", methods=["POST"])
@login_required
def add_members(group_id: int):
    """Add several people by username; unknown names are reported by name (and kept
    in the box to correct), the others are added."""
    group = classes.get_group(group_id, current_user)
    form = MembersForm()
    if not form.validate():
        return _group_page(group, members_form=form, status=422)
    try:
        result = classes.add_members(group, current_user, form.usernames.data)
    except DomainError as exc:
        if not form.add_errors(exc):
            flash(exc.message, "error")
        return _group_page(group, members_form=form, status=422)
    if result.added:
        flash(
            ngettext("%(num)s person added.", "%(num)s people added.", len(result.added)),
            "success",
        )
    if result.already:
        flash(
            _("Already in the group: %(names)s", names=", ".join(u.username for u in result.already)),
            "info",
        )
    if result.unknown:
        form = MembersForm(formdata=None, data={"usernames": "\n".join(result.unknown)})
        form.usernames.errors = [
            _("No account has these usernames: %(names)s", names=", ".join(result.unknown))
        ]
        return _group_page(group, members_form=form, status=422)
    return redirect(url_for("classes.group", group_id=group.id))


@bp.route("/settings/groups/<int:group_id>/members/<int:user_id>/remove", methods=["POST"])
@login_required
def remove_member(group_id: int, user_id: int):
    group = classes.get_group(group_id, current_user)
    if Form().validate_on_submit():
        try:
            classes.remove_member(group, current_user, user_id)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("Removed from the group."), "success")
    return redirect(url_for("classes.group", group_id=group.id))


@bp.route("/settings/groups/<int:group_id>/rename", methods=["POST"])
@login_required
def rename_group(group_id: int):
    group = classes.get_group(group_id, current_user)
    form = RenameForm()
    if form.validate():
        try:
            classes.rename_group(group, current_user, form.name.data)
        except DomainError as exc:
            if not form.add_errors(exc):
                flash(exc.message, "error")
            return _group_page(group, rename_form=form, status=422)
        flash(_("Group renamed."), "success")
        return redirect(url_for("classes.group", group_id=group.id))
    return _group_page(group, rename_form=form, status=422)


@bp.route("/settings/groups/<int:group_id>/delete", methods=["POST"])
@login_required
def delete_group(group_id: int):
    group = classes.get_group(group_id, current_user)
    if Form().validate_on_submit():
        name = group.name
        classes.delete_group(group, current_user)
        flash(_("Group “%(name)s” deleted.", name=name), "success")
        return redirect(url_for("classes.groups"))
    return redirect(url_for("classes.group", group_id=group.id))


# -- attendance ------------------------------------------------------------------------------
@bp.route("/lives/<int:live_id>/attendance")
@login_required
def attendance(live_id: int):
    """Who came, for how long, how often (the host and admins)."""
    live = lives.get_live(live_id)
    lines = classes.attendance(live, current_user)
    group = classes.get_group(live.group_id, live.host) if live.group_id else None
    return render_template("classes/attendance.html", live=live, lines=lines, group=group)


@bp.route("/lives/<int:live_id>/attendance.csv")
@login_required
def attendance_csv(live_id: int):
    """The same as a CSV file; the byte-order mark makes spreadsheets read UTF-8."""
    live = lives.get_live(live_id)
    body = classes.attendance_csv(live, current_user)
    response = make_response("\ufeff" + body)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{classes.attendance_filename(live)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
