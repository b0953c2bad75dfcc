"""Replays: made when a live ends, watched, downloaded, posted, and deleted in time.

When a live ends (``LiveMedia`` tells its listeners ``live_ended`` once every feed's
ffmpeg has finished) ``create_for_live`` makes the replay: a ``ReplayFeed`` per feed
that recorded anything, its duration, size and time line, and a thumbnail. The HLS
recording is the replay's VOD playlist as it is, so the replay can be watched at once;
the MP4s for download (a remux of each feed, and for lives with guests one MP4 with
everyone side by side) are made afterwards by the ``ReplayQueue``, one at a time, with
their progress sent to the owner's pages (``replay_progress``).

Nothing is lost to a crash: the recording is on disk as it is written; at the next
start ``LiveMedia.recover`` ends the lives left open (which makes their replays), and
``sweep`` makes any replay a crash prevented (a live ended without one). Files a
killed ffmpeg left (a playlist without ENDLIST, temporary segments) are tidied by
``media.replay.finish_unterminated`` before anything reads them.

Who sees what: replays are private by default (the owner and admins); the owner may
make one public or for followers. The owner (or an admin) downloads, deletes, changes
it; only the owner posts it to the feed, as a video converted from the replay's MP4
(optionally trimmed). That video is its own copy: it stays when the replay is deleted,
by its owner or by the retention job (REPLAY_RETENTION_DAYS after the live, with a
notification REPLAY_WARNING_DAYS before).

Storage: a replay's ``size_bytes`` counts every file it keeps (HLS, MP4s, thumbnail);
``usage`` adds the person's videos. Over STORAGE_QUOTA_MB a person can neither go
live nor upload until they delete something.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from livelite import realtime
from livelite.extensions import db
from livelite.media import hls
from livelite.media import replay as replay_media
from livelite.media.manager import ffmpeg_path, run_blocking
from livelite.media.workqueue import WorkQueue
from livelite.models import (
    ChatMessage,
    Feed,
    FileStatus,
    Follow,
    Live,
    LiveStatus,
    Question,
    QuestionStatus,
    Replay,
    ReplayFeed,
    ReplayVisibility,
    User,
    Video,
    VideoKind,
    VideoStatus,
)
from livelite.models.base import utcnow
from livelite.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from livelite.services.settings import get_setting

log = logging.getLogger("livelite.replays")

PROGRESS_EVENT = "replay_progress"
PROGRESS_STEP = 5
TITLE_MAX = 100

# Why an MP4 could not be made, kept as a code and worded when shown.
FAILURES = {
    "disk_full": _l("The server ran out of disk space while making this file. Try again later."),
    "missing": _l("The recording of this feed is missing."),
    "empty": _l("Nothing was recorded on this feed."),
    "ffmpeg_failed": _l("The file could not be made from the recording. Try again."),
}


def storage():
    return current_app.extensions["livelite.storage"]


def _root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


# -- who may do what -------------------------------------------------------------------
def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def can_manage(replay: Replay, user) -> bool:
    """The owner or an admin: watch whatever its visibility, download, change, delete."""
    return _signed_in(user) and (user.id == replay.owner_id or user.is_admin)


def can_view(replay: Replay, viewer) -> bool:
    """Deleted replays: nobody. Otherwise its owner and admins always; a banned owner's
    replays nobody else; people the host banned or kicked from that live, no; private
    ones nobody else; public ones anyone; followers' ones the owner's followers."""
    if replay.is_deleted:
        return False
    if viewer is not None and getattr(viewer, "is_banned", False):
        return False
    if can_manage(replay, viewer):
        return True
    if replay.owner.is_banned or replay.visibility == ReplayVisibility.PRIVATE:
        return False
    if _signed_in(viewer) and _shut_out(replay, viewer):
        return False
    if replay.visibility == ReplayVisibility.PUBLIC:
        return True
    if not _signed_in(viewer):
        return False
    return db.session.get(Follow, {"follower_id": viewer.id, "followed_id": replay.owner_id}) is not None


def _shut_out(replay: Replay, viewer) -> bool:
    """Banned from the host's lives, or kicked from this one: not its replay either."""
    from livelite.services import room

    return room.is_banned_by_host(replay.owner_id, viewer.id) or room.is_kicked(replay.live, viewer.id)


def get_replay(replay_id: int) -> Replay:
    replay = db.session.get(Replay, replay_id)
    if replay is None or replay.is_deleted:
        raise NotFound(_("This replay does not exist, or it was deleted."))
    return replay


def get_visible(replay_id: int, viewer) -> Replay:
    """The replay if ``viewer`` may watch it; NotFound otherwise (never say it exists)."""
    replay = get_replay(replay_id)
    if not can_view(replay, viewer):
        raise NotFound(_("This replay does not exist, or it was deleted."))
    return replay


def get_managed(replay_id: int, user) -> Replay:
    """The replay for its owner or an admin; NotFound for anyone who may not even see
    it, PermissionDenied for a viewer of a public replay who tries to change it."""
    replay = get_visible(replay_id, user)
    if not can_manage(replay, user):
        raise PermissionDenied(_("Only the host of this live can do this."))
    return replay


def replay_of_live(live: Live) -> Replay | None:
    """The live's replay if it has one that is not deleted."""
    replay = db.session.scalar(select(Replay).where(Replay.live_id == live.id))
    return None if replay is None or replay.is_deleted else replay


def get_feed(replay: Replay, replay_feed_id: int) -> ReplayFeed:
    for feed in replay.feeds:
        if feed.id == replay_feed_id:
            return feed
    raise NotFound(_("This replay has no such feed."))


# -- making a replay ---------------------------------------------------------------------
def _timeline(feed: ReplayFeed) -> list[dict]:
    try:
        return json.loads(feed.timeline or "[]")
    except ValueError:
        return []


def _first_wall(timeline: list[dict]) -> float | None:
    return timeline[0]["wall_start"] if timeline else None


def create_for_live(live_id: int) -> Replay | None:
    """The live's replay, made once: None if the live is not over or recorded nothing.

    Idempotent (one row per live, the unique index decides between two callers); a
    replay deleted earlier is not made again (its tombstone is returned).
    """
    live = db.session.get(Live, live_id)
    if live is None or live.status != LiveStatus.ENDED:
        return None
    existing = db.session.scalar(select(Replay).where(Replay.live_id == live_id))
    if existing is not None:
        return existing
    recorded = []
    for feed in live.feeds:
        if not feed.media_dir:
            continue
        folder = _root() / feed.media_dir
        replay_media.finish_unterminated(folder)
        duration = hls.total_duration(folder)
        if duration > 0:
            recorded.append((feed, folder, duration))
    if not recorded:
        return None
    main = next((item for item in recorded if item[0].user_id == live.host_id), recorded[0])
    files_dir = storage().new_directory("replays")
    replay = Replay(
        live_id=live.id,
        owner_id=live.host_id,
        title=live.title,
        visibility=ReplayVisibility.PRIVATE,
        files_dir=files_dir,
        created_at=live.ended_at or utcnow(),
        composed_status=FileStatus.PENDING if len(recorded) > 1 else FileStatus.NONE,
    )
    main_timeline = replay_media.timeline(main[1])
    for feed, folder, duration in recorded:
        timeline = replay_media.timeline(folder)
        first = _first_wall(timeline)
        # Where the feed's first frame falls on the host's time line (the host's own
        # gaps are cut out of it, so a plain clock difference would drift).
        offset = (
            replay_media.replay_position(main_timeline, first) if first is not None and main_timeline else 0.0
        )
        replay.feeds.append(
            ReplayFeed(
                feed_id=feed.id,
                user_id=feed.user_id,
                is_main=feed is main[0],
                media_dir=feed.media_dir,
                offset_s=round(offset, 3),
                duration_s=round(duration, 3),
                size_bytes=replay_media.directory_size(folder),
                timeline=json.dumps(timeline),
                mp4_status=FileStatus.PENDING,
            )
        )
    replay.duration_s = round(main[2], 3)
    thumb = run_blocking(replay_media.thumbnail, main[1])
    if thumb:
        _save_thumbnail(replay, f"{files_dir}/thumb.jpg", thumb)
    _refresh_size(replay)
    db.session.add(replay)
    try:
        db.session.commit()
    except IntegrityError:  # another process made it first
        db.session.rollback()
        shutil.rmtree(_root() / files_dir, ignore_errors=True)  # our thumbnail, not theirs
        return db.session.scalar(select(Replay).where(Replay.live_id == live_id))
    _tell_owner(replay)
    queue = queue_of(current_app._get_current_object())
    for feed in replay.feeds:
        queue.submit(("mp4", feed.id))
    log.info(
        "replay %s of live %s: %s feed(s), %.1f s", replay.id, live.id, len(replay.feeds), replay.duration_s
    )
    return replay


def _save_thumbnail(replay: Replay, relative: str, jpeg: bytes) -> None:
    """A replay without a thumbnail is still a replay: a full disk (the live may have
    just ended for that) must not cost the recording its replay."""
    path = storage().path(relative)
    try:
        path.write_bytes(jpeg)
    except OSError as exc:
        path.unlink(missing_ok=True)
        log.warning("replay of live %s: no thumbnail (%s)", replay.live_id, exc)
        return
    replay.thumbnail_path = relative


def _tell_owner(replay: Replay) -> None:
    from livelite.services import notifications

    notifications.notify(
        [replay.owner_id],
        "replay_ready",
        f"replay:{replay.id}:ready",
        live=replay.live,
        data={"replay_id": replay.id, "title": replay.title},
    )


def sweep(limit: int = 100) -> int:
    """Replays a crash prevented: lives ended (within the retention period) with a
    feed and no replay row. Called at start and by the retention job; returns how many
    were made. Newest first: lives whose feeds recorded nothing stay without a replay
    and are looked at again each time, so they must not hide a recent crash's live."""
    days = get_setting("REPLAY_RETENTION_DAYS")
    recorded = select(Feed.id).where(Feed.live_id == Live.id, Feed.media_dir.is_not(None)).exists()
    query = (
        select(Live.id)
        .outerjoin(Replay, Replay.live_id == Live.id)
        .where(Live.status == LiveStatus.ENDED, Replay.id.is_(None), recorded)
        .order_by(Live.id.desc())
        .limit(limit)
    )
    if days:
        query = query.where(Live.ended_at > utcnow() - timedelta(days=days))
    made = 0
    for live_id in list(db.session.scalars(query)):
        if create_for_live(live_id) is not None:
            made += 1
    return made


def on_media_event(app: Flask, event: str, live_id: int, payload: dict) -> None:
    """LiveMedia listener: a live that ended gets its replay."""
    if event != "live_ended":
        return
    with app.app_context():
        try:
            create_for_live(live_id)
        except Exception:
            # The sweep at the next start (or the next retention pass) tries again.
            db.session.rollback()
            log.exception("live %s: the replay could not be made", live_id)


# -- MP4s ----------------------------------------------------------------------------------
def _refresh_size(replay: Replay) -> None:
    """The feeds' HLS (measured when the replay was made: it never changes) and what is
    in the replay's own folder now (MP4s, thumbnail, ffmpeg's log): every byte on disk."""
    total = sum(feed.size_bytes for feed in replay.feeds)
    if replay.files_dir:
        total += replay_media.directory_size(_root() / replay.files_dir)
    replay.size_bytes = total


def progress_payload(replay: Replay) -> dict:
    """What the owner's pages get over Socket.IO: every file's state."""
    return {
        "id": replay.id,
        "size_bytes": replay.size_bytes,
        "feeds": [
            {
                "id": feed.id,
                "status": feed.mp4_status.value,
                "progress": feed.mp4_progress,
                "error": failure_message(feed.mp4_error) if feed.mp4_status == FileStatus.FAILED else "",
            }
            for feed in replay.feeds
        ],
        "composed": {
            "status": replay.composed_status.value,
            "progress": replay.composed_progress,
            "error": failure_message(replay.composed_error)
            if replay.composed_status == FileStatus.FAILED
            else "",
        },
    }


def failure_message(code: str | None) -> str:
    return str(FAILURES.get(code or "", FAILURES["ffmpeg_failed"]))


def _emit(replay: Replay) -> None:
    realtime.emit_to_user(replay.owner_id, PROGRESS_EVENT, progress_payload(replay))


def _progress_saver(load, field: str):
    """on_progress for ffmpeg: saved and sent each PROGRESS_STEP percent."""
    state = {"saved": 0}

    def on_progress(percent: float) -> None:
        step = int(percent // PROGRESS_STEP) * PROGRESS_STEP
        if step <= state["saved"] or step >= 100:
            return
        state["saved"] = step
        row = load()
        if row is None:
            return
        setattr(row, field, step)
        db.session.commit()
        _emit(row if isinstance(row, Replay) else row.replay)

    return on_progress


def make_mp4(replay_feed_id: int, *, on_start=None, stopping=None) -> ReplayFeed | None:
    """Remux one feed's recording into its downloadable MP4 now (blocking: the queue's
    workers call this, tests call it directly). A failure is kept on the row with a
    code; a shutdown leaves it PENDING for the next start."""
    feed = db.session.get(ReplayFeed, replay_feed_id)
    if feed is None or feed.replay.is_deleted or feed.mp4_status == FileStatus.READY:
        return feed
    replay = feed.replay
    feed.mp4_status, feed.mp4_progress, feed.mp4_error = FileStatus.PROCESSING, 0, None
    db.session.commit()
    _emit(replay)
    relative = f"{replay.files_dir}/feed-{feed.feed_id}.mp4"
    target = storage().path(relative)
    log_path = storage().path(f"{replay.files_dir}/ffmpeg.log")
    try:
        replay_media.remux_feed(
            ffmpeg_path(current_app),
            _root() / feed.media_dir,
            target,
            log_path=log_path,
            on_progress=_progress_saver(lambda: db.session.get(ReplayFeed, replay_feed_id), "mp4_progress"),
            on_start=on_start,
        )
    except (replay_media.ReplayMediaError, OSError) as exc:
        return _file_failed(replay_feed_id, exc, stopping)
    feed = db.session.get(ReplayFeed, replay_feed_id)
    if feed is None or feed.replay.is_deleted:  # deleted while it was made
        target.unlink(missing_ok=True)
        return feed
    feed.mp4_status, feed.mp4_progress, feed.mp4_path = FileStatus.READY, 100, relative
    feed.mp4_size = target.stat().st_size
    replay = feed.replay
    _refresh_size(replay)
    db.session.commit()
    _emit(replay)
    if replay.composed_status == FileStatus.PENDING and all(
        f.mp4_status == FileStatus.READY for f in replay.feeds
    ):
        queue_of(current_app._get_current_object()).submit(("composed", replay.id))
    return feed


def _file_failed(replay_feed_id: int | None, exc: Exception, stopping, replay_id: int | None = None):
    """Keep why a file failed (or leave it PENDING when we are shutting down)."""
    db.session.rollback()
    code = getattr(exc, "code", None) or (
        "disk_full" if getattr(exc, "errno", None) == 28 else "ffmpeg_failed"
    )
    if replay_feed_id is not None:
        row = db.session.get(ReplayFeed, replay_feed_id)
        replay = row.replay if row is not None else None
    else:
        replay = row = db.session.get(Replay, replay_id)
    if row is None or replay.is_deleted:
        return row
    interrupted = stopping is not None and stopping()
    if replay_feed_id is not None:
        row.mp4_status = FileStatus.PENDING if interrupted else FileStatus.FAILED
        row.mp4_error = None if interrupted else code
    else:
        row.composed_status = FileStatus.PENDING if interrupted else FileStatus.FAILED
        row.composed_error = None if interrupted else code
    _refresh_size(replay)  # ffmpeg's log grew
    db.session.commit()
    if interrupted:
        log.info("replay %s: file interrupted by shutdown; made again at start", replay.id)
    else:
        log.warning("replay %s: file failed (%s): %s", replay.id, code, getattr(exc, "log_tail", exc))
        _emit(replay)
    return row


def make_composed(replay_id: int, *, on_start=None, stopping=None) -> Replay | None:
    """The host and guests side by side, from the feeds' MP4s (blocking)."""
    replay = db.session.get(Replay, replay_id)
    if replay is None or replay.is_deleted or replay.composed_status in (FileStatus.NONE, FileStatus.READY):
        return replay
    feeds = [
        f
        for f in sorted(replay.feeds, key=lambda f: (not f.is_main, f.id))
        if f.mp4_status == FileStatus.READY
    ]
    if len(feeds) < 2 or not feeds[0].is_main:
        replay.composed_status, replay.composed_error = FileStatus.FAILED, "missing"
        db.session.commit()
        _emit(replay)
        return replay
    replay.composed_status, replay.composed_progress, replay.composed_error = FileStatus.PROCESSING, 0, None
    db.session.commit()
    _emit(replay)
    relative = f"{replay.files_dir}/composed.mp4"
    target = storage().path(relative)
    inputs = [(storage().path(f.mp4_path), f.offset_s) for f in feeds]
    try:
        replay_media.compose_side_by_side(
            ffmpeg_path(current_app),
            inputs,
            target,
            duration_s=replay.duration_s,
            log_path=storage().path(f"{replay.files_dir}/ffmpeg.log"),
            on_progress=_progress_saver(lambda: db.session.get(Replay, replay_id), "composed_progress"),
            on_start=on_start,
        )
    except (replay_media.ReplayMediaError, OSError) as exc:
        return _file_failed(None, exc, stopping, replay_id=replay_id)
    replay = db.session.get(Replay, replay_id)
    if replay is None or replay.is_deleted:
        target.unlink(missing_ok=True)
        return replay
    replay.composed_status, replay.composed_progress, replay.composed_path = FileStatus.READY, 100, relative
    replay.composed_size = target.stat().st_size
    _refresh_size(replay)
    db.session.commit()
    _emit(replay)
    return replay


def retry(replay: Replay, user) -> int:
    """Queue the replay's failed files again (owner or admin); returns how many."""
    if not can_manage(replay, user):
        raise PermissionDenied(_("Only the host of this live can do this."))
    queue = queue_of(current_app._get_current_object())
    count = 0
    for feed in replay.feeds:
        if feed.mp4_status == FileStatus.FAILED:
            feed.mp4_status, feed.mp4_error, feed.mp4_progress = FileStatus.PENDING, None, 0
            count += 1
    if replay.composed_status == FileStatus.FAILED:
        replay.composed_status, replay.composed_error, replay.composed_progress = FileStatus.PENDING, None, 0
        count += 1
    db.session.commit()
    for key in pending_keys(replay):
        queue.submit(key)
    _emit(replay)
    return count


def pending_keys(replay: Replay | None = None) -> list[tuple[str, int]]:
    """The files still to make (all replays, or one), feeds first."""
    feeds = (
        select(ReplayFeed)
        .join(Replay)
        .where(
            Replay.deleted_at.is_(None),
            ReplayFeed.mp4_status.in_([FileStatus.PENDING, FileStatus.PROCESSING]),
        )
    )
    composed = select(Replay).where(
        Replay.deleted_at.is_(None), Replay.composed_status.in_([FileStatus.PENDING, FileStatus.PROCESSING])
    )
    if replay is not None:
        feeds = feeds.where(ReplayFeed.replay_id == replay.id)
        composed = composed.where(Replay.id == replay.id)
    keys = [("mp4", feed.id) for feed in db.session.scalars(feeds.order_by(ReplayFeed.id))]
    for row in db.session.scalars(composed.order_by(Replay.id)):
        if all(f.mp4_status == FileStatus.READY for f in row.feeds):
            keys.append(("composed", row.id))
    return keys


def make_pending() -> int:
    """Make every pending file now, in this thread (CLI, tests); returns how many ran.
    Stops at the first file that does not end READY (it would come back pending)."""
    done = 0
    while keys := pending_keys():
        kind, key = keys[0]
        row = make_mp4(key) if kind == "mp4" else make_composed(key)
        if row is None:
            return done
        done += 1
        if (row.mp4_status if kind == "mp4" else row.composed_status) != FileStatus.READY:
            return done
    return done


class ReplayQueue(WorkQueue):
    """The replays' MP4s of this process (media.workqueue)."""

    name = "replay"

    def handle(self, key) -> None:
        kind, row_id = key
        stopping = lambda: self.stopping  # noqa: E731 - read at failure time
        if kind == "mp4":
            make_mp4(row_id, on_start=self._started, stopping=stopping)
        else:
            make_composed(row_id, on_start=self._started, stopping=stopping)

    def pending(self) -> list:
        return pending_keys()


def queue_of(app: Flask) -> ReplayQueue:
    """The app's replay queue, made on first use (its owner is app.extensions)."""
    found = app.extensions.get("livelite.replays")
    if found is None:
        found = app.extensions["livelite.replays"] = ReplayQueue(app, int(app.config["REPLAY_WORKERS"]))
    return found


# -- changing and deleting -----------------------------------------------------------------
def update(replay: Replay, user, *, title: str | None = None, visibility: str | None = None) -> Replay:
    """Rename it or change who may watch it (owner or admin)."""
    if not can_manage(replay, user):
        raise PermissionDenied(_("Only the host of this live can do this."))
    errors = {}
    if title is not None:
        title = title.strip()
        if not title:
            errors["title"] = [_("Give your replay a title.")]
        elif len(title) > TITLE_MAX:
            errors["title"] = [_("Titles have at most %(n)s characters.", n=TITLE_MAX)]
    if visibility is not None:
        try:
            visibility = ReplayVisibility(visibility)
        except ValueError:
            errors["visibility"] = [_("Choose who can watch: only you, your followers or everyone.")]
    if errors:
        raise ValidationFailed(errors)
    if title is not None:
        replay.title = title
    if visibility is not None:
        replay.visibility = visibility
    db.session.commit()
    return replay


def _remove_files(replay: Replay) -> None:
    root = _root()
    for feed in replay.feeds:
        folder = storage().path(feed.media_dir)
        if folder is not None and folder != root:
            shutil.rmtree(folder, ignore_errors=True)
    live_dir = storage().path(f"lives/{replay.live_id}")
    if live_dir is not None:
        (live_dir / "preview.jpg").unlink(missing_ok=True)
        try:
            live_dir.rmdir()  # only if nothing else is left in it
        except OSError:
            pass
    if replay.files_dir:
        folder = storage().path(replay.files_dir)
        if folder is not None and folder != root:
            shutil.rmtree(folder, ignore_errors=True)


def delete(replay: Replay, user, *, reason: str = "owner") -> None:
    """Delete the replay's files and keep a tombstone (owner or admin). Videos posted
    from it stay: each is its own converted copy."""
    if not can_manage(replay, user):
        raise PermissionDenied(_("Only the host of this live can do this."))
    _delete(replay, "admin" if user.id != replay.owner_id else reason)


def posted_videos_count(replay: Replay) -> int:
    """Videos posted to the feed from this replay (they stay when it is deleted)."""
    return db.session.scalar(select(func.count()).select_from(Video).where(Video.replay_id == replay.id)) or 0


def _delete(replay: Replay, reason: str) -> None:
    replay.deleted_at = utcnow()
    replay.deleted_reason = reason
    replay.size_bytes = 0
    live = replay.live
    if live.preview_path:
        live.preview_path = None
    db.session.commit()
    _remove_files(replay)
    log.info("replay %s deleted (%s)", replay.id, reason)


# -- retention -------------------------------------------------------------------------------
def expires_at(replay: Replay) -> datetime | None:
    """When the retention job deletes it (None: kept until deleted)."""
    days = get_setting("REPLAY_RETENTION_DAYS")
    return replay.created_at + timedelta(days=days) if days else None


def expire(now: datetime | None = None) -> tuple[int, int]:
    """The retention job: warn owners REPLAY_WARNING_DAYS before, delete what is due.
    Idempotent (a warning once per replay, keyed); returns (warned, deleted)."""
    from livelite.services import notifications

    now = now or utcnow()
    days = get_setting("REPLAY_RETENTION_DAYS")
    if not days:
        return 0, 0
    warning = min(get_setting("REPLAY_WARNING_DAYS"), days)
    due = list(
        db.session.scalars(
            select(Replay)
            .where(Replay.deleted_at.is_(None), Replay.created_at <= now - timedelta(days=days))
            .order_by(Replay.id)
            .limit(200)
        )
    )
    for replay in due:
        _delete(replay, "expired")
    warned = 0
    if warning:
        soon = list(
            db.session.scalars(
                select(Replay)
                .where(
                    Replay.deleted_at.is_(None),
                    Replay.expiry_warned_at.is_(None),
                    Replay.created_at <= now - timedelta(days=days - warning),
                )
                .order_by(Replay.id)
                .limit(500)
            )
        )
        for replay in soon:
            notifications.notify(
                [replay.owner_id],
                "replay_expiring",
                f"replay:{replay.id}:expiring",
                live=replay.live,
                data={
                    "replay_id": replay.id,
                    "title": replay.title,
                    "expires_at": expires_at(replay).isoformat(),
                },
            )
            replay.expiry_warned_at = now
            warned += 1
        db.session.commit()
    return warned, len(due)


# -- storage ---------------------------------------------------------------------------------
@dataclass
class Usage:
    replays_bytes: int
    videos_bytes: int
    quota_bytes: int | None  # None: no limit

    @property
    def total_bytes(self) -> int:
        return self.replays_bytes + self.videos_bytes

    @property
    def over(self) -> bool:
        return self.quota_bytes is not None and self.total_bytes >= self.quota_bytes

    @property
    def percent(self) -> int | None:
        if not self.quota_bytes:
            return None
        return min(100, round(100 * self.total_bytes / self.quota_bytes))


def _quota_bytes() -> int | None:
    quota = get_setting("STORAGE_QUOTA_MB")
    return quota * 1024 * 1024 if quota else None


def _video_bytes():
    """Bytes of videos: the converted file, and the upload while it is being converted."""
    return func.coalesce(func.sum(Video.size_bytes), 0)


def usage(user: User) -> Usage:
    replays_bytes = db.session.scalar(
        select(func.coalesce(func.sum(Replay.size_bytes), 0)).where(
            Replay.owner_id == user.id, Replay.deleted_at.is_(None)
        )
    )
    videos_bytes = db.session.scalar(select(_video_bytes()).where(Video.creator_id == user.id))
    return Usage(int(replays_bytes), int(videos_bytes), _quota_bytes())


def check_quota(user: User) -> None:
    """Conflict when the person's replays and videos fill their quota."""
    found = usage(user)
    if found.over:
        raise Conflict(
            _(
                "Your replays and videos use all of your %(quota)s of storage. "
                "Delete some in Settings → Replays to go live or upload again.",
                quota=format_bytes(found.quota_bytes),
            )
        )


def format_bytes(n_bytes: int | None) -> str:
    from flask_babel import format_decimal

    n_bytes = n_bytes or 0
    if n_bytes >= 1024**3:
        return _("%(n)s GB", n=format_decimal(round(n_bytes / 1024**3, 1)))
    if n_bytes >= 1024**2:
        return _("%(n)s MB", n=format_decimal(round(n_bytes / 1024**2, 1)))
    return _("%(n)s KB", n=format_decimal(max(0, round(n_bytes / 1024))))


@dataclass
class UserStorage:
    user: User
    replays: int
    replays_bytes: int
    videos_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.replays_bytes + self.videos_bytes


def site_storage(limit: int = 100) -> dict:
    """For admins: the totals, the disk, and the people who use the most."""
    replay_rows = db.session.execute(
        select(Replay.owner_id, func.count(), func.coalesce(func.sum(Replay.size_bytes), 0))
        .where(Replay.deleted_at.is_(None))
        .group_by(Replay.owner_id)
    ).all()
    video_rows = db.session.execute(select(Video.creator_id, _video_bytes()).group_by(Video.creator_id)).all()
    per_user: dict[int, list[int]] = {}
    for owner_id, count, size in replay_rows:
        per_user.setdefault(owner_id, [0, 0, 0])[:2] = [int(count), int(size)]
    for creator_id, size in video_rows:
        per_user.setdefault(creator_id, [0, 0, 0])[2] = int(size)
    top_ids = sorted(per_user, key=lambda uid: -(per_user[uid][1] + per_user[uid][2]))[:limit]
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(top_ids)))} if top_ids else {}
    people = [UserStorage(users[uid], *per_user[uid]) for uid in top_ids if uid in users]
    root = _root()
    root.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(root)
    return {
        "replays": sum(int(count) for _, count, _ in replay_rows),
        "replays_bytes": sum(int(size) for _, _, size in replay_rows),
        "videos_bytes": sum(int(size) for _, size in video_rows),
        "disk_total_bytes": disk.total,
        "disk_free_bytes": disk.free,
        "quota_bytes": _quota_bytes(),
        "people": people,
    }


# -- lists and the player ----------------------------------------------------------------------
def replays_of(owner: User, *, page: int = 1, per_page: int = 20):
    """The owner's replays (not deleted), newest first."""
    query = (
        select(Replay)
        .where(Replay.owner_id == owner.id, Replay.deleted_at.is_(None))
        .order_by(Replay.created_at.desc(), Replay.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def visible_replays_of(owner: User, viewer, limit: int = 12) -> list[Replay]:
    """What a profile shows: the replays of ``owner`` that ``viewer`` may watch."""
    rows = db.session.scalars(
        select(Replay)
        .where(Replay.owner_id == owner.id, Replay.deleted_at.is_(None))
        .order_by(Replay.created_at.desc(), Replay.id.desc())
        .limit(200)
    )
    return [replay for replay in rows if can_view(replay, viewer)][:limit]


def position_ms(replay: Replay, offset_ms: int) -> int:
    """Where something that happened ``offset_ms`` after the live started sits on the
    replay (the main feed's time line, gaps between its runs cut out)."""
    return _placer(replay)(offset_ms)


def _placer(replay: Replay):
    """``position_ms`` for many offsets: the time line is read once."""
    live = replay.live
    main = replay.main_feed
    timeline = _timeline(main) if main is not None else []
    if live.started_at is None or not timeline:
        return lambda offset_ms: max(0, offset_ms)
    started, duration = live.started_at.timestamp(), replay.duration_s

    def place(offset_ms: int) -> int:
        seconds = replay_media.replay_position(timeline, started + offset_ms / 1000)
        return round(min(seconds, duration) * 1000)

    return place


def timeline_payload(replay: Replay) -> dict:
    """The chat and the Q&A placed on the replay's time line, for the player.

    The objects are docs/realtime.md's ``message`` and ``question`` with ``t`` (and
    ``answered_t``), milliseconds into the replay. Messages removed by moderators
    (deleted, or their author muted) stay removed; anonymous questions keep their
    author hidden; dismissed questions are left out. Answered questions are the
    chapters, in the order they were answered.
    """
    from livelite.services import chat, questions

    live = replay.live
    place = _placer(replay)
    # Authors loaded in one query, not one lazy load per message (bench/replays.py).
    messages = list(
        db.session.scalars(
            select(ChatMessage)
            .options(selectinload(ChatMessage.user))
            .where(ChatMessage.live_id == live.id, ChatMessage.removed_at.is_(None))
            .order_by(ChatMessage.id)
        )
    )
    chat_items = []
    for message, payload in zip(messages, chat.payloads(live, messages), strict=True):
        payload["t"] = place(message.offset_ms)
        chat_items.append(payload)
    question_items = []
    for question in db.session.scalars(
        select(Question)
        .options(selectinload(Question.user))
        .where(Question.live_id == live.id, Question.status != QuestionStatus.DISMISSED)
        .order_by(Question.id)
    ):
        payload = questions.question_payload(question)
        payload["t"] = place(question.offset_ms)
        answered = question.status == QuestionStatus.ANSWERED and question.answered_offset_ms is not None
        payload["answered_t"] = place(question.answered_offset_ms) if answered else None
        question_items.append(payload)
    chapters = sorted(
        (
            {"t": q["answered_t"], "question_id": q["id"], "title": q["body"]}
            for q in question_items
            if q["answered_t"] is not None
        ),
        key=lambda c: (c["t"], c["question_id"]),
    )
    return {
        "duration_ms": int(replay.duration_s * 1000),
        "chat": chat_items,
        "questions": question_items,
        "chapters": chapters,
    }


# -- posting to the feed -------------------------------------------------------------------------
def post_to_feed(
    replay: Replay,
    user,
    *,
    title: str = "",
    caption: str = "",
    trim_start: float | None = None,
    trim_end: float | None = None,
    composed: bool = False,
) -> Video:
    """Post the replay (or part of it) as a video in the feed: converted in the
    background from the replay's MP4 into the video's own file. Only the owner."""
    from livelite.services import videos

    if not _signed_in(user) or user.id != replay.owner_id:
        raise PermissionDenied(_("Only the host of this live can post its replay."))
    decision = videos.may_post(user)
    if not decision:
        raise PermissionDenied(" ".join(decision.reasons))
    check_quota(user)
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if len(title) > TITLE_MAX:
        errors["title"] = [_("Titles have at most %(n)s characters.", n=TITLE_MAX)]
    try:
        caption = videos._clean_caption(caption)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if composed:
        if replay.composed_status != FileStatus.READY:
            raise Conflict(_("The video with your guests is not ready yet. Try again in a few minutes."))
        source, width, height = replay.composed_path, None, None
    else:
        main = replay.main_feed
        if main is None or main.mp4_status != FileStatus.READY:
            raise Conflict(_("This replay’s video is still being prepared. Try again in a few minutes."))
        source, width, height = main.mp4_path, None, None
    duration = replay.duration_s
    start = 0.0 if trim_start in (None, "") else _seconds(trim_start, "trim_start", errors)
    end = duration if trim_end in (None, "") else _seconds(trim_end, "trim_end", errors)
    if start is not None and end is not None and "trim_start" not in errors and "trim_end" not in errors:
        if start < 0 or start >= duration:
            errors["trim_start"] = [_("Start between 0 and %(max)s.", max=clock(duration))]
        elif end <= start or end > duration + 0.5:
            errors["trim_end"] = [_("End after the start and at most at %(max)s.", max=clock(duration))]
        else:
            end = min(end, duration)
            length = end - start
            if length < get_setting("VIDEO_MIN_SECONDS"):
                errors["trim_end"] = [
                    _("Keep at least %(min)s.", min=videos.duration_text(get_setting("VIDEO_MIN_SECONDS")))
                ]
            elif length > get_setting("VIDEO_MAX_SECONDS") + 0.5:
                errors["trim_end"] = [
                    _(
                        "Videos in the feed last at most %(max)s; this part lasts %(have)s. Set a start and an end to keep a part of it.",
                        max=videos.duration_text(get_setting("VIDEO_MAX_SECONDS")),
                        have=videos.duration_text(length),
                    )
                ]
    if errors:
        raise ValidationFailed(errors)
    path = storage().path(source)
    if path is None or not path.is_file():
        raise Conflict(_("This replay’s video file is missing. Make it again from your replays page."))
    trimmed = start > 0 or end < duration - 0.05
    video = Video(
        creator_id=user.id,
        kind=VideoKind.VIDEO,
        caption=caption,
        title=title or replay.title,
        status=VideoStatus.PROCESSING,
        progress=0,
        error="",
        duration_s=round(end - start, 3),
        width=width,
        height=height,
        size_bytes=0,
        source_path=source,
        source_shared=True,
        replay_id=replay.id,
        trim_start_s=round(start, 3) if trimmed else None,
        trim_end_s=round(end, 3) if trimmed else None,
    )
    db.session.add(video)
    db.session.commit()
    videos.queue_of(current_app._get_current_object()).submit(video.id)
    return video


def _seconds(raw, field: str, errors: dict) -> float | None:
    """Seconds from a number or a clock ("1:05", "0:01:05")."""
    try:
        if isinstance(raw, (int, float)):
            return float(raw)
        text = str(raw).strip()
        parts = [float(part) for part in text.split(":")]
        if len(parts) > 3 or any(part < 0 for part in parts):
            raise ValueError
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + part
        return seconds
    except (TypeError, ValueError):
        errors[field] = [_("Enter a time like 1:05 or a number of seconds.")]
        return None


def clock(seconds: float) -> str:
    """1:05, 1:02:05 — how players show a time."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
