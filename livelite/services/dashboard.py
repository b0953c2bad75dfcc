"""The admin overview, the live monitor, the site-wide moderation log and the settings
form's rules. Each public function checks that the actor is an admin, whoever calls it.

The figures reuse what already computes them: ``metrics.running_ffmpeg`` and the
room's presence for what this process runs and sees, ``replays.site_storage`` for the
disk, the queues' own ``*_count`` helpers for what waits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from livelite.extensions import db
from livelite.models import Feed, Live, LiveStatus, ModerationEntry, User
from livelite.models.base import utcnow
from livelite.models.replays import FileStatus, Replay, ReplayFeed
from livelite.models.videos import Video, VideoStatus
from livelite.models.webhooks import DeliveryStatus, Webhook, WebhookDelivery
from livelite.services import lives, settings
from livelite.services.admin import require_admin
from livelite.services.errors import Conflict, ValidationFailed

FAILURE_DAYS = 7
FAILURES_SHOWN = 50
FAILED_END_REASONS = {
    "ingest_failed": _l("ffmpeg could not process the stream (ingest failed)."),
    "disk_full": _l("The disk ran short of space (disk_full)."),
}


# -- overview ---------------------------------------------------------------------------
def overview(actor: User, app: Flask, now: datetime | None = None) -> dict:
    """Every figure of the overview page (and GET /api/v1/admin/overview)."""
    from livelite import metrics
    from livelite.services import access, cashouts, coins, replays, reports

    require_admin(actor)
    now = now or utcnow()
    live_ids = list(db.session.scalars(select(Live.id).where(Live.status == LiveStatus.LIVE)))
    presence = app.extensions["livelite.presence"]
    total, banned = db.session.execute(
        select(func.count(), func.count().filter(User.is_banned.is_(True))).select_from(User)
    ).one()
    new = db.session.scalar(
        select(func.count()).select_from(User).where(User.created_at >= now - timedelta(days=7))
    )
    storage = replays.site_storage(limit=0)
    videos = db.session.scalar(select(func.count()).select_from(Video))
    return {
        "lives_now": len(live_ids),
        "viewers_now": sum(presence.count(live_id) for live_id in live_ids),
        "people": {"total": int(total), "new_7_days": int(new), "banned": int(banned)},
        "storage": {
            "replays": storage["replays"],
            "replays_bytes": storage["replays_bytes"],
            "videos": int(videos),
            "videos_bytes": storage["videos_bytes"],
            "disk_free_bytes": storage["disk_free_bytes"],
            "disk_total_bytes": storage["disk_total_bytes"],
        },
        "ffmpeg": metrics.running_ffmpeg(app),
        "waiting": {
            "access_requests": access.pending_count(),
            "reports": reports.open_count(),
            "coin_requests": coins.pending_count(),
            "cashouts": cashouts.waiting_count(),
        },
    }


@dataclass(frozen=True)
class Failure:
    """Something that went wrong and is kept in the database (recent failures list)."""

    kind: str  # live, video, replay, webhook
    at: datetime
    what: str  # a title, caption or URL: user text, escaped by the template
    reason: str
    live_id: int | None = None
    replay_id: int | None = None
    username: str | None = None

    @property
    def kind_label(self) -> str:
        return str(FAILURE_KINDS.get(self.kind, self.kind))

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "at": self.at,
            "what": self.what,
            "reason": self.reason,
            "live_id": self.live_id,
            "replay_id": self.replay_id,
            "username": self.username,
        }


FAILURE_KINDS = {
    "live": _l("Live stopped"),
    "video": _l("Video not converted"),
    "replay": _l("Replay file failed"),
    "webhook": _l("Webhook not delivered"),
}


def recent_failures(actor: User, now: datetime | None = None, limit: int = FAILURES_SHOWN) -> list[Failure]:
    """Failures of the last ``FAILURE_DAYS`` days, newest first: lives stopped by the
    server, videos that failed converting, replay MP4s that failed, webhook deliveries
    that ran out of attempts."""
    require_admin(actor)
    since = (now or utcnow()) - timedelta(days=FAILURE_DAYS)
    found: list[Failure] = []
    rows = db.session.execute(
        select(Live, User.username)
        .join(User, User.id == Live.host_id)
        .where(Live.end_reason.in_(list(FAILED_END_REASONS)), Live.ended_at >= since)
        .order_by(Live.ended_at.desc())
        .limit(limit)
    ).all()
    for live, username in rows:
        found.append(
            Failure(
                "live",
                live.ended_at,
                live.title,
                str(FAILED_END_REASONS[live.end_reason]),
                live.id,
                None,
                username,
            )
        )
    rows = db.session.execute(
        select(Video, User.username)
        .join(User, User.id == Video.creator_id)
        .where(Video.status == VideoStatus.FAILED, Video.created_at >= since)
        .order_by(Video.created_at.desc())
        .limit(limit)
    ).all()
    for video, username in rows:
        what = video.title or video.caption or _("Video %(id)s", id=video.id)
        found.append(Failure("video", video.created_at, what[:100], video.error or "", None, None, username))
    rows = db.session.execute(
        select(Replay, User.username)
        .join(User, User.id == Replay.owner_id)
        .where(
            Replay.created_at >= since,
            Replay.deleted_at.is_(None),
            or_(
                Replay.composed_status == FileStatus.FAILED,
                Replay.id.in_(select(ReplayFeed.replay_id).where(ReplayFeed.mp4_status == FileStatus.FAILED)),
            ),
        )
        .order_by(Replay.created_at.desc())
        .limit(limit)
    ).all()
    for replay, username in rows:
        errors = {f.mp4_error for f in replay.feeds if f.mp4_status == FileStatus.FAILED and f.mp4_error}
        if replay.composed_status == FileStatus.FAILED and replay.composed_error:
            errors.add(replay.composed_error)
        found.append(
            Failure(
                "replay",
                replay.created_at,
                replay.title,
                ", ".join(sorted(errors)),
                replay.live_id,
                replay.id,
                username,
            )
        )
    rows = db.session.execute(
        select(WebhookDelivery, Webhook.url)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == DeliveryStatus.FAILED, WebhookDelivery.created_at >= since)
        .order_by(WebhookDelivery.created_at.desc())
        .limit(limit)
    ).all()
    for delivery, url in rows:
        reason = delivery.last_error or (
            _("HTTP %(code)s", code=delivery.last_status_code) if delivery.last_status_code else ""
        )
        found.append(Failure("webhook", delivery.created_at, f"{delivery.event} → {url}", reason))
    found.sort(key=lambda f: f.at, reverse=True)
    return found[:limit]


# -- live monitor -----------------------------------------------------------------------
HEALTH_KEYS = ("input_bitrate_kbps", "output_fps", "keyframe_interval_s", "lag_seconds")


def feed_health(app: Flask, feed: Feed) -> dict:
    """The feed's figures: from its running ingest in this process, else the snapshot
    the media tick stored on the row. ``running`` says which."""
    figures = app.extensions["livelite.media"].health(feed.id)
    running = figures is not None
    if figures is None and feed.health:
        try:
            figures = json.loads(feed.health)
        except ValueError:
            figures = None
    figures = figures or {}
    lag = figures.get("lag_seconds")
    if lag is None:
        state = "unknown"
    else:
        state = "good" if lag < 4 else "fair" if lag < 10 else "poor"
    return {"running": running, "state": state, **{key: figures.get(key) for key in HEALTH_KEYS}}


def live_monitor(actor: User, app: Flask) -> list[dict]:
    """Every live now, oldest first: host, title, visibility, start, viewers, and each
    active feed (host's and guests') with its health."""
    require_admin(actor)
    presence = app.extensions["livelite.presence"]
    rows = list(
        db.session.scalars(
            select(Live).where(Live.status == LiveStatus.LIVE).order_by(Live.started_at, Live.id)
        )
    )
    out = []
    for live in rows:
        feeds = [
            {
                "id": feed.id,
                "user": feed.user,
                "is_host": feed.user_id == live.host_id,
                "source": feed.source.value,
                "health": feed_health(app, feed),
            }
            for feed in live.feeds
            if feed.active
        ]
        feeds.sort(key=lambda f: (not f["is_host"], f["id"]))
        out.append({"live": live, "viewers": presence.count(live.id), "feeds": feeds})
    return out


def stop_live(actor: User, app: Flask, live_id: int) -> Live:
    """End a live as an admin: the media layer finishes the files and ends it with the
    reason "admin" (the host is told ``lives.END_REASONS["admin"]``)."""
    require_admin(actor)
    live = lives.get_live(live_id)
    if not live.is_live:
        raise Conflict(_("This live has already ended."))
    app.extensions["livelite.media"].end_live(live.id, "admin")
    # The media layer ends the live in a session of its own: read it afresh.
    db.session.expire_all()
    return lives.get_live(live_id)


# -- moderation log ---------------------------------------------------------------------
MODERATION_ACTIONS = (
    "delete_message",
    "mute",
    "unmute",
    "kick",
    "ban",
    "unban",
    "settings",
    "moderator_add",
    "moderator_remove",
    "blocked_words",
    "guest_remove",
)


def moderation_log(actor: User, host_username: str = "", action: str = ""):
    """Every host's moderation log, newest first (a statement to paginate)."""
    require_admin(actor)
    stmt = select(ModerationEntry).order_by(ModerationEntry.created_at.desc(), ModerationEntry.id.desc())
    host_username = (host_username or "").strip().lower().lstrip("@")
    if host_username:
        stmt = stmt.where(ModerationEntry.host_id.in_(select(User.id).where(User.username == host_username)))
    if action:
        stmt = stmt.where(ModerationEntry.action == action)
    return stmt


def hosts_of(entries: list[ModerationEntry]) -> dict[int, User]:
    ids = {e.host_id for e in entries}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


# -- settings ---------------------------------------------------------------------------
SETTING_GROUPS: tuple[tuple[str, object, tuple[str, ...]], ...] = (
    ("people", _l("People and registration"), ("REGISTRATION_OPEN", "MIN_AGE", "GIFT_MIN_AGE")),
    (
        "live",
        _l("Going live"),
        (
            "LIVE_MIN_AGE",
            "LIVE_MIN_FOLLOWERS",
            "MAX_CONCURRENT_LIVES",
            "MAX_INGEST_KBPS",
            "MIN_FREE_DISK_MB",
            "GO_LIVE_WINDOW_MINUTES",
            "REMINDER_HOURS_BEFORE",
            "REMINDER_MINUTES_BEFORE",
            "PUBLISHER_GRACE_SECONDS",
            "MAX_GUESTS",
        ),
    ),
    (
        "videos",
        _l("Videos and stories"),
        ("VIDEO_MIN_SECONDS", "VIDEO_MAX_SECONDS", "VIDEO_MAX_MB", "STORY_MAX_SECONDS"),
    ),
    (
        "chat",
        _l("Chat and room"),
        ("CHAT_MAX_LENGTH", "CHAT_MESSAGES_PER_10S", "QUESTION_INTERVAL_SECONDS", "LIKES_PER_SECOND"),
    ),
    (
        "money",
        _l("Gifts and money"),
        (
            "CREATOR_SHARE_PERCENT",
            "CASHOUT_MIN_DIAMONDS",
            "CASHOUT_CENTS_PER_100_DIAMONDS",
            "GIFT_COMBO_SECONDS",
        ),
    ),
    (
        "storage",
        _l("Replays and storage"),
        ("REPLAY_RETENTION_DAYS", "REPLAY_WARNING_DAYS", "STORAGE_QUOTA_MB"),
    ),
)


def grouped_settings() -> list[tuple[str, object, list[str]]]:
    """The groups with their keys; a setting no group names lands in the last group, so
    a new setting still shows up on the page."""
    named = {key for _slug, _title, keys in SETTING_GROUPS for key in keys}
    groups = [
        (slug, title, [k for k in keys if k in settings.SETTINGS]) for slug, title, keys in SETTING_GROUPS
    ]
    rest = [key for key in settings.SETTINGS if key not in named]
    if rest:
        groups[-1] = (groups[-1][0], groups[-1][1], groups[-1][2] + rest)
    return groups


def save_settings(actor: User, raw: dict[str, object]) -> dict[str, object]:
    """Validate every given value, and the ordered pairs against the values being
    saved; store only the ones that change, all or none. Returns the changed values.
    Raises ValidationFailed with every field's problem at once."""
    require_admin(actor)
    current = settings.all_settings()
    parsed: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for key, value in raw.items():
        try:
            parsed[key] = settings.parse_setting(key, value)
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                errors.setdefault(name, []).extend(messages)
    merged = {**current, **parsed}
    for lower, upper in settings.ORDERED_PAIRS:
        if lower in errors or upper in errors:
            continue
        if merged[lower] > merged[upper]:
            label = str(settings.SETTINGS[upper].label)
            errors[lower] = [
                _("Must not be more than “%(other)s” (%(value)s).", other=label, value=merged[upper])
            ]
    if errors:
        raise ValidationFailed(errors)
    changed = {key: value for key, value in parsed.items() if value != current[key]}
    for key, value in changed.items():
        settings.store_setting(key, value)
    db.session.commit()
    return changed
