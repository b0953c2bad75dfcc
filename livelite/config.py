"""Configuration: defaults here, then ``instance/config.py``, then ``LIVELITE_*`` variables.

The order lets an operator keep a config file next to the data it describes while
containers and CI override single values from the environment without editing files.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ENV_PREFIX = "LIVELITE"


class DefaultConfig:
    """Values that make ``python app.py`` work on a laptop with nothing else installed."""

    HOST = "127.0.0.1"
    PORT = 5000
    # Open connections the server holds at once (each Socket.IO client keeps one for
    # its whole visit). eventlet's own default is 1024, too few for a busy live.
    MAX_CONNECTIONS = 10_000

    # None means "livelite.db inside the instance folder"; resolved in create_app.
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLITE_BUSY_TIMEOUT_MS = 5000
    # PostgreSQL: how long a statement waits for a row or table lock before it fails,
    # and for the server to accept a connection (livelite.database).
    POSTGRES_LOCK_TIMEOUT_MS = 5000
    DATABASE_CONNECT_TIMEOUT_SECONDS = 10
    # None means "media/ inside the instance folder".
    MEDIA_ROOT: str | None = None

    # The async mode is chosen here and only here (STYLE.md, convention 1).
    SOCKETIO_ASYNC_MODE = "eventlet"
    # None means REDIS_URL when there is one.
    SOCKETIO_MESSAGE_QUEUE: str | None = None

    # Several processes (docs/deploy.md, livelite/cluster.py): a Redis URL such as
    # "redis://127.0.0.1:6379/0" shares Socket.IO rooms, presence and rate limits.
    REDIS_URL: str | None = None
    # Keys and channels start with this, so that two sites may share one Redis.
    REDIS_PREFIX = "livelite:"
    # Exactly one process owns ingest (RTMP, the browser publisher, ffmpeg, the jobs and
    # the background queues); the others pass it what only it can do, through Redis.
    INGEST = True
    # Where the studio's publisher opens its Socket.IO connection. Behind nginx with
    # several processes, "/ingest/socket.io" routed to the ingest process.
    PUBLISH_SOCKET_PATH = "/socket.io"
    CLUSTER_HEARTBEAT_SECONDS = 5.0

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Browsers drop Secure cookies sent over plain http, so this is on only when
    # the operator says the site is served over HTTPS (LIVELITE_HTTPS=true).
    HTTPS = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION_DAYS = 30
    # Behind nginx: trust one proxy's X-Forwarded-* headers.
    PROXY_FIX = False
    # The site's address as others reach it, e.g. "https://live.example.org": links in
    # webhook payloads are built on it. None means http://HOST:PORT.
    PUBLIC_URL: str | None = None
    # GET /metrics answers loopback clients, and others sending this as a Bearer token.
    METRICS_TOKEN: str | None = None

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute;50 per hour"
    REGISTER_RATE_LIMIT = "5 per minute;30 per hour"
    # Typing invite codes at /join (class mode): enough for typos, not for guessing.
    JOIN_RATE_LIMIT = "10 per minute;60 per hour"

    LANGUAGES = ("en", "fr")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"

    # Uploads: a request over this size is refused before it is read.
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    AVATAR_MAX_BYTES = 5 * 1024 * 1024
    AVATAR_MAX_PIXELS = 40_000_000
    AVATAR_SIZE = 256

    # Site-setting defaults; the live values are rows in site_settings (services.settings).
    MIN_AGE = 13
    LIVE_MIN_AGE = 16
    LIVE_MIN_FOLLOWERS = 1000
    GIFT_MIN_AGE = 18
    REGISTRATION_OPEN = True

    API_TITLE = "LiveLite API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"

    FFMPEG_PATH: str | None = None  # None means imageio-ffmpeg's bundled binary
    RTMP_HOST = "0.0.0.0"  # noqa: S104 - encoders connect from other machines
    RTMP_PORT = 1935
    RTMP_ENABLED = True
    # Public host name shown in the OBS settings; None means the host of the request.
    RTMP_PUBLIC_HOST: str | None = None
    SEGMENT_SECONDS = 1
    # Segments in the playlist live viewers poll (the replay lists them all).
    LIVE_PLAYLIST_SEGMENTS = 12
    PREVIEW_INTERVAL_S = 10
    # Hand media files to nginx: e.g. "/protected-media/" mapped to the media root.
    X_ACCEL_REDIRECT_PREFIX: str | None = None

    # Live limits (site settings; these are the defaults).
    MAX_CONCURRENT_LIVES = 20
    MAX_INGEST_KBPS = 8000
    MIN_FREE_DISK_MB = 2048
    PUBLISHER_GRACE_SECONDS = 60
    # Events: GO LIVE opens this many minutes before the start.
    GO_LIVE_WINDOW_MINUTES = 10
    REMINDER_HOURS_BEFORE = 24
    REMINDER_MINUTES_BEFORE = 10
    COVER_MAX_BYTES = 8 * 1024 * 1024
    COVER_WIDTH = 1280
    # Web Push (services.push). The subject is who push services contact about our
    # traffic: a mailto: or https: URL (Apple's service refuses localhost addresses).
    VAPID_SUBJECT = "mailto:admin@localhost"
    # How long a push service keeps a message for a browser that is offline.
    PUSH_TTL_SECONDS = 12 * 3600
    PUSH_TIMEOUT_SECONDS = 10
    # Consecutive failures (other than 404/410, which remove it at once) before a
    # subscription is dropped.
    PUSH_MAX_FAILURES = 5
    # True sends pushes inside notify() instead of from a background task (tests).
    PUSH_SYNC = False
    # False: push endpoints must be https on a name resolving to public addresses, so
    # that nobody can make the server POST to its own network. True allows http and
    # private addresses (tests, a push service on the laptop).
    PUSH_ALLOW_PRIVATE_ENDPOINTS = False
    # Short videos and stories (the first four are site settings; these are defaults).
    VIDEO_MIN_SECONDS = 1
    VIDEO_MAX_SECONDS = 600
    VIDEO_MAX_MB = 200
    STORY_MAX_SECONDS = 60
    # The live room (chat, questions, likes, guests).
    # A live's room is told its viewer count at most this often (joins and leaves in
    # between are summed up in the next count).
    VIEWERS_BROADCAST_SECONDS = 1.0
    # How often each live's viewer count and likes are stored for its analytics.
    ANALYTICS_SAMPLE_SECONDS = 15.0
    CHAT_MAX_LENGTH = 300
    CHAT_MESSAGES_PER_10S = 5
    QUESTION_INTERVAL_SECONDS = 60
    LIKES_PER_SECOND = 20
    MAX_GUESTS = 5
    # The gifts economy (the first four are site settings; these are defaults).
    # The receiver's share of a gift's coins, credited as diamonds (the rest is the
    # platform's); one diamond is worth one coin's price.
    CREATOR_SHARE_PERCENT = 50
    # The fewest diamonds a cash-out may ask for, and what 100 diamonds are paid.
    CASHOUT_MIN_DIAMONDS = 1000
    CASHOUT_CENTS_PER_100_DIAMONDS = 50
    # Repeats of one gift from one person within this many seconds show as one combo.
    GIFT_COMBO_SECONDS = 5
    # The currency of coin packages and cash-outs (ISO 4217).
    CURRENCY = "EUR"
    # Demo mode: a test payment provider that "charges" a test card at once. Never on a
    # real site; off unless LIVELITE_DEMO_MODE=true.
    DEMO_MODE = False
    STORY_PHOTO_MAX_BYTES = 15 * 1024 * 1024
    # Conversions at the same time: each ffmpeg takes most of a core (MEDIA.md).
    VIDEO_WORKERS = 1
    # Threads for blocking work off the event loop (previews, probes, upload copies:
    # media.manager.run_blocking). eventlet's default, 20, kept ~5 MB of malloc arena
    # per thread once each had decoded a preview (bench/soak: +70 MB of resident memory).
    BLOCKING_THREADS = 4
    # Replays (the first three are site settings; these are defaults). Replays are
    # deleted with their files this many days after the live (0: kept until their
    # owner deletes them), and their owner is told this many days before.
    REPLAY_RETENTION_DAYS = 90
    REPLAY_WARNING_DAYS = 7
    # What one person's replays and videos may take on disk (0: no limit). Over it,
    # they cannot go live or upload until they delete something.
    STORAGE_QUOTA_MB = 20480
    # Replay MP4s made at the same time (a remux is light; a composed MP4 re-encodes).
    REPLAY_WORKERS = 1
    # Webhooks (services.webhooks): how long a receiver has to answer one delivery.
    WEBHOOK_TIMEOUT_SECONDS = 10.0


def instance_path_from_env(default: Path) -> Path:
    """Return the instance folder, honouring ``LIVELITE_INSTANCE_PATH``.

    It is read before the Flask object exists because Flask needs it at construction.
    """
    value = os.environ.get(f"{ENV_PREFIX}_INSTANCE_PATH")
    return Path(value).expanduser().resolve() if value else default


def create_once(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 0600) holding ``data`` unless it exists. Written under a
    temporary name and linked into place, so processes starting together on a new
    instance agree on one file: whoever links first wins, and nobody reads it half-written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process won the race: its file is the one
    finally:
        temporary.unlink()


def load_secret_key(instance_path: Path) -> str:
    """Read the secret key kept under the instance folder, creating it on first run.

    Keeping it on disk (mode 0600) means sessions survive restarts while no secret
    ever sits in the repository.
    """
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        create_once(key_file, secrets.token_hex(32).encode())
    return key_file.read_text().strip()
