"""Moderation pages: the host's settings (moderators, blocked words, bans, the log) and
one live's moderation log for its host and moderators. Rules live in services.moderators."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.lives import bp
from livelite.blueprints.lives.moderation_forms import BlockedWordsForm, ModeratorForm
from livelite.extensions import db
from livelite.forms import Form
from livelite.models import User
from livelite.services import accounts, lives, moderators
from livelite.services.errors import DomainError, NotFound, ValidationFailed
from livelite.services.moderators import BLOCKED_WORDS_MAX


def _expired() -> None:
    flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")


def _log_rows(entries):
    """(entry, live or None, action in words, detail) for the log tables."""
    found = moderators.lives_of_entries(entries)
    return [(e, found.get(e.live_id), moderators.action_label(e), moderators.detail_of(e)) for e in entries]


def _settings_page(mod_form=None, words_form=None, status=200):
    words = moderators.blocked_words(current_user.id)
    if words_form is None:
        words_form = BlockedWordsForm(formdata=None, words="\n".join(words))
    return render_template(
        "lives/moderation_settings.html",
        mod_form=mod_form or ModeratorForm(formdata=None),
        words_form=words_form,
        words_count=len(words),
        words_max=BLOCKED_WORDS_MAX,
        mods=moderators.moderators_of(current_user),
        bans=moderators.bans_of(current_user),
        log=_log_rows(moderators.log_entries(current_user)),
        form=Form(),
    ), status


@bp.route("/settings/moderation")
@login_required
def moderation_settings():
    """Everything a host decides once for all their lives, and what was done in them."""
    return _settings_page()


@bp.route("/settings/moderation/moderators", methods=["POST"])
@login_required
def add_moderator():
    """Appoint a moderator by username; they are notified."""
    form = ModeratorForm()
    if not form.validate_on_submit():
        return _settings_page(mod_form=form, status=422)
    try:
        person = accounts.get_by_username(form.username.data)
        moderators.appoint(current_user, current_user, person)
    except DomainError as exc:
        form.username.errors = [*form.username.errors, exc.message]
        return _settings_page(mod_form=form, status=exc.status)
    flash(_("@%(u)s is now a moderator of your lives. They are told.", u=person.username), "success")
    return redirect(url_for("lives.moderation_settings"))


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


@bp.route("/settings/moderation/moderators/<int:user_id>/remove", methods=["POST"])
@login_required
def remove_moderator(user_id: int):
    if not Form().validate_on_submit():
        _expired()
        return redirect(url_for("lives.moderation_settings"))
    person = _user(user_id)
    try:
        moderators.remove(current_user, current_user, person)
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("@%(u)s no longer moderates your lives.", u=person.username), "success")
    return redirect(url_for("lives.moderation_settings"))


@bp.route("/settings/moderation/blocked-words", methods=["POST"])
@login_required
def save_blocked_words():
    """Replace the whole list with the textarea's words."""
    form = BlockedWordsForm()
    if not form.validate_on_submit():
        return _settings_page(words_form=form, status=422)
    try:
        saved = moderators.set_blocked_words(current_user, current_user, form.word_list())
    except ValidationFailed as exc:
        # Back to the page with the list as typed and the message under it.
        form.add_errors(exc)
        return _settings_page(words_form=form, status=exc.status)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("lives.moderation_settings"))
    flash(
        _("Your blocked words are saved (%(n)s of %(max)s).", n=len(saved), max=BLOCKED_WORDS_MAX),
        "success",
    )
    return redirect(url_for("lives.moderation_settings"))


@bp.route("/settings/moderation/bans/<int:user_id>/remove", methods=["POST"])
@login_required
def unban(user_id: int):
    """Let a banned person join your lives again."""
    if not Form().validate_on_submit():
        _expired()
        return redirect(url_for("lives.moderation_settings"))
    person = _user(user_id)
    try:
        moderators.unban(current_user, current_user, person.id)
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("@%(u)s may join your lives again.", u=person.username), "success")
    return redirect(url_for("lives.moderation_settings"))


@bp.route("/lives/<int:live_id>/moderation")
@login_required
def moderation_log(live_id: int):
    """One live's moderation log, for its host, their moderators and admins."""
    live = lives.get_live(live_id)
    if not moderators.may_read_log(live, current_user):
        abort(403)
    entries = moderators.log_entries(live.host, live)
    return render_template("lives/moderation_log.html", live=live, log=_log_rows(entries))
