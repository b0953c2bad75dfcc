"""Short videos and stories: upload, checks, background conversion, expiry.

Who may post: anyone logged in whose account is not banned. There is no extra age
rule: every account already passed the site's MIN_AGE at registration, and a short
video reaches only the people who choose to watch it, like a profile picture or a
bio, unlike going live (an audience in real time, LIVE_MIN_AGE) or gifts (money,
GIFT_MIN_AGE). Linking an event is limited to the poster's own upcoming events.

An upload is checked before anything is kept: size (VIDEO_MAX_MB, streamed to disk
and stopped at the limit), type (by content, never by name), a first and a last
frame that decode (OpenCV), duration (VIDEO_MIN_SECONDS..VIDEO_MAX_SECONDS, or
STORY_MAX_SECONDS for a story) and dimensions. A refusal leaves no row and no file.

An accepted video is a PROCESSING row with its upload kept as ``source_path``; the
conversion (``process``) runs in the background queue (VideoQueue), one or two at a
time, and reports progress to the row and to the uploader's pages over Socket.IO
(``video_progress``). At start the server queues what a previous process left
PROCESSING: the source is deleted only once the row is READY or FAILED.

A photo story is re-encoded as a JPEG at once and is READY immediately. Stories
expire 24 h after they are posted: hidden everywhere from then on, and deleted with
their files by the ``expire_stories`` job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from livelite import realtime
from livelite.extensions import db
from livelite.media import images, transcode
from livelite.media.manager import ffmpeg_path, run_blocking
from livelite.media.storage import FileTooLarge
from livelite.media.workqueue import WorkQueue
from livelite.models import Event, EventStatus, Follow, MediaType, User, Video, VideoKind, VideoStatus
from livelite.models.base import utcnow
from livelite.services import events as events_service
from livelite.services.errors import NotFound, PermissionDenied, ValidationFailed
from livelite.services.policy import Decision
from livelite.services.settings import get_setting

log = logging.getLogger("livelite.videos")

CAPTION_MAX = 2200
STORY_LIFETIME = timedelta(hours=24)
# Beyond 8K on a side, or fewer than 16 pixels, is not a video anyone filmed.
MAX_SIDE = 7680
MIN_SIDE = 16
MAX_PIXELS = 7680 * 4320
PHOTO_MAX_SIDE = 1440
PHOTO_THUMB_WIDTH = 480
# Progress is saved and sent each time it passes a multiple of this (percent).
PROGRESS_STEP = 5
PROGRESS_EVENT = "video_progress"
UPLOAD_FIELD = "file"

# Why a conversion failed, kept as a code on the row and worded when shown.
FAILURES = {
    "convert_failed": _l(
        "We could not convert this video. Export it again from your phone or editor, then upload it."
    ),
    "source_missing": _l("The uploaded file was lost before it could be converted. Upload it again."),
    "result_unreadable": _l("The converted video could not be read back. Upload it again."),
}


def storage():
    return current_app.extensions["livelite.storage"]


# -- rules -------------------------------------------------------------------------
def may_post(user: User | None) -> Decision:
    """Logged in and not banned (see the module docstring for why no age rule)."""
    if user is not None and getattr(user, "is_banned", False):
        return Decision(False, [_("Your account is banned.")])
    if user is None or not getattr(user, "is_authenticated", False):
        return Decision(False, [_("Log in to post videos.")])
    return Decision(True)


def is_expired(video: Video, now: datetime | None = None) -> bool:
    return video.expires_at is not None and video.expires_at <= (now or utcnow())


def can_view(video: Video, viewer: User | None, now: datetime | None = None) -> bool:
    """Ready videos are public; processing or failed ones only for their creator;
    an expired story for nobody; a banned creator's videos for admins only."""
    if is_expired(video, now):
        return False
    signed_in = viewer is not None and getattr(viewer, "is_authenticated", False)
    is_creator = signed_in and viewer.id == video.creator_id
    if video.status != VideoStatus.READY:
        return is_creator
    if video.creator.is_banned:
        return signed_in and viewer.is_admin
    return True


def can_delete(video: Video, user: User | None) -> bool:
    """The creator, or an admin."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.id == video.creator_id or user.is_admin


def get_video(video_id: int) -> Video:
    video = db.session.get(Video, video_id)
    if video is None:
        raise NotFound(_("This video does not exist, or it was removed."))
    return video


def get_visible(video_id: int, viewer: User | None, now: datetime | None = None) -> Video:
    """The video if ``viewer`` may see it; NotFound otherwise (never say it exists)."""
    video = get_video(video_id)
    if not can_view(video, viewer, now):
        raise NotFound(_("This video does not exist, or it was removed."))
    return video


def get_deletable(video_id: int, user: User | None) -> Video:
    """The video for a delete request: NotFound for whoever may neither see nor delete
    it (so its existence is not told), the row otherwise (delete_video decides)."""
    video = get_video(video_id)
    if not (can_view(video, user) or can_delete(video, user)):
        raise NotFound(_("This video does not exist, or it was removed."))
    return video


def _event_open(event: Event, now: datetime) -> bool:
    return event.status == EventStatus.SCHEDULED and (
        event.starts_at + timedelta(minutes=event.duration_minutes) > now
    )


def linkable_events(user: User, now: datetime | None = None) -> list[Event]:
    """The user's own events a video may point to: scheduled and not over yet."""
    now = now or utcnow()
    return [e for e in events_service.upcoming_for(user, now, limit=50) if _event_open(e, now)]


def _check_event(user: User, event_id, now: datetime) -> Event | None:
    if event_id in (None, "", 0, "0"):
        return None
    try:
        event = db.session.get(Event, int(event_id))
    except (TypeError, ValueError):
        event = None
    if event is None or event.creator_id != user.id:
        raise ValidationFailed({"event_id": [_("Choose one of your own upcoming events.")]})
    if event.is_cancelled:
        raise ValidationFailed({"event_id": [_("This event is cancelled.")]})
    if not _event_open(event, now):
        raise ValidationFailed({"event_id": [_("This event is over.")]})
    return event


def _clean_caption(caption: str | None) -> str:
    caption = (caption or "").replace("\r\n", "\n").strip()
    if len(caption) > CAPTION_MAX:
        raise ValidationFailed({"caption": [_("Captions have at most %(n)s characters.", n=CAPTION_MAX)]})
    return caption


def format_mb(n_bytes: int) -> str:
    return _("%(n)s MB", n=format_decimal(round(n_bytes / (1024 * 1024), 1)))


def duration_text(seconds: float) -> str:
    """A duration as people say it: 45 s, 2 min 5 s, 10 min."""
    seconds = round(seconds)
    if seconds >= 60 and seconds % 60 == 0:
        return _("%(n)s min", n=seconds // 60)
    if seconds >= 60:
        return _("%(m)s min %(s)s s", m=seconds // 60, s=seconds % 60)
    return _("%(n)s s", n=seconds)


def max_upload_bytes() -> int:
    """The largest file any upload form accepts (video limit or photo limit)."""
    return max(get_setting("VIDEO_MAX_MB") * 1024 * 1024, current_app.config["STORY_PHOTO_MAX_BYTES"])


def limits() -> dict:
    """The limits as pages and the API show them."""
    return {
        "min_seconds": get_setting("VIDEO_MIN_SECONDS"),
        "max_seconds": get_setting("VIDEO_MAX_SECONDS"),
        "story_max_seconds": get_setting("STORY_MAX_SECONDS"),
        "max_bytes": get_setting("VIDEO_MAX_MB") * 1024 * 1024,
        "photo_max_bytes": current_app.config["STORY_PHOTO_MAX_BYTES"],
    }


# -- upload ------------------------------------------------------------------------
def upload(
    user: User,
    stream,
    *,
    kind: str | VideoKind = VideoKind.VIDEO,
    caption: str = "",
    event_id: int | str | None = None,
    now: datetime | None = None,
) -> Video:
    """Check and keep an upload (a readable binary file object); returns the new row.

    A video becomes PROCESSING and is queued for conversion; a photo story is READY
    at once. Raises PermissionDenied or ValidationFailed, leaving nothing behind.
    """
    now = now or utcnow()
    decision = may_post(user)
    if not decision:
        raise PermissionDenied(" ".join(decision.reasons))
    try:
        kind = VideoKind(kind)
    except ValueError:
        raise ValidationFailed({"kind": [_("Choose a video or a story.")]}) from None
    caption = _clean_caption(caption)
    event = _check_event(user, event_id, now)
    from livelite.services import replays

    replays.check_quota(user)
    if stream is None:
        raise ValidationFailed({UPLOAD_FIELD: [_("Choose a file to upload.")]})

    max_bytes = get_setting("VIDEO_MAX_MB") * 1024 * 1024
    if kind == VideoKind.STORY:
        max_bytes = max(max_bytes, current_app.config["STORY_PHOTO_MAX_BYTES"])
    try:
        source = run_blocking(_save_stream, storage(), stream, max_bytes)
    except FileTooLarge:
        raise ValidationFailed(
            {UPLOAD_FIELD: [_("This file is too large: %(max)s at most.", max=format_mb(max_bytes))]}
        ) from None
    try:
        video = _accept(user, source, kind=kind, caption=caption, event=event, now=now)
    except BaseException:
        storage().delete(source)
        raise
    if video.status == VideoStatus.PROCESSING:
        queue_of(current_app._get_current_object()).submit(video.id)
    return video


def _save_stream(store, stream, max_bytes: int) -> str:
    return store.save_stream("uploads", "source", stream, max_bytes=max_bytes)


def _refuse(message: str):
    raise ValidationFailed({UPLOAD_FIELD: [message]})


def _accept(user: User, source: str, *, kind: VideoKind, caption: str, event, now: datetime) -> Video:
    path = storage().path(source)
    size = path.stat().st_size
    if size == 0:
        _refuse(_("The file is empty."))
    with path.open("rb") as handle:
        head = handle.read(64)
    detected = transcode.sniff(head)
    expires_at = now + STORY_LIFETIME if kind == VideoKind.STORY else None
    if detected.startswith("image:"):
        if kind == VideoKind.VIDEO:
            _refuse(_("This is a picture, not a video. Pictures can be posted as a story."))
        return _accept_photo(user, source, path, detected, caption=caption, event=event, now=now)

    if size > get_setting("VIDEO_MAX_MB") * 1024 * 1024:
        _refuse(
            _(
                "This video is too large: %(max)s at most.",
                max=format_mb(get_setting("VIDEO_MAX_MB") * 1024 * 1024),
            )
        )
    probe = run_blocking(transcode.probe, path)
    if not probe.ok:
        if detected == "video":
            kinds = run_blocking(transcode.stream_kinds, ffmpeg_path(current_app), path)
            if "video" not in kinds and "audio" in kinds:
                _refuse(_("This file has sound but no picture. Upload a video."))
            _refuse(_("This video is damaged or incomplete (maybe the upload was cut off). Upload it again."))
        _refuse(
            _("This file is not a video we can read. Upload an MP4, MOV or WebM video.")
            if kind == VideoKind.VIDEO
            else _(
                "This file is not a video or a picture we can read. Use an MP4, MOV or WebM video, or a JPEG, PNG or WebP picture."
            )
        )
    if not probe.end_ok:
        _refuse(_("This video is damaged or incomplete (maybe the upload was cut off). Upload it again."))
    width, height = probe.width, probe.height
    if max(width, height) > MAX_SIDE or min(width, height) < MIN_SIDE or width * height > MAX_PIXELS:
        _refuse(
            _(
                "This video is %(w)s×%(h)s pixels. Videos can be from %(min)s to %(max)s pixels on a side.",
                w=width,
                h=height,
                min=MIN_SIDE,
                max=MAX_SIDE,
            )
        )
    duration = probe.duration_s
    if duration is None:
        duration = transcode.media_duration(ffmpeg_path(current_app), path)
    if not duration or duration <= 0:
        _refuse(_("This video is damaged or incomplete (maybe the upload was cut off). Upload it again."))
    min_s = get_setting("VIDEO_MIN_SECONDS")
    max_s = get_setting("STORY_MAX_SECONDS") if kind == VideoKind.STORY else get_setting("VIDEO_MAX_SECONDS")
    if duration < min_s:
        _refuse(
            _(
                "This video is too short (%(have)s). Videos last at least %(min)s.",
                have=_("%(n)s s", n=format_decimal(round(duration, 1))),
                min=duration_text(min_s),
            )
        )
    # Containers round; half a second over the limit is still the clip people meant.
    if duration > max_s + 0.5:
        message = (
            _(
                "Stories last at most %(max)s; this video lasts %(have)s.",
                max=duration_text(max_s),
                have=duration_text(duration),
            )
            if kind == VideoKind.STORY
            else _(
                "Videos last at most %(max)s; this one lasts %(have)s.",
                max=duration_text(max_s),
                have=duration_text(duration),
            )
        )
        _refuse(message)
    video = Video(
        creator_id=user.id,
        kind=kind,
        media_type=MediaType.VIDEO,
        caption=caption,
        event_id=event.id if event else None,
        status=VideoStatus.PROCESSING,
        progress=0,
        error="",
        duration_s=round(duration, 3),
        width=width,
        height=height,
        size_bytes=size,
        source_path=source,
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(video)
    db.session.commit()
    return video


def _accept_photo(user: User, source: str, path: Path, detected: str, *, caption, event, now) -> Video:
    """A photo story: decoded and re-encoded (no metadata), READY at once."""
    config = current_app.config
    if detected not in ("image:jpeg", "image:png", "image:webp"):
        _refuse(_("This picture format is not supported. Use a JPEG, PNG or WebP picture."))
    max_bytes = config["STORY_PHOTO_MAX_BYTES"]
    if path.stat().st_size > max_bytes:
        _refuse(_("This picture is too large: %(max)s at most.", max=format_mb(max_bytes)))
    image = images.decode_image(
        path.read_bytes(), field=UPLOAD_FIELD, max_bytes=max_bytes, max_pixels=config["AVATAR_MAX_PIXELS"]
    )
    photo = images.fit_jpeg(image, PHOTO_MAX_SIDE)
    thumb = images.fit_jpeg(image, PHOTO_THUMB_WIDTH)
    relative = storage().save("stories", "photo.jpg", photo)
    try:
        thumb_path = str(Path(relative).parent / "thumb.jpg")
        storage().path(thumb_path).write_bytes(thumb)
        height, width = image.shape[:2]
        scale = min(1.0, PHOTO_MAX_SIDE / max(height, width))
        video = Video(
            creator_id=user.id,
            kind=VideoKind.STORY,
            media_type=MediaType.PHOTO,
            caption=caption,
            event_id=event.id if event else None,
            status=VideoStatus.READY,
            progress=100,
            error="",
            width=round(width * scale),
            height=round(height * scale),
            size_bytes=len(photo),
            file_path=relative,
            thumbnail_path=thumb_path,
            created_at=now,
            ready_at=now,
            expires_at=now + STORY_LIFETIME,
        )
        db.session.add(video)
        db.session.commit()
    except BaseException:
        storage().delete(relative)
        raise
    storage().delete(source)
    return video


# -- conversion --------------------------------------------------------------------
def _emit(video: Video) -> None:
    realtime.emit_to_user(video.creator_id, PROGRESS_EVENT, progress_payload(video))


def progress_payload(video: Video) -> dict:
    """What the uploader's pages get over Socket.IO (no URLs: there may be no request)."""
    return {
        "id": video.id,
        "status": video.status.value,
        "progress": video.progress,
        "error": error_message(video),
    }


def error_message(video: Video) -> str:
    if video.status != VideoStatus.FAILED:
        return ""
    return str(FAILURES.get(video.error, FAILURES["convert_failed"]))


def _tell_creator(video: Video) -> None:
    """A notification (and a push) when a conversion ends: the uploader has often left
    the page by then. Keyed by the video, so a retried conversion tells once."""
    from livelite.services import notifications

    ready = video.status == VideoStatus.READY
    notifications.notify(
        [video.creator_id],
        "video_ready" if ready else "video_failed",
        f"video:{video.id}:{video.status.value}",
        data={"video_id": video.id, "caption": video.caption[:80], "story": video.kind == VideoKind.STORY},
    )


def _drop_source(video: Video, source: str | None) -> None:
    """Delete an upload once converted; a replay's MP4 (``source_shared``) is not ours."""
    if not video.source_shared:
        storage().delete(source)


def _fail(video: Video, code: str) -> Video:
    source = video.source_path
    video.status = VideoStatus.FAILED
    video.error = code
    video.source_path = None
    db.session.commit()
    _drop_source(video, source)
    _emit(video)
    _tell_creator(video)
    return video


def process(video_id: int, *, on_start=None, stopping=None) -> Video | None:
    """Convert one PROCESSING video now (blocking; the queue's workers call this, and
    tests call it directly). Returns the row, or None if it is gone.

    ``on_start(process)`` hands ffmpeg to the queue; if ``stopping()`` is true when
    ffmpeg ends badly (killed at shutdown), the row stays PROCESSING for the next start.
    """
    video = db.session.get(Video, video_id)
    if video is None or video.status != VideoStatus.PROCESSING:
        return video
    source = storage().path(video.source_path) if video.source_path else None
    if source is None or not source.is_file():
        log.warning("video %s: source %s is missing", video.id, video.source_path)
        return _fail(video, "source_missing")
    out_dir = storage().new_directory("videos")
    target = storage().path(f"{out_dir}/video.mp4")
    log_path = storage().path(f"{out_dir}/ffmpeg.log")
    duration = video.duration_s or 0.0
    state = {"saved": video.progress or 0}
    if video.progress:
        video.progress = 0
        db.session.commit()

    def on_progress(percent: float) -> None:
        step = int(percent // PROGRESS_STEP) * PROGRESS_STEP
        if step <= state["saved"] or step >= 100:
            return
        state["saved"] = step
        row = db.session.get(Video, video_id)
        if row is None:
            return
        row.progress = step
        db.session.commit()
        _emit(row)

    try:
        transcode.convert(
            ffmpeg_path(current_app),
            source,
            target,
            duration_s=duration,
            log_path=log_path,
            on_progress=on_progress,
            on_start=on_start,
            start_s=video.trim_start_s,
            length_s=duration if video.trim_start_s is not None else None,
        )
        probe = run_blocking(transcode.probe, target)
        if not probe.ok:
            raise transcode.ConversionFailed("unreadable result")
        thumb = run_blocking(transcode.thumbnail, target, probe.duration_s)
    except transcode.ConversionFailed as exc:
        storage().delete(f"{out_dir}/video.mp4")
        video = db.session.get(Video, video_id)
        if stopping is not None and stopping():
            log.info("video %s: conversion interrupted by shutdown; queued again at start", video_id)
            return video
        log.warning("video %s: conversion failed (%s): %s", video_id, exc, exc.log_tail)
        if video is None:
            return None
        return _fail(video, "result_unreadable" if str(exc) == "unreadable result" else "convert_failed")
    video = db.session.get(Video, video_id)
    if video is None:  # deleted while it was converting
        storage().delete(f"{out_dir}/video.mp4")
        return None
    thumb_path = None
    if thumb:
        thumb_path = f"{out_dir}/thumb.jpg"
        storage().path(thumb_path).write_bytes(thumb)
    log_path.unlink(missing_ok=True)
    source_rel = video.source_path
    video.file_path = f"{out_dir}/video.mp4"
    video.thumbnail_path = thumb_path
    video.size_bytes = target.stat().st_size
    video.width, video.height = probe.width, probe.height
    if probe.duration_s:
        video.duration_s = round(probe.duration_s, 3)
    video.status = VideoStatus.READY
    video.progress = 100
    video.ready_at = utcnow()
    video.source_path = None
    db.session.commit()
    _drop_source(video, source_rel)
    _emit(video)
    _tell_creator(video)
    log.info("video %s ready (%.1f s, %s bytes)", video.id, video.duration_s or 0, video.size_bytes)
    return video


def pending_ids() -> list[int]:
    """Videos still PROCESSING, oldest first (queued again at start)."""
    return list(
        db.session.scalars(
            select(Video.id)
            .where(Video.status == VideoStatus.PROCESSING)
            .order_by(Video.created_at, Video.id)
        )
    )


class VideoQueue(WorkQueue):
    """The conversions of this process (media.workqueue): at most VIDEO_WORKERS
    ffmpeg at once; at start, what a previous process left PROCESSING is queued again."""

    name = "video"

    def handle(self, video_id: int) -> None:
        process(video_id, on_start=self._started, stopping=lambda: self.stopping)

    def pending(self) -> list[int]:
        return pending_ids()


def queue_of(app: Flask) -> VideoQueue:
    """The app's queue, made on first use (its owner is app.extensions)."""
    found = app.extensions.get("livelite.videos")
    if found is None:
        found = app.extensions["livelite.videos"] = VideoQueue(app, int(app.config["VIDEO_WORKERS"]))
    return found


# -- deleting and expiring -----------------------------------------------------------
def _remove(video: Video) -> None:
    paths = {video.file_path, video.thumbnail_path}
    if not video.source_shared:
        paths.add(video.source_path)
    db.session.delete(video)
    db.session.commit()
    for path in paths:
        storage().delete(path)


def delete_video(video: Video, user: User) -> None:
    """Remove a video or story and its files (the creator or an admin)."""
    if not can_delete(video, user):
        raise PermissionDenied(_("Only the creator of this video can delete it."))
    _remove(video)


def expire_stories(now: datetime | None = None) -> int:
    """Delete stories whose 24 h are over, with their files. Idempotent: what one run
    misses (a stopped server) the next deletes; returns how many went."""
    now = now or utcnow()
    expired = list(
        db.session.scalars(
            select(Video).where(Video.kind == VideoKind.STORY, Video.expires_at <= now).limit(500)
        )
    )
    for video in expired:
        _remove(video)
    return len(expired)


# -- lists -------------------------------------------------------------------------
def videos_of(creator: User, viewer: User | None, *, page: int = 1, per_page: int = 24):
    """A creator's short videos, newest first: ready ones for everyone, and their own
    processing or failed ones for the creator."""
    query = select(Video).where(Video.creator_id == creator.id, Video.kind == VideoKind.VIDEO)
    is_creator = viewer is not None and getattr(viewer, "is_authenticated", False) and viewer.id == creator.id
    if not is_creator:
        if creator.is_banned and not (viewer is not None and getattr(viewer, "is_admin", False)):
            query = query.where(Video.id.is_(None))
        query = query.where(Video.status == VideoStatus.READY)
    query = query.order_by(Video.created_at.desc(), Video.id.desc())
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def active_stories(user: User, now: datetime | None = None) -> list[Video]:
    """A person's stories that are ready and not expired, oldest first (viewing order)."""
    now = now or utcnow()
    if user.is_banned:
        return []
    return list(
        db.session.scalars(
            select(Video)
            .where(
                Video.creator_id == user.id,
                Video.kind == VideoKind.STORY,
                Video.status == VideoStatus.READY,
                Video.expires_at > now,
            )
            .order_by(Video.created_at, Video.id)
        )
    )


@dataclass
class StoryRing:
    user: User
    stories: list[Video] = field(default_factory=list)

    @property
    def latest(self) -> datetime:
        return self.stories[-1].created_at


def story_rings(viewer: User | None, now: datetime | None = None) -> list[StoryRing]:
    """Followed people with active stories, newest first; the viewer's own leads."""
    if viewer is None or not getattr(viewer, "is_authenticated", False):
        return []
    now = now or utcnow()
    followed = select(Follow.followed_id).where(Follow.follower_id == viewer.id)
    rows = db.session.scalars(
        select(Video)
        .join(User, User.id == Video.creator_id)
        .where(
            Video.kind == VideoKind.STORY,
            Video.status == VideoStatus.READY,
            Video.expires_at > now,
            User.is_banned.is_(False),
            (Video.creator_id.in_(followed)) | (Video.creator_id == viewer.id),
        )
        .order_by(Video.created_at, Video.id)
    )
    rings: dict[int, StoryRing] = {}
    for video in rows:
        rings.setdefault(video.creator_id, StoryRing(video.creator)).stories.append(video)
    ordered = sorted(rings.values(), key=lambda ring: (ring.user.id != viewer.id, -ring.latest.timestamp()))
    return ordered


def story_count(user: User, now: datetime | None = None) -> int:
    now = now or utcnow()
    return db.session.scalar(
        select(func.count())
        .select_from(Video)
        .where(
            Video.creator_id == user.id,
            Video.kind == VideoKind.STORY,
            Video.status == VideoStatus.READY,
            Video.expires_at > now,
        )
    )


def event_card(video: Video, viewer: User | None, now: datetime | None = None) -> dict | None:
    """The linked event as a card (while it is scheduled and not over), with the
    viewer's RSVP state; None when there is nothing to show."""
    event = video.event
    now = now or utcnow()
    if event is None or not _event_open(event, now):
        return None
    signed_in = viewer is not None and getattr(viewer, "is_authenticated", False)
    return {
        "event": event,
        "is_creator": signed_in and viewer.id == event.creator_id,
        "going": events_service.has_rsvp(event, viewer) if signed_in else False,
        "signed_in": signed_in,
    }
