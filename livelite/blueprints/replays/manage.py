"""The owner's replays in settings: list, rename, visibility, download, delete, retry,
post to the feed. Rules and permissions are services.replays'; these views parse,
call it, and render or redirect. Anyone who may not see a replay gets a 404."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.media_files.sending import send_media
from livelite.blueprints.replays import bp
from livelite.blueprints.replays.manage_forms import PostForm, ReplayEditForm
from livelite.forms import Form, safe_next
from livelite.models import FileStatus, Replay, ReplayFeed
from livelite.models.base import utcnow
from livelite.services import replays, videos
from livelite.services.errors import DomainError, NotFound, PermissionDenied
from livelite.services.settings import get_setting

PER_PAGE = 10
# The progress route answers for at most this many replays at once (a page's worth).
PROGRESS_IDS_MAX = 50


def _viewer():
    return current_user if current_user.is_authenticated else None


def _csrf_expired() -> str:
    return _("Your form expired or was sent from another site. Reload the page and try again.")


@bp.record_once
def _install(state) -> None:
    """Helpers the replay templates share (the list, the profile section, the player)."""
    state.app.jinja_env.globals["replay_bytes"] = replays.format_bytes
    state.app.jinja_env.globals["replay_clock"] = replays.clock
    state.app.jinja_env.globals["replay_failure"] = replays.failure_message
    state.app.jinja_env.globals["replay_feed_label"] = _feed_label
    state.app.jinja_env.globals["profile_replays"] = _profile_replays


def _profile_replays(owner):
    """For templates/profiles/show.html: the replays of ``owner`` the viewer may watch."""
    return replays.visible_replays_of(owner, _viewer())


# -- the list ----------------------------------------------------------------------------
@dataclass
class ReplayRow:
    """One card of the list: the replay, when it goes, and its rename form."""

    replay: Replay
    expires_at: datetime | None
    expiring_soon: bool
    form: ReplayEditForm

    @property
    def main_ready(self) -> bool:
        main = self.replay.main_feed
        return main is not None and main.mp4_status == FileStatus.READY


def _prefix(replay_id: int) -> str:
    return f"replay-{replay_id}"


def _expiry(replay: Replay, now: datetime) -> tuple[datetime | None, bool]:
    expires = replays.expires_at(replay)
    if expires is None:
        return None, False
    warning = timedelta(days=get_setting("REPLAY_WARNING_DAYS"))
    return expires, now >= expires - warning


def _page_number() -> int:
    return max(1, request.args.get("page", 1, type=int))


def _list_url(replay_id: int | None = None, page: int | None = None) -> str:
    page = page if page is not None else _page_number()
    anchor = f"replay-{replay_id}" if replay_id else None
    return url_for("replays.index", page=page if page > 1 else None, _anchor=anchor)


def _index_page(failed: ReplayEditForm | None = None, failed_id: int | None = None, status: int = 200):
    page = replays.replays_of(current_user, page=_page_number(), per_page=PER_PAGE)
    now = utcnow()
    rows = []
    for replay in page.items:
        if failed is not None and replay.id == failed_id:
            form = failed
        else:
            # formdata=None: after a failed POST, the other cards keep their own values.
            form = ReplayEditForm(formdata=None, prefix=_prefix(replay.id), obj=replay)
            form.visibility.data = replay.visibility.value
        rows.append(ReplayRow(replay, *_expiry(replay, now), form))
    return render_template(
        "replays/index.html",
        page=page,
        rows=rows,
        usage=replays.usage(current_user),
        retention_days=get_setting("REPLAY_RETENTION_DAYS"),
        form=Form(),
    ), status


@bp.route("/settings/replays")
@login_required
def index():
    """Your replays, newest first: watch, download, post, rename, delete; the storage
    they use; the MP4s' progress follows live (static/js/replays/manage.js)."""
    return _index_page()


@bp.route("/settings/replays/progress")
@login_required
def progress():
    """The state of some of your replays' files (``?ids=1,2``): what the list page
    reads when its socket (re)connects, and every few seconds while a file is made."""
    ids = []
    for part in request.args.get("ids", "").split(",")[:PROGRESS_IDS_MAX]:
        if part.strip().isdigit():
            ids.append(int(part))
    found = []
    for replay_id in ids:
        try:
            replay = replays.get_managed(replay_id, current_user)
        except DomainError:
            continue
        found.append(replays.progress_payload(replay))
    return jsonify({"replays": found})


# -- changing, deleting, retrying ----------------------------------------------------------
def _back(replay: Replay) -> str:
    """Where a form on the list comes back to: the card (or ``next``, for an admin
    acting on someone else's replay from another page)."""
    if replay.owner_id == current_user.id:
        return _list_url(replay.id)
    return safe_next(url_for("replays.show", replay_id=replay.id))


@bp.route("/replays/<int:replay_id>/edit", methods=["POST"])
@login_required
def edit(replay_id: int):
    """Rename a replay and set who may watch it (owner or admin)."""
    replay = replays.get_managed(replay_id, current_user)
    form = ReplayEditForm(prefix=_prefix(replay.id))
    form.validate()  # only the CSRF token can fail here: the service checks the values
    if form.errors.get("csrf_token"):
        flash(_csrf_expired(), "error")
        return redirect(_back(replay))
    try:
        replays.update(replay, current_user, title=form.title.data or "", visibility=form.visibility.data)
    except DomainError as exc:
        if replay.owner_id == current_user.id and form.add_errors(exc):
            return _index_page(failed=form, failed_id=replay.id, status=422)
        flash(exc.message, "error")
        return redirect(_back(replay))
    flash(_("“%(title)s” is saved.", title=replay.title), "success")
    return redirect(_back(replay))


@bp.route("/replays/<int:replay_id>/delete", methods=["GET", "POST"])
@login_required
def delete(replay_id: int):
    """Ask first (a page of its own, no script needed), then delete the replay and its
    files. Videos posted from it stay: each is its own copy."""
    replay = replays.get_managed(replay_id, current_user)
    form = Form()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_csrf_expired(), "error")
            return redirect(url_for("replays.delete", replay_id=replay.id, page=request.args.get("page")))
        title, mine = replay.title, replay.owner_id == current_user.id
        try:
            replays.delete(replay, current_user)
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(_back(replay))
        flash(_("The replay “%(title)s” is deleted.", title=title), "info")
        return redirect(
            _list_url() if mine else safe_next(url_for("profiles.show", username=replay.owner.username))
        )
    return render_template(
        "replays/delete.html",
        replay=replay,
        posted=replays.posted_videos_count(replay),
        cancel_url=_back(replay),
        form=form,
    )


@bp.route("/replays/<int:replay_id>/retry", methods=["POST"])
@login_required
def retry(replay_id: int):
    """Make the files that failed again (owner or admin)."""
    replay = replays.get_managed(replay_id, current_user)
    if not Form().validate_on_submit():
        flash(_csrf_expired(), "error")
        return redirect(_back(replay))
    count = replays.retry(replay, current_user)
    if count:
        flash(_("The files of “%(title)s” are being made again.", title=replay.title), "info")
    else:
        flash(_("Nothing to make again: no file of this replay failed."), "info")
    return redirect(_back(replay))


# -- downloads -------------------------------------------------------------------------------
def _downloadable(replay_id: int) -> Replay:
    """The replay for its owner or an admin; 404 for everyone else, including viewers
    of a public replay (they watch it; the files are the owner's)."""
    replay = replays.get_visible(replay_id, _viewer())
    if not replays.can_manage(replay, _viewer()):
        raise NotFound(_("This replay does not exist, or it was deleted."))
    return replay


def _ascii_name(text: str) -> str:
    """A file name part any system accepts: ASCII letters, digits and dashes."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:60].strip("-")


def _unicode_name(text: str) -> str:
    """The title as people wrote it, minus what file systems refuse."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', "-", text)
    return re.sub(r"\s+", " ", cleaned).strip(" .-")[:80]


def download_names(replay: Replay, suffix: str = "") -> tuple[str, str]:
    """(ASCII name, UTF-8 name) of a download: the title and the day of the live,
    e.g. ``my-title-2026-11-25.mp4``."""
    day = (replay.live.started_at or replay.created_at).date().isoformat()
    ascii_title = _ascii_name(replay.title) or "replay"
    unicode_title = _unicode_name(replay.title) or "replay"
    ascii_suffix = f"-{_ascii_name(suffix)}" if _ascii_name(suffix) else ""
    unicode_suffix = f" {_unicode_name(suffix)}" if _unicode_name(suffix) else ""
    return f"{ascii_title}-{day}{ascii_suffix}.mp4", f"{unicode_title} {day}{unicode_suffix}.mp4"


def _send_download(replay: Replay, relative: str | None, suffix: str):
    storage = current_app.extensions["livelite.storage"]
    path = storage.path(relative) if relative else None
    if path is None or not path.is_file():
        raise NotFound(_("This file is missing. Use Retry on your replays page to make it again."))
    # Range (resumed downloads, the post page's preview) and X-Accel-Redirect: send_media.
    response = send_media(relative, "video/mp4", "private, no-cache")
    ascii_name, unicode_name = download_names(replay, suffix)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(unicode_name, safe='')}"
    )
    return response


def _not_ready(status: FileStatus, error: str | None):
    if status == FileStatus.FAILED:
        raise NotFound(_("This MP4 could not be made: %(why)s", why=replays.failure_message(error)))
    raise NotFound(
        _("This MP4 is not ready yet: it is being made from the recording. Try again in a few minutes.")
    )


@bp.route("/replays/<int:replay_id>/download/<int:replay_feed_id>")
def download(replay_id: int, replay_feed_id: int):
    """One feed's MP4 as an attachment (owner or admin)."""
    replay = _downloadable(replay_id)
    feed = replays.get_feed(replay, replay_feed_id)
    if feed.mp4_status != FileStatus.READY:
        _not_ready(feed.mp4_status, feed.mp4_error)
    suffix = "" if feed.is_main else feed.user.username
    return _send_download(replay, feed.mp4_path, suffix)


@bp.route("/replays/<int:replay_id>/download/composed")
def download_composed(replay_id: int):
    """The host and guests side by side, as an attachment (owner or admin)."""
    replay = _downloadable(replay_id)
    if replay.composed_status == FileStatus.NONE:
        raise NotFound(_("This live had no guests: there is no side-by-side video."))
    if replay.composed_status != FileStatus.READY:
        _not_ready(replay.composed_status, replay.composed_error)
    return _send_download(replay, replay.composed_path, "side-by-side")


# -- posting to the feed -----------------------------------------------------------------------
def _feed_label(feed: ReplayFeed) -> str:
    return _("Your camera") if feed.is_main else _("%(name)s (guest)", name=feed.user.display_name)


@bp.route("/replays/<int:replay_id>/post", methods=["GET", "POST"])
@login_required
def post(replay_id: int):
    """Post the replay, or a part of it, to your feed as a video (the owner only).
    On success, the new video's page, which follows its conversion."""
    replay = replays.get_managed(replay_id, current_user)
    if replay.owner_id != current_user.id:
        raise PermissionDenied(_("Only the host of this live can post its replay."))
    form = PostForm()
    composed_ready = replay.composed_status == FileStatus.READY
    if request.method == "GET":
        form.title.data = replay.title
    # "To the end" reads as the replay's last second.
    form.trim_end.render_kw = {
        **(form.trim_end.render_kw or {}),
        "placeholder": replays.clock(replay.duration_s),
    }
    if form.is_submitted():
        form.validate()  # only the CSRF token can fail here: the service checks the rest
        if form.errors.get("csrf_token"):
            flash(_csrf_expired(), "error")
        else:
            try:
                video = replays.post_to_feed(
                    replay,
                    current_user,
                    title=form.title.data or "",
                    caption=form.caption.data or "",
                    trim_start=(form.trim_start.data or "").strip() or None,
                    trim_end=(form.trim_end.data or "").strip() or None,
                    composed=composed_ready and form.source.data == "composed",
                )
            except DomainError as exc:
                if not form.add_errors(exc):
                    flash(exc.message, "error")
            else:
                flash(
                    _("Your video is being prepared. It appears on your profile when it is ready."), "success"
                )
                return redirect(url_for("videos.show", video_id=video.id))
    main = replay.main_feed
    return render_template(
        "replays/post.html",
        replay=replay,
        form=form,
        main=main,
        main_ready=main is not None and main.mp4_status == FileStatus.READY,
        composed_ready=composed_ready,
        limits=videos.limits(),
    ), (422 if form.is_submitted() else 200)
