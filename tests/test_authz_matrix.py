"""Who may change what: every route of the URL map (but /admin and /api/v1/admin, which
tests/test_admin_access.py walks) has an entry in ROUTES saying what kind of route it
is and how to fill its ids; a new route without one fails
``test_every_route_has_an_entry``.

For each route that changes something or shows what only its owner may see, with ids
filled from rows of @olga (a creator) and her room, four people are sent:

- a visitor: pages send them to log in, the API answers 401 (or 404, where a
  private row's existence is not told to anyone who may not see it);
- @mia, a member; @cris, a creator who does not own the rows; @moe, a moderator
  appointed by another host (@hank): each gets 403 or 404.

Never a 2xx, never a 500, and the database is exactly as it was after each request
(authz_support.fingerprint). Bodies are valid ones (the owner's request would pass),
so that only the permission check can refuse.

Kinds:
- OWNER: someone else's row (an event, a live and its room, a replay, a group, a
  token...): everyone here is refused.
- CREATOR: what only people who may go live do (schedule, go live, the studio):
  the visitor and the two members are refused; @cris may.
- SELF: the caller's own account (settings, wallet, tokens, their own lists): only
  the visitor is refused.
- MEMBER: what anyone logged in may do to someone else's public things (follow,
  RSVP, report, send a gift): only the visitor is refused.
- MINE: the caller's own part, named by an id (an entry of their own lists of
  moderators, bans and browsers; their seat on a live's stage): with someone else's id
  or a seat never offered, the answer is "not yours" — 403, 404, or a flash back on
  their own page (302) — and nothing changes.
- PUBLIC: open to everyone on purpose (listed, not sent).

The Socket.IO events are walked by tests/test_room_permissions.py (every /live event ×
visitor, viewer, a creator who is not the host, a moderator of another host, guest,
moderator, host, admin) and tests/test_lives_sockets.py (publishing to someone else's
live).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from authz_support import SKIP_METHODS, csrf_token, fill_rule, fingerprint, send
from earnings_support import earn
from factories import PASSWORD, make_admin, make_user
from push_support import Browser
from video_media import png_bytes

from livelite.extensions import db
from livelite.models import (
    ChatMessage,
    Feed,
    FeedSource,
    FileStatus,
    GuestStatus,
    HostBan,
    LiveGuest,
    LiveStatus,
    Moderator,
    Notification,
    Question,
    Replay,
    ReplayFeed,
    ReplayVisibility,
    Role,
)
from livelite.services import (
    cashouts,
    classes,
    coins,
    events,
    gifts,
    lives,
    moderation,
    push,
    tokens,
    videos,
)

PUBLIC, SELF, MEMBER, MINE, CREATOR, OWNER = "public", "self", "member", "mine", "creator", "owner"
ADMIN_PREFIXES = ("/admin", "/api/v1/admin")
REFUSED_BY_KIND = {
    OWNER: ("visitor", "mia", "cris", "moe"),
    CREATOR: ("visitor", "mia", "moe"),
    SELF: ("visitor",),
    MEMBER: ("visitor",),
    MINE: ("visitor", "mia", "cris", "moe"),
    PUBLIC: (),
}
ROLES = ("visitor", "mia", "cris", "moe")
REPLAY_FILES = ("replays/x/thumb.jpg", "replays/x/composed.mp4", "replays/x/main.mp4")


@dataclass(frozen=True)
class Entry:
    kind: str
    # path argument -> key of the site's ids, when the argument's own name is not one
    ids: dict = field(default_factory=dict)
    # site -> a body the owner's request would pass with (JSON for the API, form fields for pages)
    body: object = None


def owner(body=None, **ids) -> Entry:
    return Entry(OWNER, ids, body)


def creator(body=None, **ids) -> Entry:
    return Entry(CREATOR, ids, body)


def own(body=None, **ids) -> Entry:
    return Entry(SELF, ids, body)


def member(body=None, **ids) -> Entry:
    return Entry(MEMBER, ids, body)


def mine(body=None, **ids) -> Entry:
    return Entry(MINE, ids, body)


def public() -> Entry:
    return Entry(PUBLIC)


def later() -> str:
    return (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0).isoformat()


def event_json(site) -> dict:
    return {"title": "Taken over", "starts_at": later()}


def event_form(site) -> dict:
    return {
        "title": "Taken over",
        "description": "",
        "starts_at": later()[:16],
        "timezone": "UTC",
        "duration_minutes": "60",
        "visibility": "public",
        "group_id": "",
    }


ROUTES: dict[tuple[str, str], Entry] = {
    # -- pages: home, profiles, feeds ------------------------------------------------
    ("GET", "/"): public(),
    ("GET", "/feed"): public(),
    ("GET", "/live"): public(),
    ("GET", "/upcoming"): public(),
    ("GET", "/healthz"): public(),
    ("GET", "/sw.js"): public(),
    ("GET", "/static/<path:filename>"): public(),
    # Uploaded files by their random path; who may see which is the feature's route's
    # business (/v/<id>/file, replays...), avatars and covers are public.
    ("GET", "/media/<path:path>"): public(),
    # Its own rule: this machine or METRICS_TOKEN (tests/test_metrics.py).
    ("GET", "/metrics"): public(),
    ("GET", "/@<username>"): public(),
    ("GET", "/@<username>/events.ics"): public(),
    ("GET", "/@<username>/followers"): public(),
    ("GET", "/@<username>/following"): public(),
    ("GET", "/@<username>/videos"): public(),
    ("GET", "/stories/@<username>"): public(),
    ("POST", "/@<username>/follow"): member(),
    ("POST", "/@<username>/unfollow"): member(),
    # -- accounts ----------------------------------------------------------------------
    ("GET", "/login"): public(),
    ("POST", "/login"): public(),
    ("POST", "/logout"): public(),
    ("GET", "/register"): public(),
    ("POST", "/register"): public(),
    ("POST", "/language"): public(),
    ("GET", "/settings/"): own(),
    ("GET", "/settings/account"): own(),
    ("GET", "/settings/analytics"): own(),
    ("POST", "/settings/avatar"): own(),
    ("POST", "/settings/avatar/remove"): own(),
    ("POST", "/settings/delete"): own(),
    ("GET", "/settings/gifts"): own(),
    ("POST", "/settings/gifts"): own(),
    ("POST", "/settings/language"): own(),
    ("GET", "/settings/live-access"): own(),
    ("POST", "/settings/live-access"): own(),
    ("GET", "/settings/notifications"): own(),
    ("POST", "/settings/notifications/<int:subscription_id>/remove"): mine(subscription_id="subscription"),
    ("POST", "/settings/password"): own(),
    ("GET", "/settings/profile"): own(),
    ("POST", "/settings/profile"): own(),
    ("GET", "/settings/stream"): own(),
    ("POST", "/settings/stream/rotate"): own(),
    ("GET", "/settings/tokens"): own(),
    ("POST", "/settings/tokens"): own(),
    ("POST", "/settings/tokens/<int:token_id>/revoke"): owner(token_id="token"),
    ("GET", "/notifications"): own(),
    ("GET", "/notifications/<int:notification_id>"): owner(notification_id="notification"),
    ("POST", "/notifications/read"): own(),
    # -- groups and invite codes -------------------------------------------------------
    ("GET", "/settings/groups"): own(),
    ("POST", "/settings/groups"): own(),
    ("GET", "/settings/groups/<int:group_id>"): owner(group_id="group"),
    ("POST", "/settings/groups/<int:group_id>/delete"): owner(group_id="group"),
    ("POST", "/settings/groups/<int:group_id>/members"): owner(
        lambda s: {"usernames": "mia cris moe"}, group_id="group"
    ),
    ("POST", "/settings/groups/<int:group_id>/members/<int:user_id>/remove"): owner(
        group_id="group", user_id="gus"
    ),
    ("POST", "/settings/groups/<int:group_id>/rename"): owner(
        lambda s: {"name": "Mine now"}, group_id="group"
    ),
    # Anyone with a code (rate limited per address).
    ("GET", "/join"): public(),
    ("POST", "/join"): public(),
    # -- a host's room settings --------------------------------------------------------
    ("GET", "/settings/moderation"): own(),
    ("POST", "/settings/moderation/bans/<int:user_id>/remove"): mine(user_id="bea"),
    ("POST", "/settings/moderation/blocked-words"): own(),
    ("POST", "/settings/moderation/moderators"): own(),
    ("POST", "/settings/moderation/moderators/<int:user_id>/remove"): mine(user_id="otto"),
    # -- events ------------------------------------------------------------------------
    # The form, or why this person may not schedule yet (tests/test_access_requests.py).
    ("GET", "/events/new"): own(),
    ("POST", "/events/new"): creator(event_form),
    ("GET", "/events/<int:event_id>"): public(),
    ("GET", "/events/<int:event_id>.ics"): public(),
    ("GET", "/events/<int:event_id>/edit"): owner(event_id="event"),
    ("POST", "/events/<int:event_id>/edit"): owner(event_form, event_id="event"),
    ("POST", "/events/<int:event_id>/cancel"): owner(event_id="event"),
    ("POST", "/events/<int:event_id>/go-live"): owner(event_id="event"),
    ("POST", "/events/<int:event_id>/rsvp"): member(event_id="event"),
    ("POST", "/events/<int:event_id>/unrsvp"): member(event_id="event"),
    # -- lives -------------------------------------------------------------------------
    # The studio, or why this person may not go live yet.
    ("GET", "/studio"): own(),
    ("GET", "/lives/<int:live_id>"): public(),
    ("GET", "/lives/<int:live_id>/preview.jpg"): public(),
    ("GET", "/lives/<int:live_id>/feeds/<int:feed_id>/<name>"): public(),
    ("GET", "/lives/<int:live_id>/feeds/<int:feed_id>/index.m3u8"): public(),
    ("GET", "/lives/<int:live_id>/analytics"): owner(live_id="live"),
    ("GET", "/lives/<int:live_id>/attendance"): owner(live_id="live"),
    ("GET", "/lives/<int:live_id>/attendance.csv"): owner(live_id="live"),
    ("GET", "/lives/<int:live_id>/moderation"): owner(live_id="live"),
    ("GET", "/lives/<int:live_id>/questions.csv"): owner(live_id="live"),
    # Who is on stage: for whoever may watch the live.
    ("GET", "/lives/<int:live_id>/stage"): public(),
    # The guest page: an invitation (@gus has one), or just the live for whoever may watch.
    ("GET", "/lives/<int:live_id>/guest"): member(live_id="live"),
    ("POST", "/lives/<int:live_id>/guest/accept"): mine(live_id="live"),
    ("POST", "/lives/<int:live_id>/guest/leave"): mine(live_id="live"),
    # -- videos ------------------------------------------------------------------------
    ("GET", "/videos/new"): own(),
    ("POST", "/videos/new"): own(),
    ("GET", "/v/<int:video_id>"): public(),
    ("GET", "/v/<int:video_id>/file"): public(),
    ("GET", "/v/<int:video_id>/thumb.jpg"): public(),
    ("POST", "/v/<int:video_id>/delete"): owner(video_id="video"),
    # -- replays (@olga's is private, as every replay starts) -------------------------
    ("GET", "/settings/replays"): own(),
    ("GET", "/settings/replays/progress"): own(),
    ("GET", "/replays/<int:replay_id>"): owner(replay_id="replay"),
    ("GET", "/replays/<int:replay_id>/composed.mp4"): owner(replay_id="replay"),
    ("GET", "/replays/<int:replay_id>/thumb.jpg"): owner(replay_id="replay"),
    ("GET", "/replays/<int:replay_id>/timeline.json"): owner(replay_id="replay"),
    ("GET", "/replays/<int:replay_id>/feeds/<int:replay_feed_id>/<name>"): owner(
        replay_id="replay", replay_feed_id="replay_feed"
    ),
    ("GET", "/replays/<int:replay_id>/feeds/<int:replay_feed_id>/index.m3u8"): owner(
        replay_id="replay", replay_feed_id="replay_feed"
    ),
    ("GET", "/replays/<int:replay_id>/download/<int:replay_feed_id>"): owner(
        replay_id="replay", replay_feed_id="replay_feed"
    ),
    ("GET", "/replays/<int:replay_id>/download/composed"): owner(replay_id="replay"),
    ("GET", "/replays/<int:replay_id>/delete"): owner(replay_id="replay"),
    ("POST", "/replays/<int:replay_id>/delete"): owner(replay_id="replay"),
    # The replays page has one such form per replay: its fields are named after it.
    ("POST", "/replays/<int:replay_id>/edit"): owner(
        lambda s: {f"replay-{s['replay']}-title": "Mine now", f"replay-{s['replay']}-visibility": "public"},
        replay_id="replay",
    ),
    ("GET", "/replays/<int:replay_id>/post"): owner(replay_id="replay"),
    ("POST", "/replays/<int:replay_id>/post"): owner(
        lambda s: {"title": "Mine now", "caption": "", "trim_start": "", "trim_end": "", "source": "main"},
        replay_id="replay",
    ),
    ("POST", "/replays/<int:replay_id>/retry"): owner(replay_id="replay"),
    # -- money -------------------------------------------------------------------------
    ("GET", "/wallet"): own(),
    ("POST", "/wallet/coin-requests"): own(),
    ("POST", "/wallet/coin-requests/<int:request_id>/cancel"): owner(request_id="coin_request"),
    ("GET", "/earnings"): own(),
    ("GET", "/earnings/cashouts"): own(),
    ("POST", "/earnings/cashouts"): own(),
    ("POST", "/earnings/cashouts/<int:request_id>/cancel"): owner(request_id="cashout"),
    # -- API: documents ------------------------------------------------------------------
    ("GET", "/api/v1/openapi.json"): public(),
    ("GET", "/api/v1/docs"): public(),
    ("POST", "/api/v1/accounts"): public(),
    # -- API: people -------------------------------------------------------------------
    ("GET", "/api/v1/users/<username>"): public(),
    ("GET", "/api/v1/users/<username>/followers"): public(),
    ("GET", "/api/v1/users/<username>/following"): public(),
    ("GET", "/api/v1/users/<username>/videos"): public(),
    ("GET", "/api/v1/users/<username>/replays"): public(),
    ("PUT", "/api/v1/users/<username>/follow"): member(),
    ("DELETE", "/api/v1/users/<username>/follow"): member(),
    ("GET", "/api/v1/me"): own(),
    ("PATCH", "/api/v1/me"): own(),
    ("DELETE", "/api/v1/me"): own(),
    ("GET", "/api/v1/me/analytics"): own(),
    ("PUT", "/api/v1/me/avatar"): own(),
    ("DELETE", "/api/v1/me/avatar"): own(),
    ("POST", "/api/v1/me/password"): own(),
    ("GET", "/api/v1/me/storage"): own(),
    ("GET", "/api/v1/me/stream-key"): own(),
    ("POST", "/api/v1/me/stream-key"): own(),
    ("GET", "/api/v1/tokens"): own(),
    ("POST", "/api/v1/tokens"): own(),
    ("DELETE", "/api/v1/tokens/<int:token_id>"): owner(token_id="token"),
    ("GET", "/api/v1/notifications"): own(),
    ("POST", "/api/v1/notifications/read"): own(lambda s: {"ids": [s["notification"]]}),
    ("GET", "/api/v1/push/vapid-public-key"): public(),
    ("GET", "/api/v1/push/subscriptions"): own(),
    ("POST", "/api/v1/push/subscriptions"): own(),
    ("DELETE", "/api/v1/push/subscriptions"): own(),
    ("DELETE", "/api/v1/push/subscriptions/<int:subscription_id>"): owner(subscription_id="subscription"),
    ("POST", "/api/v1/access-requests"): own(),
    ("GET", "/api/v1/access-requests/mine"): own(),
    ("POST", "/api/v1/reports"): member(lambda s: {"user_id": s["olga"], "reason": "Spam links"}),
    # -- API: a host's room settings -----------------------------------------------------
    ("GET", "/api/v1/bans"): own(),
    ("DELETE", "/api/v1/bans/<int:user_id>"): owner(user_id="bea"),
    ("GET", "/api/v1/blocked-words"): own(),
    ("PUT", "/api/v1/blocked-words"): own(),
    ("GET", "/api/v1/moderators"): own(),
    ("POST", "/api/v1/moderators"): own(),
    ("DELETE", "/api/v1/moderators/<username>"): owner(username="otto_name"),
    # -- API: events -------------------------------------------------------------------
    ("GET", "/api/v1/events"): public(),
    ("POST", "/api/v1/events"): creator(event_json),
    ("GET", "/api/v1/events/<int:event_id>"): public(),
    ("PUT", "/api/v1/events/<int:event_id>"): owner(event_json, event_id="event"),
    ("GET", "/api/v1/events/<int:event_id>/attendees"): owner(event_id="event"),
    ("POST", "/api/v1/events/<int:event_id>/cancel"): owner(event_id="event"),
    ("POST", "/api/v1/events/<int:event_id>/go-live"): owner(event_id="event"),
    ("PUT", "/api/v1/events/<int:event_id>/rsvp"): member(event_id="event"),
    ("DELETE", "/api/v1/events/<int:event_id>/rsvp"): member(event_id="event"),
    # -- API: groups -------------------------------------------------------------------
    ("GET", "/api/v1/groups"): own(),
    ("POST", "/api/v1/groups"): own(),
    ("GET", "/api/v1/groups/<int:group_id>"): owner(group_id="group"),
    ("PATCH", "/api/v1/groups/<int:group_id>"): owner(lambda s: {"name": "Mine now"}, group_id="group"),
    ("DELETE", "/api/v1/groups/<int:group_id>"): owner(group_id="group"),
    ("POST", "/api/v1/groups/<int:group_id>/members"): owner(
        lambda s: {"usernames": ["mia", "cris", "moe"]}, group_id="group"
    ),
    ("DELETE", "/api/v1/groups/<int:group_id>/members"): owner(
        lambda s: {"usernames": ["gus"]}, group_id="group"
    ),
    ("POST", "/api/v1/join"): public(),
    # -- API: lives and their rooms ------------------------------------------------------
    ("GET", "/api/v1/feed"): public(),
    ("GET", "/api/v1/stories"): public(),
    ("GET", "/api/v1/lives"): public(),
    ("POST", "/api/v1/lives"): creator(lambda s: {"title": "Mine"}),
    ("GET", "/api/v1/lives/<int:live_id>"): public(),
    ("GET", "/api/v1/lives/<int:live_id>/gifts"): public(),
    ("GET", "/api/v1/lives/<int:live_id>/goal"): public(),
    ("GET", "/api/v1/lives/<int:live_id>/top-gifters"): public(),
    ("GET", "/api/v1/lives/<int:live_id>/questions"): public(),
    ("POST", "/api/v1/lives/<int:live_id>/gifts"): member(
        lambda s: {"gift_id": s["gift"], "receiver_id": s["olga"], "idempotency_key": "matrix"},
        live_id="live",
    ),
    ("GET", "/api/v1/lives/<int:live_id>/analytics"): owner(live_id="live"),
    ("GET", "/api/v1/lives/<int:live_id>/attendance"): owner(live_id="live"),
    ("GET", "/api/v1/lives/<int:live_id>/health"): owner(live_id="live"),
    ("GET", "/api/v1/lives/<int:live_id>/messages"): owner(live_id="live"),
    ("GET", "/api/v1/lives/<int:live_id>/moderation-log"): owner(live_id="live"),
    ("GET", "/api/v1/lives/<int:live_id>/questions.csv"): owner(live_id="live"),
    ("POST", "/api/v1/lives/<int:live_id>/end"): owner(live_id="live"),
    ("POST", "/api/v1/lives/<int:live_id>/start"): owner(live_id="pending_live"),
    ("POST", "/api/v1/lives/<int:live_id>/bans"): owner(lambda s: {"user_id": s["gus"]}, live_id="live"),
    ("POST", "/api/v1/lives/<int:live_id>/kicks"): owner(lambda s: {"user_id": s["gus"]}, live_id="live"),
    ("POST", "/api/v1/lives/<int:live_id>/mutes"): owner(
        lambda s: {"user_id": s["gus"], "duration": "10m"}, live_id="live"
    ),
    ("DELETE", "/api/v1/lives/<int:live_id>/mutes/<int:user_id>"): owner(live_id="live", user_id="muted"),
    ("DELETE", "/api/v1/lives/<int:live_id>/messages/<int:message_id>"): owner(
        live_id="live", message_id="message"
    ),
    ("DELETE", "/api/v1/lives/<int:live_id>/pin"): owner(live_id="live"),
    ("POST", "/api/v1/lives/<int:live_id>/questions/<int:question_id>/answer"): owner(
        live_id="live", question_id="question"
    ),
    ("POST", "/api/v1/lives/<int:live_id>/questions/<int:question_id>/dismiss"): owner(
        live_id="live", question_id="question"
    ),
    ("PATCH", "/api/v1/lives/<int:live_id>/room-settings"): owner(
        lambda s: {"comments_off": True}, live_id="live"
    ),
    ("PUT", "/api/v1/lives/<int:live_id>/goal"): owner(lambda s: {"target_coins": 900}, live_id="live"),
    ("DELETE", "/api/v1/lives/<int:live_id>/goal"): owner(live_id="live"),
    # -- API: videos and replays ---------------------------------------------------------
    ("POST", "/api/v1/videos"): own(),
    ("GET", "/api/v1/videos/<int:video_id>"): public(),
    ("DELETE", "/api/v1/videos/<int:video_id>"): owner(video_id="video"),
    ("GET", "/api/v1/replays"): own(),
    ("GET", "/api/v1/replays/<int:replay_id>"): owner(replay_id="replay"),
    ("PATCH", "/api/v1/replays/<int:replay_id>"): owner(
        lambda s: {"title": "Mine now", "visibility": "public"}, replay_id="replay"
    ),
    ("DELETE", "/api/v1/replays/<int:replay_id>"): owner(replay_id="replay"),
    ("POST", "/api/v1/replays/<int:replay_id>/post"): owner(
        lambda s: {"title": "Mine now"}, replay_id="replay"
    ),
    ("POST", "/api/v1/replays/<int:replay_id>/retry"): owner(replay_id="replay"),
    ("GET", "/api/v1/replays/<int:replay_id>/timeline"): owner(replay_id="replay"),
    # -- API: money --------------------------------------------------------------------
    ("GET", "/api/v1/gifts"): public(),
    ("GET", "/api/v1/coin-packages"): public(),
    ("GET", "/api/v1/wallet"): own(),
    ("GET", "/api/v1/wallet/history"): own(),
    ("POST", "/api/v1/coin-requests"): own(),
    ("GET", "/api/v1/coin-requests/mine"): own(),
    ("POST", "/api/v1/coin-requests/<int:request_id>/cancel"): owner(request_id="coin_request"),
    ("GET", "/api/v1/earnings"): own(),
    ("POST", "/api/v1/cashouts"): own(),
    ("GET", "/api/v1/cashouts/mine"): own(),
    ("POST", "/api/v1/cashouts/<int:request_id>/cancel"): owner(request_id="cashout"),
}


def walked_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith(ADMIN_PREFIXES)
        for method in rule.methods - SKIP_METHODS
    }


def test_every_route_has_an_entry(app):
    """A new route must say here what kind it is and how its ids are filled (admin
    routes are walked by tests/test_admin_access.py without a table)."""
    routes = walked_routes(app)
    missing = sorted(routes - set(ROUTES))
    assert not missing, "routes without an entry in ROUTES:\n" + "\n".join(f"{m} {r}" for m, r in missing)
    gone = sorted(set(ROUTES) - routes)
    assert not gone, f"entries for routes that no longer exist: {gone}"


@pytest.fixture
def app(make_app):
    # A push subscription to a made-up host, without looking its name up.
    return make_app(PUSH_ALLOW_PRIVATE_ENDPOINTS=True)


@pytest.fixture
def site(app):
    """@olga's things, and the people who try them. Returns the values path arguments
    and bodies are filled with."""
    with app.app_context():
        admin = make_admin()
        olga = make_user("olga", display_name="Olga Owner", role=Role.CREATOR)
        hank = make_user("hank", display_name="Hank Host", role=Role.CREATOR)
        make_user("mia", display_name="Mia Member")
        make_user("cris", display_name="Cris Creator", role=Role.CREATOR)
        moe = make_user("moe", display_name="Moe Moderator")
        otto = make_user("otto", display_name="Otto (Olga's moderator)")
        gus = make_user("gus", display_name="Gus Guest")
        bea = make_user("bea", display_name="Bea Banned")
        muted = make_user("muted", display_name="Muted Person")
        db.session.add_all(
            [Moderator(host_id=hank.id, user_id=moe.id), Moderator(host_id=olga.id, user_id=otto.id)]
        )
        db.session.add(HostBan(host_id=olga.id, user_id=bea.id, by_id=olga.id))
        db.session.commit()

        group = classes.create_group(olga, "Olga's class")
        classes.add_members(group, olga, ["gus"])
        event = events.create_event(
            olga, title="Olga's workshop", starts_at=datetime.now(UTC) + timedelta(days=2)
        )
        # An ended live with a private replay, then the live on air with its room.
        ended = lives.start_live(olga, title="Yesterday")
        feed = Feed(
            live_id=ended.id,
            user_id=olga.id,
            source=FeedSource.BROWSER,
            input_format="webm",
            media_dir="lives/x/feed",
        )
        db.session.add(feed)
        db.session.commit()
        lives.end_live(ended, "host")
        # Its files, as the pipeline leaves them (the bytes do not matter here).
        media = Path(app.config["MEDIA_ROOT"])
        for name in ("lives/x/feed/run-0001-init.mp4", "lives/x/feed/run-0001-00001.m4s", *REPLAY_FILES):
            (media / name).parent.mkdir(parents=True, exist_ok=True)
            (media / name).write_bytes(b"\0" * 64)
        replay = Replay(
            live_id=ended.id,
            owner_id=olga.id,
            title="Yesterday",
            visibility=ReplayVisibility.PRIVATE,
            files_dir="replays/x",
            duration_s=30.0,
            thumbnail_path="replays/x/thumb.jpg",
            composed_status=FileStatus.READY,
            composed_path="replays/x/composed.mp4",
        )
        replay.feeds.append(
            ReplayFeed(
                feed_id=feed.id,
                user_id=olga.id,
                is_main=True,
                media_dir="lives/x/feed",
                duration_s=30.0,
                mp4_status=FileStatus.READY,
                mp4_path="replays/x/main.mp4",
            )
        )
        db.session.add(replay)
        db.session.commit()
        live = lives.start_live(olga, title="On air")
        message = ChatMessage(live_id=live.id, user_id=gus.id, body="first!")
        question = Question(live_id=live.id, user_id=gus.id, body="How?")
        db.session.add_all([message, question])
        db.session.add(LiveGuest(live_id=live.id, user_id=gus.id, status=GuestStatus.INVITED))
        db.session.commit()
        moderation.mute(live, olga, muted.id, "10m")
        pending_live = lives.create_live(hank, title="Hank's next")
        assert pending_live.status == LiveStatus.SCHEDULED

        story = videos.upload(olga, BytesIO(png_bytes()), kind="story", caption="Olga's story")
        token, _secret = tokens.create_token(olga, "Olga's laptop", ["read"])
        keys = Browser().subscription("https://push.example.com/olga")["keys"]
        subscription = push.subscribe(olga, "https://push.example.com/olga", keys["p256dh"], keys["auth"])
        notification = Notification(
            user_id=olga.id, kind="new_follower", dedupe_key="matrix", actor_id=gus.id
        )
        db.session.add(notification)
        db.session.commit()

        package = coins.create_package(admin, 100, 199)
        coin_request = coins.request_coins(olga, package.id, idempotency_key="olga-coins").request
        earn(olga, 5000, gus)
        cashout, _new = cashouts.request_cashout(olga, 5000, "IBAN FR76 0000", "olga-cashout")
        values = {
            "username": "olga",
            "olga": olga.id,
            "gus": gus.id,
            "bea": bea.id,
            "otto": otto.id,
            "otto_name": "otto",
            "muted": muted.id,
            "group": group.id,
            "event": event.id,
            "live": live.id,
            "pending_live": pending_live.id,
            "message": message.id,
            "question": question.id,
            "replay": replay.id,
            "replay_feed": replay.feeds[0].id,
            "video": story.id,
            "token": token.id,
            "subscription": subscription.id,
            "notification": notification.id,
            "coin_request": coin_request.id,
            "cashout": cashout.id,
            "gift": gifts.catalogue()[0].id,
            "feed_id": feed.id,
            "name": "run-0001-00001.m4s",
        }
    yield values
    app.extensions["livelite.media"].shutdown()


def log_in(app, username: str | None):
    client = app.test_client()
    if username is not None:
        response = client.post(
            "/login", data={"login": username, "password": PASSWORD, "csrf_token": csrf_token(client)}
        )
        assert response.status_code == 302, f"{username} could not log in"
    return client


def attempts(role: str):
    """(method, rule, entry) of every route that refuses ``role``."""
    return [
        (method, rule, entry)
        for (method, rule), entry in sorted(ROUTES.items(), key=lambda item: (item[0][1], item[0][0]))
        if role in REFUSED_BY_KIND[entry.kind]
    ]


def url_of(rule: str, entry: Entry, values: dict) -> str:
    filled = {name: values[key] for name, key in entry.ids.items()}
    return fill_rule(rule, {**values, **filled})


@pytest.mark.parametrize("role", ROLES)
def test_nobody_but_the_owner_changes_or_sees_it(app, site, role):
    client = log_in(app, None if role == "visitor" else role)
    token = csrf_token(client)
    wrong = []
    for method, rule, entry in attempts(role):
        url = url_of(rule, entry, site)
        body = entry.body(site) if callable(entry.body) else None
        before = fingerprint(app)
        response = send(client, method, url, token, body)
        status = response.status_code
        location = response.headers.get("Location", "")
        if role == "visitor" and url.startswith("/api/"):
            ok = status in (401, 404)
        elif role == "visitor":
            ok = (status == 302 and location.startswith("/login")) or status == 404
        elif entry.kind == MINE:
            ok = status in (403, 404) or (status == 302 and not location.startswith("/login"))
        else:
            ok = status in (403, 404)
        if not ok:
            wrong.append(f"{method} {url} ({entry.kind}) -> {status} {location}")
        if fingerprint(app) != before:
            wrong.append(f"{method} {url} ({entry.kind}) changed the database (answered {status})")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


DESTRUCTIVE = ("/delete", "/cancel", "/revoke", "/remove", "/end")


def destroys(method: str, rule: str) -> bool:
    return method == "DELETE" or rule.endswith(DESTRUCTIVE)


def owner_order(attempt) -> tuple:
    """What deletes or ends something comes after everything else, the parts of a
    thing before the thing (a group's members, then the group), and the live's end
    last of all (its room refuses changes once it is over)."""
    method, rule, _entry = attempt
    return (rule.endswith("/end"), destroys(method, rule), -rule.count("/"), rule, method)


def deletes(method: str, rule: str) -> bool:
    """The request deletes the thing its URL names (not a part of it)."""
    if method == "DELETE":
        return rule.endswith(">")
    return method == "POST" and rule.endswith(("/delete", "/revoke"))


def thing_of(rule: str, entry: Entry) -> str:
    """What the URL names: the site's key of its first id (the API's
    ``/api/v1/groups/<id>`` and the page's ``/settings/groups/<id>/delete`` name the
    same group)."""
    first = re.search(r"<(?:\w+:)?(\w+)>", rule).group(1)
    return entry.ids.get(first, first)


def test_the_owner_is_let_in(app, site):
    """The same requests from @olga succeed (or meet a rule of the thing itself: an
    event not open to GO LIVE yet, a question already answered; or find it already
    deleted by the API's or the page's twin of the request): the matrix's refusals come
    from who asks, not from ids or bodies that could never work."""
    client = log_in(app, "olga")
    token = csrf_token(client)
    refused, gone = [], set()
    for method, rule, entry in sorted(
        (a for a in attempts("cris") if a[2].kind == OWNER and "pending_live" not in a[2].ids.values()),
        key=owner_order,
    ):
        url = url_of(rule, entry, site)
        body = entry.body(site) if callable(entry.body) else None
        status = send(client, method, url, token, body).status_code
        if status >= 400 and status != 409 and not (status == 404 and thing_of(rule, entry) in gone):
            refused.append(f"{method} {url} -> {status}")
        if deletes(method, rule) and status < 400:
            gone.add(thing_of(rule, entry))
    assert not refused, "\n".join(refused)
