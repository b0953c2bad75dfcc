"""Watching a live, its HLS files and preview, and the stream-key settings page."""

from __future__ import annotations

import re
import uuid

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.lives import bp
from livelite.extensions import limiter
from livelite.forms import Form
from livelite.media import hls
from livelite.services import lives, policy, room

# Only names ffmpeg writes for us; anything else (logs, temp files, ../) is refused.
MEDIA_NAME_RE = re.compile(r"^run-\d{4}(?:-init\.mp4|-\d{5}\.m4s)$")
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


def _viewer():
    return current_user if current_user.is_authenticated else None


def _watchable(live_id: int):
    """The live if this person may watch it: the visibility rule, and not kicked from
    it or banned by its host (the page, the playlist and every segment check both)."""
    live = lives.get_live(live_id)
    lives.require_watch(live, _viewer(), request.args.get("invite"))
    room.require_may_join(live, _viewer())
    return live


@bp.route("/lives/<int:live_id>")
def watch(live_id: int):
    """The viewer page: hls.js player, live badge, viewer count, ended state."""
    live = _watchable(live_id)
    if not current_user.is_authenticated:
        # Kept in the cookie so that every tab of this browser counts as one viewer:
        # a Socket.IO connection only reads the session (lives/events.py).
        session.setdefault("visitor_id", uuid.uuid4().hex)
    return render_template("lives/watch.html", live=live, invite=request.args.get("invite"))


@bp.route("/lives/<int:live_id>/feeds/<int:feed_id>/index.m3u8")
@limiter.exempt
def playlist(live_id: int, feed_id: int):
    """The feed's playlist, assembled from its ffmpeg runs; never cached."""
    live = _watchable(live_id)
    feed = lives.get_feed(live, feed_id)
    media = current_app.extensions["livelite.media"]
    ended = not (live.is_live and feed.active)
    body = hls.compose(media.feed_dir(feed), ended=ended, window=current_app.config["LIVE_PLAYLIST_SEGMENTS"])
    invite = request.args.get("invite")
    if invite:
        # Every file request is checked too, so the token rides along on each URI.
        body = re.sub(r'^(run-[^\s"]+)$', lambda m: f"{m.group(1)}?invite={invite}", body, flags=re.M)
        body = re.sub(r'URI="(run-[^"]+)"', lambda m: f'URI="{m.group(1)}?invite={invite}"', body)
    response = make_response(body)
    response.headers["Content-Type"] = PLAYLIST_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/lives/<int:live_id>/feeds/<int:feed_id>/<name>")
@limiter.exempt
def media_file(live_id: int, feed_id: int, name: str):
    """Init and media segments: immutable once written, Range supported."""
    if not MEDIA_NAME_RE.match(name):
        abort(404)
    live = _watchable(live_id)
    feed = lives.get_feed(live, feed_id)
    relative = f"{feed.media_dir}/{name}"
    mimetype = "video/mp4" if name.endswith(".mp4") else "video/iso.segment"
    return _send_media(relative, mimetype, "public, max-age=31536000, immutable")


@bp.route("/lives/<int:live_id>/preview.jpg")
@limiter.exempt
def preview(live_id: int):
    live = _watchable(live_id)
    if not live.preview_path:
        abort(404)
    return _send_media(live.preview_path, "image/jpeg", "no-cache")


def _send_media(relative: str, mimetype: str, cache_control: str):
    storage = current_app.extensions["livelite.storage"]
    path = storage.path(relative)
    if path is None or not path.is_file():
        abort(404)
    prefix = current_app.config.get("X_ACCEL_REDIRECT_PREFIX")
    if prefix:
        # nginx serves the bytes; we keep the permission check.
        response = make_response("")
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + relative
        response.headers["Content-Type"] = mimetype
    else:
        response = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=0)
    response.headers["Cache-Control"] = cache_control
    return response


@bp.route("/settings/stream", methods=["GET"])
@login_required
def stream_settings():
    """Server URL and stream key for OBS (reveal, copy, rotate) and recommended settings."""
    key = lives.stream_key(current_user)
    host = current_app.config.get("RTMP_PUBLIC_HOST") or request.host.split(":")[0]
    server_url = f"rtmp://{host}:{current_app.config['RTMP_PORT']}/live"
    return render_template(
        "lives/stream_settings.html",
        key=key.key,
        server_url=server_url,
        decision=policy.may_go_live(current_user),
        form=Form(),
    )


@bp.route("/settings/stream/rotate", methods=["POST"])
@login_required
def rotate_key():
    if Form().validate_on_submit():
        lives.rotate_stream_key(current_user)
        flash(_("Your stream key was replaced. Update it in OBS."), "success")
    return redirect(url_for("lives.stream_settings"))
