"""Short videos and stories: upload, the video page, its files, delete, the story viewer."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.media_files.sending import send_media
from livelite.blueprints.videos import bp
from livelite.blueprints.videos.forms import VideoForm
from livelite.extensions import limiter
from livelite.forms import Form, safe_next
from livelite.models import MediaType, VideoStatus
from livelite.services import accounts, videos
from livelite.services.errors import DomainError, PermissionDenied

# Endpoints that take an upload: the only ones allowed past the global MAX_CONTENT_LENGTH.
UPLOAD_ENDPOINTS = frozenset({"videos.new", "api_videos.upload"})
# Room for the other form fields and the multipart framing around the file.
FORM_OVERHEAD = 1024 * 1024
# Seconds a photo story stays on screen in the viewer.
PHOTO_SECONDS = 5


def _viewer():
    return current_user if current_user.is_authenticated else None


@bp.record_once
def _install(state) -> None:
    """Raise the request size limit for the upload endpoints only.

    A URL value preprocessor runs before every ``before_request`` function, in
    particular before CSRF protection reads (and so limits) the form body; setting
    ``request.max_content_length`` there (Flask 3.1) lets those few requests through
    while every other one keeps the global 16 MB.
    """
    state.app.url_value_preprocessor(_upload_limit)
    state.app.jinja_env.globals["video_card_event"] = _card_event
    state.app.jinja_env.globals["video_return_url"] = _return_url
    state.app.jinja_env.globals["video_error"] = videos.error_message
    state.app.jinja_env.globals["video_duration"] = videos.duration_text
    state.app.jinja_env.globals["video_story_rings"] = _story_rings


def _upload_limit(endpoint, values) -> None:
    if endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
        request.max_content_length = videos.max_upload_bytes() + FORM_OVERHEAD


def _card_event(video):
    """For templates/videos/_card.html: the event card's data, or None."""
    return videos.event_card(video, _viewer())


def _story_rings():
    """For templates/videos/_story_row.html: followed people's active stories."""
    return videos.story_rings(_viewer())


def _return_url(video) -> str:
    """Where an RSVP from a card comes back to: this page, at this card."""
    path = request.full_path.rstrip("?")
    return f"{path}#video-{video.id}"


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"


# -- upload ------------------------------------------------------------------------
@bp.route("/videos/new", methods=["GET", "POST"])
@login_required
def new():
    """Upload a short video or a story. The page's script sends the form itself to
    show upload progress, then opens the video page, which follows the conversion."""
    decision = videos.may_post(current_user)
    form = VideoForm()
    events = videos.linkable_events(current_user) if decision else []
    form.event_id.choices = [(0, _("No event"))] + [(e.id, e.title) for e in events]
    if request.method == "GET" and request.args.get("kind") == "story":
        form.kind.data = "story"
    if decision and form.is_submitted():
        form.validate()  # only the CSRF token can fail here (the service checks the rest)
        if form.errors.get("csrf_token"):
            error = _("Your form expired or was sent from another site. Reload the page and try again.")
            if _wants_json():
                return jsonify({"message": error, "errors": {}}), 400
            flash(error, "error")
        else:
            upload = request.files.get("file")
            try:
                video = videos.upload(
                    current_user,
                    upload.stream if upload and upload.filename else None,
                    kind=form.kind.data or "video",
                    caption=form.caption.data or "",
                    event_id=form.event_id.data,
                )
            except DomainError as exc:
                if _wants_json():
                    return jsonify({"message": exc.message, "errors": exc.errors}), exc.status
                if not form.add_errors(exc):
                    flash(exc.message, "error")
            else:
                target = url_for("videos.show", video_id=video.id)
                if video.kind.value == "story" and video.status == VideoStatus.READY:
                    flash(_("Your story is up for 24 hours."), "success")
                if _wants_json():
                    return jsonify({"id": video.id, "url": target, "status": video.status.value}), 201
                return redirect(target)
    status = 422 if form.is_submitted() else 200
    return (
        render_template(
            "videos/new.html", form=form, decision=decision, limits=videos.limits(), has_events=bool(events)
        ),
        status,
    )


@bp.errorhandler(413)
def too_large(exc):
    """Over the raised limit: say the limit, in the form's own words."""
    message = _("This file is too large: %(max)s at most.", max=videos.format_mb(videos.max_upload_bytes()))
    if _wants_json():
        return jsonify({"message": message, "errors": {"file": [message]}}), 413
    flash(message, "error")
    return redirect(url_for("videos.new"))


# -- watching ----------------------------------------------------------------------
@bp.route("/v/<int:video_id>")
def show(video_id: int):
    """The video page: player, caption, creator, event card; the creator also sees the
    conversion's progress (live) or why it failed."""
    video = videos.get_visible(video_id, _viewer())
    return render_template(
        "videos/show.html",
        video=video,
        can_delete=videos.can_delete(video, _viewer()),
        form=Form(),
        photo_seconds=PHOTO_SECONDS,
    )


def _send(relative: str | None, mimetype: str):
    if not relative:
        abort(404)
    # Stories expire and videos can be deleted: private caching, revalidated.
    return send_media(relative, mimetype, "private, max-age=3600")


@bp.route("/v/<int:video_id>/file")
@limiter.exempt
def file(video_id: int):
    """The converted MP4 (or a story's JPEG), for those who may see the video."""
    video = videos.get_visible(video_id, _viewer())
    if video.status != VideoStatus.READY:
        abort(404)
    mimetype = "image/jpeg" if video.media_type == MediaType.PHOTO else "video/mp4"
    return _send(video.file_path, mimetype)


@bp.route("/v/<int:video_id>/thumb.jpg")
@limiter.exempt
def thumbnail(video_id: int):
    video = videos.get_visible(video_id, _viewer())
    return _send(video.thumbnail_path, "image/jpeg")


@bp.route("/v/<int:video_id>/delete", methods=["POST"])
@login_required
def delete(video_id: int):
    """Delete a video or story (the creator, or an admin)."""
    video = videos.get_deletable(video_id, current_user)
    creator = video.creator.username
    if Form().validate_on_submit():
        try:
            videos.delete_video(video, current_user)
        except PermissionDenied:
            raise  # not the creator's: a forged request, refused (403) rather than flashed
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for("videos.show", video_id=video_id))
        flash(_("The video is deleted."), "info")
    return redirect(safe_next(url_for("profiles.show", username=creator)))


# -- stories -----------------------------------------------------------------------
@bp.route("/stories/@<username>")
def stories(username: str):
    """One person's active stories, one at a time: ``?i=`` picks the story; the
    links (and the page's keys and taps) go to the next one, then to the next
    person of the viewer's story row when opened from it (``?row=1``)."""
    user = accounts.get_by_username(username)
    items = videos.active_stories(user)
    if not items:
        flash(_("%(name)s has no stories right now.", name=user.display_name), "info")
        return redirect(url_for("profiles.show", username=user.username))
    index = min(max(request.args.get("i", 0, type=int), 0), len(items) - 1)
    from_row = request.args.get("row") == "1"
    next_url = prev_url = None
    if index + 1 < len(items):
        next_url = url_for(
            "videos.stories", username=user.username, i=index + 1, row="1" if from_row else None
        )
    elif from_row:
        rings = videos.story_rings(_viewer())
        names = [ring.user.username for ring in rings]
        if user.username in names and names.index(user.username) + 1 < len(names):
            next_url = url_for("videos.stories", username=names[names.index(user.username) + 1], row="1")
    if index > 0:
        prev_url = url_for(
            "videos.stories", username=user.username, i=index - 1, row="1" if from_row else None
        )
    close_url = url_for("main.index") if from_row else url_for("profiles.show", username=user.username)
    return render_template(
        "videos/stories.html",
        user=user,
        stories=items,
        story=items[index],
        index=index,
        next_url=next_url,
        prev_url=prev_url,
        close_url=close_url,
        photo_seconds=PHOTO_SECONDS,
        can_delete=videos.can_delete(items[index], _viewer()),
        form=Form(),
    )


@bp.route("/@<username>/videos")
def user_videos(username: str):
    """Every short video of a person, newest first, a page at a time."""
    user = accounts.get_by_username(username)
    page = videos.videos_of(user, _viewer(), page=request.args.get("page", 1, type=int), per_page=24)
    return render_template("videos/list.html", user=user, page=page)
