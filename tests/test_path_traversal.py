"""Path traversal on every route that serves a file (issue 9, "Bad input").

The routes are found by walking ``app.url_map``: every rule with a string or path
argument, and every view that reaches ``send_file``, ``send_from_directory``,
``send_static_file``, the media sender or a playlist composed from the media folder.
A rule this module does not know fails ``test_every_file_route_is_known``.

Canaries sit outside the media root: in the instance folder (next to the database and
the secret key) and next to the instance folder. Every file route is tried with
``../``, ``..%2f``, ``%2e%2e/``, double encoding, overlong UTF-8, backslashes, absolute
paths, NUL bytes, very long names and Unicode look-alikes, and with symlinks placed in
the media folder pointing outside it. No canary, secret key, database or source file
is ever returned, the answers are 404 (or 400), never a 500, and nothing outside the
media root changes. Each route also serves its real file, so a 404 proves the guard,
not a route that serves nothing.
"""

from __future__ import annotations

import inspect
import io
import os
import secrets
import types
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from factories import PASSWORD, make_admin, make_user
from media_support import publish_recording
from pages import submit
from werkzeug.local import LocalProxy
from werkzeug.routing import IntegerConverter

import livelite
from livelite.extensions import db
from livelite.models import FileStatus, Live, Replay, ReplayFeed, ReplayVisibility, Role, Video, Visibility
from livelite.models.base import utcnow
from livelite.services import accounts, events, lives, replays, videos

ROOT = Path(livelite.__file__).resolve().parent.parent

# Rules with a string or path argument that names a file (or a part of its path).
FILE_PATH_RULES = {
    "static": "filename",
    "media.file": "path",
    "lives.media_file": "name",
    "replays.media_file": "name",
}
# Rules with a string argument that never reaches a file (a username).
NAME_RULES = {
    "profiles.show",
    "profiles.followers",
    "profiles.following",
    "profiles.follow",
    "profiles.unfollow",
    "events.creator_feed",
    "videos.stories",
    "videos.user_videos",
    "api_users.get_user",
    "api_users.followers",
    "api_users.following",
    "api_users.follow",
    "api_users.unfollow",
    "api_videos.user_videos",
    "api_room.remove_moderator",
    "api_replays.user_replays",
}
# Rules that serve a file the database names (ids only in the URL): tried with symlinks.
STORED_FILE_RULES = {
    "lives.playlist",
    "lives.preview",
    "replays.playlist",
    "replays.thumbnail",
    "replays.composed",
    "replays.download",
    "replays.download_composed",
    "videos.file",
    "videos.thumbnail",
    # A fixed file of the app (static/js/push/sw.js).
    "push.service_worker",
}
# What a view calls to send a file or to read the media folder.
SENDERS = {"send_file", "send_from_directory", "send_static_file", "send_media", "compose"}


def _names(code: types.CodeType) -> set[str]:
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def _reaches_files(func, seen: set) -> bool:
    """Whether a view (or an app function it calls) sends a file or reads the media
    folder: followed through the app's own functions, by name."""
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if code is None:
        return getattr(func, "__name__", "") in SENDERS
    names = _names(code)
    if names & SENDERS:
        return True
    for name in names:
        target = func.__globals__.get(name)
        if isinstance(target, LocalProxy):  # request, current_user: nothing to follow
            continue
        if getattr(target, "__name__", None) in SENDERS:
            return True
        if inspect.isfunction(target) and target.__module__.startswith("livelite") and target not in seen:
            seen.add(target)
            if _reaches_files(target, seen):
                return True
    return False


def test_every_file_route_is_known(app):
    """A new rule with a string argument, or a new view that sends files, fails here
    until it is listed above (and so tried below)."""
    with_strings = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if any(not isinstance(conv, IntegerConverter) for conv in rule._converters.values())
    }
    assert with_strings == set(FILE_PATH_RULES) | NAME_RULES
    sending = {endpoint for endpoint, view in app.view_functions.items() if _reaches_files(view, set())}
    assert sending == set(FILE_PATH_RULES) | STORED_FILE_RULES


# -- the site under attack ----------------------------------------------------------------------
class Site:
    """Real files for every route (an avatar, an event cover, a live's segments and
    preview, a photo story, a replay with its thumbnail and MP4s), canaries outside
    the media root, and browsers for the owner and a visitor."""

    def __init__(self, app):
        self.app = app
        self.instance = Path(app.instance_path)
        self.media_root = Path(app.config["MEDIA_ROOT"])
        self.media_root.mkdir(parents=True, exist_ok=True)
        self.secret = f"CANARY-{secrets.token_hex(16)}"
        self.canary = self.instance / "canary.txt"
        self.canary.write_text(self.secret)
        self.next_to = self.instance.parent / f"canary-next-{secrets.token_hex(4)}.txt"
        self.next_to.write_text(self.secret)
        # Named like what the routes serve, so only the guard can stop them.
        self.lookalike = self.instance / "run-0001-00000.m4s"
        self.lookalike.write_text(self.secret)
        with app.app_context():
            make_admin()
            maker = make_user("maker", role=Role.CREATOR)
            make_user("other", role=Role.CREATOR)
            accounts.set_avatar(maker, _png())
            self.avatar = maker.avatar_path
            self.cover = events.create_event(
                maker, title="Covered", starts_at=utcnow() + timedelta(days=2), cover=_png()
            ).cover_path
            story = videos.upload(maker, io.BytesIO(_png()), kind="story")
            self.story_id = story.id
            self.live_id = lives.start_live(maker, title="On air").id
        publish_recording(app, self.live_id, seconds=2)
        with app.app_context():
            live = db.session.get(Live, self.live_id)
            self.feed_id = live.feeds[0].id
            self.feed_dir = live.feeds[0].media_dir
            # A preview image, as the media tick makes one.
            live.preview_path = self._stored("previews", "preview.jpg", _png())
            db.session.commit()
            ended_id = lives.start_live(accounts.get_by_username("other"), title="Done").id
        publish_recording(app, ended_id, seconds=2)
        app.extensions["livelite.media"].end_live(ended_id, "host")
        with app.app_context():
            replay = replays.replay_of_live(db.session.get(Live, ended_id))
            replay.visibility = ReplayVisibility.PUBLIC
            feed = replay.feeds[0]
            # The MP4s as the work queue makes them (tests never start it).
            feed.mp4_path = self._stored("replays", "main.mp4", b"\0\0\0\x18ftypmp42")
            feed.mp4_status = FileStatus.READY
            replay.composed_path = self._stored("replays", "composed.mp4", b"\0\0\0\x18ftypmp42")
            replay.composed_status = FileStatus.READY
            db.session.commit()
            self.replay_id, self.replay_feed_id, self.replay_dir = replay.id, feed.id, feed.media_dir
            assert replay.thumbnail_path
        self.owner = _login(app, "maker")
        self.other = _login(app, "other")
        self.visitor = app.test_client()
        self.before = self.outside()

    def _stored(self, category: str, name: str, data: bytes) -> str:
        return self.app.extensions["livelite.storage"].save(category, name, data)

    def outside(self) -> dict[str, tuple[int, int]]:
        """Every file in and next to the instance folder but outside the media root:
        its size and modification time (the database's journal aside)."""
        found = {}
        for path in [*self.instance.rglob("*"), self.next_to]:
            if path.is_file() and self.media_root not in path.parents and "livelite.db" not in path.name:
                stat = path.stat()
                found[str(path)] = (stat.st_size, stat.st_mtime_ns)
        return found

    def forbidden(self) -> list[bytes]:
        """What must never come back: the canary, the secret key, the database, the code."""
        secret_key = (
            (self.instance / ".secret_key").read_bytes() if (self.instance / ".secret_key").exists() else b""
        )
        return [
            self.secret.encode(),
            *([secret_key] if secret_key else []),
            b"SQLite format 3\0",
            b"def create_app(",  # livelite/__init__.py
            b"app = create_app()",  # app.py
        ]

    def check(self, client, url: str, *, allowed=(400, 404)) -> None:
        response = client.get(url)
        shown = url if len(url) < 300 else f"{url[:300]}… ({len(url)} characters)"
        assert response.status_code in allowed, f"{shown}: {response.status_code}"
        body = response.get_data()
        for secret in self.forbidden():
            assert secret not in body, f"{shown} returned what it must not"
        accel = response.headers.get("X-Accel-Redirect", "")
        assert ".." not in accel and "canary" not in accel, f"{shown}: X-Accel-Redirect {accel}"


def _png() -> bytes:
    import cv2
    import numpy as np

    image = np.full((180, 320, 3), (20, 140, 220), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def _login(app, username: str):
    browser = app.test_client()
    assert submit(browser, "/login", {"login": username, "password": PASSWORD}).status_code == 302
    return browser


@pytest.fixture
def attacked(app):
    site = Site(app)
    yield site
    app.extensions["livelite.media"].shutdown()
    site.next_to.unlink(missing_ok=True)


# -- the payloads ----------------------------------------------------------------------------------
def encodings(relative: str) -> list[str]:
    """``relative`` (a ``../`` path to a canary) as attackers write it in a URL."""
    parts = relative.split("/")
    return [
        relative,
        relative.replace("..", "%2e%2e"),
        relative.replace("..", ".%2e"),
        "%2f".join(parts),
        "%2F".join(parts),
        relative.replace("..", "%252e%252e").replace("/", "%252f"),  # double encoding
        relative.replace("/", "%5c"),  # backslashes
        relative.replace("/", "\\"),
        relative.replace("../", "..\\"),
        relative.replace("..", "%c0%ae%c0%ae").replace("/", "%c0%af"),  # overlong UTF-8
        relative.replace("../", "....//"),
        relative.replace("../", "..;/"),
        relative.replace("../", "./../"),
        relative.replace("..", "\u2025"),  # two-dot leader
        relative.replace("..", "\uff0e\uff0e"),  # fullwidth full stops
        relative + "%00",
        relative + "%00.jpg",
    ]


def attacks(site: Site, base: Path, prefix: str = "") -> list[str]:
    """Paths under a route whose files live in ``base``: every way to the canaries."""
    found = []
    for target in (site.canary, site.next_to, ROOT / "app.py", site.instance / ".secret_key"):
        relative = os.path.relpath(target, base / prefix if prefix else base)
        found += [prefix + e for e in encodings(relative)]
        found += [quote(str(target)), "/" + str(target).lstrip("/"), "%2f" + quote(str(target).lstrip("/"))]
        found.append(prefix + "../" * 40 + str(target).lstrip("/"))  # deeper than the root
    found += [
        prefix + "a" * 5000,
        prefix + "../" * 3000,
        prefix + "%00",
        prefix + ".",
        prefix + "..",
        prefix + "...",
        prefix + "~",
        prefix + "file:///etc/passwd",
        prefix + "%ff%fe",
    ]
    return found


def test_traversal_on_media_and_static_paths_never_leaves_their_folder(attacked):
    site = attacked
    media, static = site.media_root, Path(site.app.static_folder)
    # The real files are served.
    for path in (site.avatar, site.cover):
        response = site.visitor.get(f"/media/{path}")
        assert response.status_code == 200 and response.data[:3] == b"\xff\xd8\xff", path
    assert site.visitor.get("/static/css/app.css").status_code == 200
    urls = [f"/media/{p}" for prefix in ("", "avatars/", "covers/") for p in attacks(site, media, prefix)]
    urls += [f"/static/{p}" for prefix in ("", "css/") for p in attacks(site, static, prefix)]
    for url in urls:
        site.check(site.visitor, url, allowed=(400, 404, 308))
    assert site.outside() == site.before


def test_traversal_on_segment_names_never_leaves_the_feed(attacked):
    site = attacked
    live = f"/lives/{site.live_id}/feeds/{site.feed_id}"
    replay = f"/replays/{site.replay_id}/feeds/{site.replay_feed_id}"
    for base, folder in ((live, site.feed_dir), (replay, site.replay_dir)):
        assert site.visitor.get(f"{base}/index.m3u8").status_code == 200
        good = site.visitor.get(f"{base}/run-0001-init.mp4")
        assert good.status_code == 200 and good.data[4:8] == b"ftyp", base
        names = [quote(p, safe="%") for p in attacks(site, site.media_root / folder)]
        names += [
            "run-0001-00000.m4s%2f..%2f..%2f..%2fcanary.txt",
            "run-0001-init.mp4%00",
            "run-0001-00000.m4s/",
        ]
        for name in names:
            site.check(site.visitor, f"{base}/{name}")
    assert site.outside() == site.before


def test_names_in_urls_are_never_paths(attacked):
    """Username routes take any string: traversal, NUL and huge names are a 404."""
    site = attacked
    rules = [r for r in site.app.url_map.iter_rules() if r.endpoint in NAME_RULES]
    for rule in rules:
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        for name in [
            "..%2f..%2fcanary.txt",
            "..",
            "%2e%2e",
            "a%00b",
            "%00",
            "x" * 3000,
            "%c0%ae%c0%ae",
            "\u2025",
        ]:
            url = rule.rule.replace("<username>", name)
            response = site.owner.open(url, method=method, headers={"Accept": "application/json"})
            assert response.status_code in (302, 400, 403, 404, 405, 422), (
                f"{method} {url}: {response.status_code}"
            )
            assert site.secret.encode() not in response.get_data()
    assert site.outside() == site.before


def test_the_invite_of_file_urls_is_checked_and_never_written_raw(attacked):
    """The file routes of a live also take ``?invite=``: an odd one is a refusal (it
    was a 500 for non-ASCII text), and a public live's playlist, which carries the
    invite on to each segment, never takes lines from it."""
    site = attacked
    base = f"/lives/{site.live_id}"
    playlist = f"{base}/feeds/{site.feed_id}/index.m3u8"
    injected = site.visitor.get(playlist + "?invite=x%0A%23EXT-X-ENDLIST%0Ahttps://evil.example/seg.m4s")
    assert injected.status_code == 200
    lines = injected.get_data(as_text=True).splitlines()
    assert not [line for line in lines if line.startswith("https://") or line == "#EXT-X-ENDLIST"]
    with site.app.app_context():
        live = db.session.get(Live, site.live_id)
        live.visibility = Visibility.INVITE
        db.session.commit()
        token = live.invite_token
    urls = [playlist, f"{base}/feeds/{site.feed_id}/run-0001-00000.m4s", f"{base}/preview.jpg", base]
    for url in urls:
        assert site.visitor.get(f"{url}?invite={token}").status_code == 200, url
        for invite in ["%C3%A9", "%00", "x" * 5000, "..%2F..%2Fcanary.txt", token + "x", "%ff", ""]:
            site.check(site.visitor, f"{url}?invite={invite}", allowed=(403, 404))
    assert site.outside() == site.before


# -- symlinks ------------------------------------------------------------------------------------
def _replace_with_link(path: Path, target: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to(target)


def test_symlinks_in_the_media_folder_pointing_outside_are_not_followed(attacked):
    """Whatever the database or the URL names, a file in the media folder that is a
    link to somewhere else is not served (nor a folder that is such a link)."""
    site = attacked
    storage = site.app.extensions["livelite.storage"]
    # Before: every route serves its real file (the owner may see everything).
    urls = {
        "avatar": f"/media/{site.avatar}",
        "cover": f"/media/{site.cover}",
        "segment": f"/lives/{site.live_id}/feeds/{site.feed_id}/run-0001-00000.m4s",
        "preview": f"/lives/{site.live_id}/preview.jpg",
        "replay segment": f"/replays/{site.replay_id}/feeds/{site.replay_feed_id}/run-0001-00000.m4s",
        "replay thumbnail": f"/replays/{site.replay_id}/thumb.jpg",
        "story": f"/v/{site.story_id}/file",
        "story thumbnail": f"/v/{site.story_id}/thumb.jpg",
    }
    owner_urls = {
        "download": f"/replays/{site.replay_id}/download/{site.replay_feed_id}",
        "composed download": f"/replays/{site.replay_id}/download/composed",
        "composed": f"/replays/{site.replay_id}/composed.mp4",
    }
    for name, url in {**urls}.items():
        assert site.owner.get(url).status_code == 200, name
    for name, url in owner_urls.items():
        assert site.other.get(url).status_code == 200, name
    # Then each file becomes a link to the canary.
    with site.app.app_context():
        video = db.session.get(Video, site.story_id)
        replay = db.session.get(Replay, site.replay_id)
        feed = db.session.get(ReplayFeed, site.replay_feed_id)
        live = db.session.get(Live, site.live_id)
        stored = [
            site.avatar,
            site.cover,
            f"{site.feed_dir}/run-0001-00000.m4s",
            live.preview_path,
            f"{site.replay_dir}/run-0001-00000.m4s",
            replay.thumbnail_path,
            video.file_path,
            video.thumbnail_path,
            feed.mp4_path,
            replay.composed_path,
        ]
    for relative in stored:
        _replace_with_link(storage.path(relative), site.canary)
    for url in urls.values():
        site.check(site.owner, url)
    for url in owner_urls.values():
        site.check(site.other, url)
    # A folder of the media root that is a link outside it, and a run playlist that is one.
    (site.media_root / "avatars" / "linked").symlink_to(site.instance, target_is_directory=True)
    site.check(site.visitor, "/media/avatars/linked/canary.txt")
    site.check(site.visitor, "/media/avatars/linked/run-0001-00000.m4s")
    playlist = site.next_to.with_suffix(".m3u8")
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{site.secret}\n#EXT-X-ENDLIST\n")
    try:
        linked_run = storage.path(f"{site.feed_dir}/run-0009.m3u8")
        linked_run.symlink_to(playlist)
        listed = site.owner.get(f"/lives/{site.live_id}/feeds/{site.feed_id}/index.m3u8")
        assert listed.status_code == 200 and site.secret.encode() not in listed.data
        # The whole feed folder a link outside: the playlist is not read from there.
        folder = storage.path(site.feed_dir)
        moved = folder.with_name(folder.name + "-moved")
        folder.rename(moved)
        folder.symlink_to(site.instance, target_is_directory=True)
        site.check(site.owner, f"/lives/{site.live_id}/feeds/{site.feed_id}/index.m3u8")
        site.check(site.owner, f"/lives/{site.live_id}/feeds/{site.feed_id}/run-0001-00000.m4s")
    finally:
        playlist.unlink(missing_ok=True)
    assert site.outside() == {**site.before}


def test_behind_nginx_a_link_outside_is_not_handed_over_either(make_app):
    """With X-Accel-Redirect, nginx would send whatever the app names: the app must
    not name a link that leaves the media root."""
    app = make_app(X_ACCEL_REDIRECT_PREFIX="/protected-media/")
    site = Site(app)
    try:
        url = f"/lives/{site.live_id}/feeds/{site.feed_id}/run-0001-00000.m4s"
        good = site.owner.get(url)
        assert good.status_code == 200 and good.headers["X-Accel-Redirect"].endswith("run-0001-00000.m4s")
        storage = app.extensions["livelite.storage"]
        _replace_with_link(storage.path(f"{site.feed_dir}/run-0001-00000.m4s"), site.lookalike)
        refused = site.owner.get(url)
        assert refused.status_code == 404 and "X-Accel-Redirect" not in refused.headers
    finally:
        app.extensions["livelite.media"].shutdown()
        site.next_to.unlink(missing_ok=True)
