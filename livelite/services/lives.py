"""Lives: going live, feeds, stream keys, who may watch, ending."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import Feed, FeedSource, Follow, Live, LiveStatus, StreamKey, User, Visibility
from livelite.models.base import is_id, utcnow
from livelite.services import policy
from livelite.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from livelite.services.settings import get_setting

TITLE_MAX = 100

# Why a live ended, as told to its host (Live.end_reason holds the code).
END_REASONS = {
    "host": _l("Your live has ended."),
    "admin": _l("An admin ended your live."),
    "publisher_lost": _l("Your connection was gone too long, so your live ended."),
    "disk_full": _l("The server ran short of disk space, so your live stopped. What was recorded is kept."),
    "ingest_failed": _l("The server could not process your video, so your live stopped."),
    "bitrate": _l("Your stream went over this site’s bitrate limit, so your live stopped."),
    "recovered": _l("The server restarted, so your live ended."),
}


def end_message(reason: str | None) -> str:
    return str(END_REASONS.get(reason or "", END_REASONS["host"]))


INPUT_FORMATS = {"webm", "flv"}
BROWSER_CODECS = {"h264", "vp8", "vp9"}


# -- stream keys -------------------------------------------------------------
def _new_key() -> str:
    return "live_" + secrets.token_urlsafe(24)


def stream_key(user: User) -> StreamKey:
    """The user's key, created on first use."""
    row = db.session.get(StreamKey, user.id)
    if row is None:
        row = StreamKey(user_id=user.id, key=_new_key())
        db.session.add(row)
        db.session.commit()
    return row


def rotate_stream_key(user: User) -> StreamKey:
    """A new key; the old one stops working at once (a live in progress goes on)."""
    row = stream_key(user)
    row.key = _new_key()
    row.created_at = utcnow()
    db.session.commit()
    return row


def user_for_stream_key(key: str) -> User | None:
    if not key or len(key) > 64:
        return None
    row = db.session.scalar(select(StreamKey).where(StreamKey.key == key))
    return row.user if row is not None else None


# -- lives -------------------------------------------------------------------
def get_live(live_id: int) -> Live:
    live = db.session.get(Live, live_id) if is_id(live_id) else None
    if live is None:
        raise NotFound(_("This live does not exist."))
    return live


def active_live_of(user: User) -> Live | None:
    return db.session.scalar(
        select(Live).where(Live.host_id == user.id, Live.status == LiveStatus.LIVE).order_by(Live.id.desc())
    )


def current_lives(limit: int = 100) -> list[Live]:
    return list(
        db.session.scalars(
            select(Live).where(Live.status == LiveStatus.LIVE).order_by(Live.started_at.desc()).limit(limit)
        )
    )


def free_disk_bytes() -> int:
    root = Path(current_app.config["MEDIA_ROOT"])
    root.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(root).free


def check_can_start(user: User) -> None:
    """Every rule that stops someone from going live, with a message that says why."""
    decision = policy.may_go_live(user)
    if not decision:
        raise PermissionDenied(" ".join(decision.reasons))
    live_count = db.session.scalar(
        select(func.count()).select_from(Live).where(Live.status == LiveStatus.LIVE)
    )
    if live_count >= get_setting("MAX_CONCURRENT_LIVES"):
        raise Conflict(_("The site has as many lives as it can carry right now. Try again in a few minutes."))
    from livelite.services import replays

    replays.check_quota(user)
    needed = get_setting("MIN_FREE_DISK_MB") * 1024 * 1024
    if free_disk_bytes() < needed:
        raise Conflict(
            _("The server is short of disk space, so new lives cannot start. Tell the site admin.")
        )


def _checked_fields(title: str, visibility) -> tuple[str, Visibility]:
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = [_("Give your live a title.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("Titles have at most %(n)s characters.", n=TITLE_MAX)]
    try:
        visibility = checked_visibility(visibility)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return title, visibility


def checked_visibility(visibility) -> Visibility:
    """Who can watch, as a Visibility (also used by scheduled events)."""
    try:
        return Visibility(visibility)
    except ValueError:
        raise ValidationFailed(
            {"visibility": [_("Choose who can watch: public, followers or invite only.")]}
        ) from None


def _checked_group(user: User, visibility: Visibility, group_id: int | None) -> int | None:
    from livelite.services import classes

    return classes.group_for_live(user, visibility, group_id)


def create_live(
    user: User,
    *,
    title: str,
    visibility: str | Visibility = Visibility.PUBLIC,
    group_id: int | None = None,
) -> Live:
    """Prepare a live (status scheduled) to start later with ``begin_live``. An
    invite-only live may be opened to one of the host's groups (class mode)."""
    title, visibility = _checked_fields(title, visibility)
    group_id = _checked_group(user, visibility, group_id)
    live = Live(
        host_id=user.id, title=title, visibility=visibility, status=LiveStatus.SCHEDULED, group_id=group_id
    )
    db.session.add(live)
    db.session.commit()
    return live


def begin_live(live: Live, user: User) -> Live:
    """Start a prepared live now; every go-live rule is checked at this moment."""
    require_host(live, user)
    if live.status != LiveStatus.SCHEDULED:
        raise Conflict(_("This live has already started or ended."))
    host = live.host
    if active_live_of(host) is not None:
        raise Conflict(_("You are already live. End that live first."))
    check_can_start(host)
    live.status = LiveStatus.LIVE
    live.started_at = utcnow()
    db.session.commit()
    _announce_start(live)
    return live


def _announce_start(live: Live) -> None:
    from livelite.services import notifications, webhooks

    notifications.live_started(live)
    webhooks.live_started(live)


def start_live(
    user: User,
    *,
    title: str,
    visibility: str | Visibility = Visibility.PUBLIC,
    group_id: int | None = None,
) -> Live:
    """Create and start a live at once (the studio's Go LIVE). One live at a time per host."""
    title, visibility = _checked_fields(title, visibility)
    group_id = _checked_group(user, visibility, group_id)
    if active_live_of(user) is not None:
        raise Conflict(_("You are already live. End that live first."))
    check_can_start(user)
    live = Live(
        host_id=user.id,
        title=title,
        visibility=visibility,
        status=LiveStatus.LIVE,
        started_at=utcnow(),
        group_id=group_id,
    )
    db.session.add(live)
    db.session.commit()
    _announce_start(live)
    return live


def end_live(live: Live, reason: str) -> Live:
    """Mark the live ended and its feeds closed (the media layer finishes the files)."""
    if live.status == LiveStatus.ENDED:
        return live
    now = utcnow()
    live.status = LiveStatus.ENDED
    live.ended_at = now
    live.end_reason = reason
    for feed in live.feeds:
        if feed.active:
            feed.active = False
            feed.ended_at = now
    db.session.commit()
    from livelite.services import analytics

    analytics.close_attendance(live.id, at=now)
    from livelite.services import webhooks

    webhooks.live_ended(live)
    return live


def require_host(live: Live, user: User) -> None:
    if not (user and user.is_authenticated and (user.id == live.host_id or user.is_admin)):
        raise PermissionDenied(_("Only the host can do this."))


# -- feeds -------------------------------------------------------------------
def open_feed(
    live: Live, user: User, *, source: FeedSource, input_format: str, video_codec: str | None
) -> Feed:
    """The publisher's feed in this live: the existing one (a reconnect) or a new one."""
    if input_format not in INPUT_FORMATS:
        raise ValidationFailed({"mime": [_("This recording format is not supported.")]})
    if source == FeedSource.BROWSER and video_codec not in BROWSER_CODECS:
        raise ValidationFailed({"mime": [_("Record H.264, VP8 or VP9 video.")]})
    if not live.is_live:
        raise Conflict(_("This live has ended."))
    feed = db.session.scalar(
        select(Feed).where(Feed.live_id == live.id, Feed.user_id == user.id).order_by(Feed.id.desc())
    )
    if feed is None:
        feed = Feed(live_id=live.id, user_id=user.id, source=source, input_format=input_format)
        db.session.add(feed)
        db.session.flush()
        feed.media_dir = f"lives/{live.id}/feed-{feed.id}"
    feed.source = source
    feed.input_format = input_format
    feed.video_codec = video_codec
    feed.active = True
    feed.ended_at = None
    db.session.commit()
    return feed


def close_feed(feed: Feed) -> None:
    feed.active = False
    feed.ended_at = utcnow()
    db.session.commit()


def get_feed(live: Live, feed_id: int) -> Feed:
    feed = db.session.get(Feed, feed_id)
    if feed is None or feed.live_id != live.id:
        raise NotFound(_("This feed does not exist."))
    return feed


# -- who may watch -----------------------------------------------------------
def can_watch(live: Live, viewer: User | None, invite: str | None = None) -> bool:
    """Public: anyone. Followers: followers, the host, admins. Invite: the invite token,
    or being in the group the host opened the live to (class mode)."""
    # Before is_authenticated: Flask-Login counts a banned (inactive) user as not
    # authenticated, which would let them through as an anonymous visitor.
    if viewer is not None and getattr(viewer, "is_banned", False):
        return False
    if (
        viewer is not None
        and getattr(viewer, "is_authenticated", False)
        and (viewer.id == live.host_id or viewer.is_admin)
    ):
        return True
    if live.visibility == Visibility.PUBLIC:
        return True
    if live.visibility == Visibility.FOLLOWERS:
        if viewer is None or not getattr(viewer, "is_authenticated", False):
            return False
        return db.session.get(Follow, {"follower_id": viewer.id, "followed_id": live.host_id}) is not None
    # compare_digest refuses non-ASCII text (a TypeError): such an invite is simply wrong.
    if isinstance(invite, str) and invite.isascii() and secrets.compare_digest(invite, live.invite_token):
        return True
    from livelite.services import classes

    return classes.is_member(live.group_id, viewer)


def require_watch(live: Live, viewer: User | None, invite: str | None = None) -> None:
    if not can_watch(live, viewer, invite):
        if live.visibility == Visibility.FOLLOWERS:
            raise PermissionDenied(_("This live is for followers of the host."))
        raise PermissionDenied(_("This live is by invitation. Use the link or code you were given."))
