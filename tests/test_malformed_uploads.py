"""Malformed files on every upload route (issue 9, "Bad input").

Every route that takes a file (found by walking the app: views reading
``request.files``, flask-smorest arguments from ``files``, forms with a FileField,
multipart operations of the OpenAPI document) is fed what a careless or hostile
client sends: zero bytes, a real MP4 cut in half, text renamed ``.mp4``/``.png``/
``.jpg``, a PNG whose header claims 100 000 × 100 000 pixels, a real decompression
bomb (a small PNG that decodes to 100 million pixels), a file over the size limit, a
request over the size limit, a file part whose content-type lies, a body that is not
multipart at all, and an MP4 with no video stream.

Each is refused with a clear message where the person sees it (the form's field, a
flash, or the API's JSON error), never a 500; nothing is left under the media root or
in the upload temp folder, and no row changes. A video the conversion alone can find
broken (an audio track ffmpeg cannot open) is accepted, then ends ``failed`` with its
reason, its files removed.
"""

from __future__ import annotations

import functools
import inspect
import io
import os
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
import werkzeug.test
from factories import PASSWORD, make_admin, make_token, make_user
from flask_wtf import FlaskForm
from media_support import FFMPEG
from pages import field_errors, find_form, flashes, submit, text_of
from sqlalchemy import select
from video_media import clip
from wtforms import FileField

from livelite.extensions import db
from livelite.models import Event, Role, Video, VideoStatus
from livelite.models.base import utcnow
from livelite.services import accounts, events, notifications, videos
from livelite.services.settings import set_setting

# -- the files --------------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int, idat: bytes, colour_type: int = 0) -> bytes:
    """A PNG with this header and this compressed pixel data, whatever they say."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def huge_header_png() -> bytes:
    """100 000 × 100 000 pixels declared, a few bytes of data."""
    return png_claiming(100_000, 100_000, zlib.compress(b"\0" * 1024))


@functools.cache
def bomb_png(side: int = 10_000) -> bytes:
    """A real, valid PNG of side × side black pixels: about 100 KB that decode to 100 MB
    (more pixels than AVATAR_MAX_PIXELS)."""
    squeeze = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte + one grey byte per pixel
    data = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    return png_claiming(side, side, data)


def small_png() -> bytes:
    image = np.full((120, 200, 3), (40, 120, 200), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def truncated_mp4() -> bytes:
    data = clip(3)
    return data[: len(data) // 2]


@functools.cache
def audio_only_mp4() -> bytes:
    """Three seconds of a tone in an MP4: a video file with no picture."""
    target = Path(tempfile.mkdtemp(prefix="livelite-audio-")) / "tone.mp4"
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    command += ["-i", "sine=frequency=440:sample_rate=44100", "-t", "3", "-c:a", "aac", str(target)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    data = target.read_bytes()
    target.unlink()
    target.parent.rmdir()
    return data


def unconvertible_mp4() -> bytes:
    """A real clip whose AAC configuration says "sampling rate index 15": OpenCV reads
    its picture from start to end, but ffmpeg cannot open the sound to convert it."""
    data = bytearray(clip(3))
    at = data.find(b"esds")
    config = data.find(b"\x05\x80\x80\x80", at) + 5  # DecoderSpecificInfo's payload
    data[config : config + 2] = b"\x17\x80"
    return bytes(data)


TEXT = b"This is a text file, renamed to look like something else.\n" * 40


# -- the routes --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """How a person (or a program) sends a file to one upload endpoint."""

    endpoint: str
    takes: str  # "image" or "video"
    kind: str = "video"  # the video routes' kind field: "video" or "story" (pictures too)

    @property
    def api(self) -> bool:
        return self.endpoint.startswith("api_")

    def __str__(self) -> str:
        return self.endpoint if self.kind == "video" else f"{self.endpoint}[{self.kind}]"


ROUTES = [
    Route("settings.avatar", "image"),
    Route("api_accounts.put_avatar", "image"),
    Route("events.new", "image"),
    Route("events.edit", "image"),
    Route("videos.new", "video"),
    Route("videos.new", "video", kind="story"),
    Route("api_videos.upload", "video"),
    Route("api_videos.upload", "video", kind="story"),
]


def _view_takes_files(view, file_forms: set[str]) -> bool:
    source = inspect.getsource(inspect.unwrap(view))
    return (
        "request.files" in source
        or 'location="files"' in source
        or any(f"{name}(" in source for name in file_forms)
    )


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def upload_endpoints(app) -> set[str]:
    """Every endpoint that takes a file, found in the app itself."""
    file_forms = {
        form.__name__
        for form in _subclasses(FlaskForm)
        for klass in form.__mro__
        for value in vars(klass).values()
        if isinstance(getattr(value, "field_class", None), type) and issubclass(value.field_class, FileField)
    }
    found = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and _view_takes_files(view, file_forms)
    }
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api_"):
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}").removeprefix("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"].get(path, {}).get(method.lower(), {})
            if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
                found.add(rule.endpoint)
    return found


def test_every_upload_route_is_known(app):
    """A new route taking a file fails here until it is added to ROUTES (and so fed
    every malformed file below)."""
    assert upload_endpoints(app) == {route.endpoint for route in ROUTES}


# -- the site -----------------------------------------------------------------------------------
class Site:
    """A creator (carla) logged in on a browser, with an API token and an event of
    hers that already has a cover; everything an upload could touch, watched."""

    def __init__(self, app, tmp_path: Path, monkeypatch):
        self.app = app
        with app.app_context():
            make_admin()
            carla = make_user("carla", role=Role.CREATOR)
            self.token = make_token(carla, scopes=("read", "write"))
            event = events.create_event(
                carla,
                title="Fractions",
                starts_at=utcnow() + timedelta(days=2),
                duration_minutes=60,
                cover=small_png(),
            )
            self.event_id = event.id
            # A small video limit, so that "over the limit" is a few megabytes.
            set_setting("VIDEO_MAX_MB", 1)
        self.browser = app.test_client()
        assert submit(self.browser, "/login", {"login": "carla", "password": PASSWORD}).status_code == 302
        # Werkzeug spools large uploads to files in the temp folder: watch that one. The
        # test client buffers the bodies it sends in a temp file too: elsewhere.
        self.spool = tmp_path / "upload-tmp"
        self.spool.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(self.spool))
        client_side = tmp_path / "client-tmp"
        client_side.mkdir()
        monkeypatch.setattr(werkzeug.test, "TemporaryFile", partial(tempfile.TemporaryFile, dir=client_side))

    def spooled(self) -> list[str]:
        """Files in the upload temp folder, and files still open there: Linux makes
        them without a name (O_TMPFILE), so an unclosed one shows only in /proc."""
        found = [str(p) for p in self.spool.iterdir()]
        fds = Path("/proc/self/fd")
        if fds.is_dir():
            for fd in fds.iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith(str(self.spool)):
                    found.append(target)
        return found

    @property
    def media_root(self) -> Path:
        return Path(self.app.config["MEDIA_ROOT"])

    def files(self) -> set[Path]:
        return {p for p in self.media_root.rglob("*") if p.is_file()} if self.media_root.exists() else set()

    def rows(self) -> dict[str, list[str]]:
        """Every row of every table; a token's last use is not a change the upload made."""
        with self.app.app_context():
            return {
                table.name: sorted(
                    map(
                        repr,
                        db.session.execute(select(*(c for c in table.c if c.name != "last_used_at"))).all(),
                    )
                )
                for table in db.metadata.sorted_tables
            }

    def send(self, route: Route, filename: str, data: bytes, content_type: str | None = None, *, raw=None):
        """Post ``data`` as the route's file the way its page or its API client does.
        ``raw`` replaces the whole body (a request that is not multipart)."""
        part = (io.BytesIO(data), filename, content_type) if content_type else (io.BytesIO(data), filename)
        bearer = {"Authorization": f"Bearer {self.token}"}
        if route.endpoint == "api_accounts.put_avatar":
            if raw is not None:
                return self.browser.put("/api/v1/me/avatar", headers=bearer, **raw)
            return self.browser.put("/api/v1/me/avatar", headers=bearer, data={"avatar": part})
        if route.endpoint == "api_videos.upload":
            if raw is not None:
                return self.browser.post("/api/v1/videos", headers=bearer, **raw)
            fields = {"kind": route.kind, "caption": "", "file": part}
            return self.browser.post("/api/v1/videos", headers=bearer, data=fields)
        page, action, field, extra = {
            "settings.avatar": ("/settings/profile", "/settings/avatar", "avatar", {}),
            "events.new": (
                "/events/new",
                None,
                "cover",
                {
                    "title": "With a cover",
                    "starts_at": (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
                    "timezone": "UTC",
                },
            ),
            "events.edit": (f"/events/{self.event_id}/edit", None, "cover", {}),
            "videos.new": ("/videos/new", "/videos/new", "file", {"kind": route.kind}),
        }[route.endpoint]
        html = self.browser.get(page).get_data(as_text=True)
        form = find_form(html, action)
        target = form.action or page
        if raw is not None:
            token = form.values()["csrf_token"]
            return self.browser.post(target, headers={"X-CSRFToken": token}, **raw)
        values = {**form.values(), **extra, field: part}
        return self.browser.post(target, data=values, content_type="multipart/form-data")


@pytest.fixture
def site(app, tmp_path, monkeypatch):
    site = Site(app, tmp_path, monkeypatch)
    yield site
    app.extensions["livelite.media"].shutdown()


def said(response, route: Route) -> str:
    """What the person is told: the API's JSON error, or the page's field errors and
    flashes (following a redirect, as the browser does)."""
    if route.api or response.is_json:
        body = response.get_json()
        error = body.get("error", body)
        return " ".join([error.get("message", ""), str(error.get("errors", ""))])
    html = response.get_data(as_text=True)
    messages = [*flashes(html)]
    for field in ("avatar", "cover", "file"):
        messages += field_errors(html, field)
    if not messages:  # a full error page: its visible text
        messages = [text_of(html)]
    return " ".join(messages)


# What each kind of route says about each bad file.
EMPTY = "The file is empty."
NOT_IMAGE = "This file is not an image we can read."
NOT_VIDEO = "This file is not a video we can read."
NOT_VIDEO_OR_PICTURE = "This file is not a video or a picture we can read."
DAMAGED = "This video is damaged or incomplete"
NO_PICTURE = "This file has sound but no picture"
PICTURE_NOT_VIDEO = "This is a picture, not a video."
TOO_MANY_PIXELS = "The image has too many pixels."
TOO_LARGE = "too large"


def expected(case: str, route: Route) -> str:
    image, story = route.takes == "image", route.kind == "story"
    table = {
        "zero-bytes": EMPTY,
        "truncated-mp4": NOT_IMAGE if image else DAMAGED,
        "text-as-mp4": NOT_IMAGE if image else NOT_VIDEO_OR_PICTURE if story else NOT_VIDEO,
        "text-as-png": NOT_IMAGE if image else NOT_VIDEO_OR_PICTURE if story else NOT_VIDEO,
        "text-as-jpg": NOT_IMAGE if image else NOT_VIDEO_OR_PICTURE if story else NOT_VIDEO,
        "text-labelled-image/png": NOT_IMAGE if image else NOT_VIDEO_OR_PICTURE if story else NOT_VIDEO,
        "huge-declared-dimensions": TOO_MANY_PIXELS if image or story else PICTURE_NOT_VIDEO,
        "decompression-bomb": TOO_MANY_PIXELS if image or story else PICTURE_NOT_VIDEO,
        "mp4-without-video": NOT_IMAGE if image else NO_PICTURE,
    }
    return table[case]


# (case, file name, bytes, content-type of the file part)
BAD_FILES = [
    ("zero-bytes", "empty.png", lambda: b"", None),
    ("truncated-mp4", "cut.mp4", truncated_mp4, None),
    ("text-as-mp4", "notes.mp4", lambda: TEXT, None),
    ("text-as-png", "notes.png", lambda: TEXT, None),
    ("text-as-jpg", "notes.jpg", lambda: TEXT, None),
    ("text-labelled-image/png", "a.png", lambda: TEXT, "image/png"),
    ("huge-declared-dimensions", "huge.png", huge_header_png, None),
    ("decompression-bomb", "bomb.png", bomb_png, None),
    ("mp4-without-video", "tone.mp4", audio_only_mp4, None),
]
# Bodies that are not a file upload at all: the wrong content-type for the request.
NOT_UPLOADS = [
    ("json-body", {"json": {"file": "aGVsbG8=", "avatar": "aGVsbG8=", "cover": "aGVsbG8="}}),
    ("text-body", {"data": TEXT, "content_type": "text/plain"}),
    ("multipart-without-boundary", {"data": TEXT, "content_type": "multipart/form-data"}),
    (
        "broken-multipart",
        {
            "data": b"--x\r\nContent-Disposition: form-data; name=",
            "content_type": "multipart/form-data; boundary=x",
        },
    ),
]


def _limit(site: Site, route: Route) -> int:
    """The route's own limit: 5 MB avatars, 8 MB covers, VIDEO_MAX_MB (1 here)."""
    if route.takes == "video":
        return 1024 * 1024
    return site.app.config["AVATAR_MAX_BYTES" if "avatar" in route.endpoint else "COVER_MAX_BYTES"]


def _check_refused(site: Site, route: Route, case: str, send, message: str | None) -> None:
    """Send, then: not a 500; the message said where the person sees it; no file in
    the media folder or the temp folder; no row changed."""
    before_files, before_rows = site.files(), site.rows()
    response = send()
    where = f"{route} fed {case}"
    assert response.status_code < 500, f"{where}: {response.get_data(as_text=True)[:500]}"
    allowed = (400, 413, 422) if route.api else (302, 400, 413, 422)
    assert response.status_code in allowed, f"{where}: {response.status_code}"
    if response.status_code == 302:  # the page says it after the redirect
        response = site.browser.get(response.headers["Location"])
    told = said(response, route)
    assert told.strip(), f"{where}: no message"
    if message is not None:
        assert message in told, f"{where}: {told!r}"
    assert site.files() == before_files, f"{where}: a file was left in the media folder"
    assert site.spooled() == [], f"{where}: a file was left in the temp folder"
    assert site.rows() == before_rows, f"{where}: a row changed"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_malformed_file_is_refused_cleanly(site, route):
    for case, filename, make, content_type in BAD_FILES:
        data = make()
        _check_refused(
            site,
            route,
            case,
            lambda f=filename, d=data, t=content_type: site.send(route, f, d, t),
            expected(case, route),
        )
    if route.kind != "story":  # a story may be a 15 MB picture: its limit is the request's
        over = clip(3) + bytes(_limit(site, route) + 1024 - len(clip(3)))
        _check_refused(
            site, route, "a file over its limit", lambda: site.send(route, "big.mp4", over), TOO_LARGE
        )
    # Over what the server reads at all (16 MB; the video routes raise it to their own
    # limit plus 1 MB of form): refused before the body is read.
    huge = bytes(17 * 1024 * 1024)
    message = "This file is too large" if route.endpoint == "videos.new" else "The upload is too large."
    _check_refused(
        site, route, "a request over the limit", lambda: site.send(route, "big.mp4", huge), message
    )


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.endpoint.startswith("events.")], ids=str)
def test_a_body_that_is_not_a_file_upload_is_refused_cleanly(site, route):
    """No file part at all, or a multipart body that does not parse (an event's cover
    is optional: an event without one is fine, and tested in test_events.py)."""
    for case, raw in NOT_UPLOADS:
        _check_refused(site, route, case, lambda r=raw: site.send(route, "", b"", raw=r), None)


def test_the_declared_type_is_never_trusted(site):
    """The content decides, not the name or the content-type: a real picture labelled
    as a Windows program becomes the avatar, re-encoded as our own JPEG (while text
    labelled as a PNG is refused, above)."""
    route = ROUTES[0]
    response = site.send(route, "setup.exe", small_png(), "application/x-msdownload")
    assert response.status_code == 302
    with site.app.app_context():
        stored = site.app.extensions["livelite.storage"].path(accounts.get_by_username("carla").avatar_path)
        assert stored.name == "avatar.jpg" and stored.read_bytes()[:3] == b"\xff\xd8\xff"


def test_a_video_only_the_conversion_finds_broken_ends_failed_with_its_files_removed(site):
    """Its picture reads from start to end, so the upload is accepted; ffmpeg cannot
    open its sound, so the conversion fails: the video ends ``failed`` with a reason
    the creator can act on, every file of it is removed, and the creator is told."""
    before = site.files()
    response = site.send(ROUTES[6], "clip.mp4", unconvertible_mp4())
    assert response.status_code == 201, response.get_json()
    video_id = response.get_json()["id"]
    assert response.get_json()["status"] == "processing"
    with site.app.app_context():
        videos.process(video_id)  # what the queue's worker does (tests never start it)
    with site.app.app_context():
        video = db.session.get(Video, video_id)
        assert video.status == VideoStatus.FAILED
        assert videos.error_message(video).startswith("We could not convert this video.")
        assert video.source_path is None and video.file_path is None and video.thumbnail_path is None
        told = [n.kind for n in notifications.latest(accounts.get_by_username("carla"))]
        assert "video_failed" in told
    assert site.files() == before  # the upload and ffmpeg's folder are gone
    body = site.browser.get(f"/api/v1/videos/{video_id}", headers={"Authorization": f"Bearer {site.token}"})
    assert body.get_json()["status"] == "failed"
    assert body.get_json()["error"].startswith("We could not convert this video.")


def test_a_bad_cover_on_edit_keeps_the_cover_in_place(site):
    """Editing with a broken picture changes nothing: the old cover stays, file and row
    (and the page says why)."""
    with site.app.app_context():
        cover = db.session.get(Event, site.event_id).cover_path
    path = site.app.extensions["livelite.storage"].path(cover)
    before = path.read_bytes()
    response = site.send(Route("events.edit", "image"), "c.png", TEXT)
    assert response.status_code == 422
    with site.app.app_context():
        assert db.session.get(Event, site.event_id).cover_path == cover
    assert path.read_bytes() == before
