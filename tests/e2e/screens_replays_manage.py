"""Screenshots of the owner's replay pages: ``python tests/e2e/screens_replays_manage.py [OUTDIR]``.

Unlike the other screens scripts, the app runs in this process, without a server:
Chromium's requests are answered by Flask's test client (``page.route``). That keeps
each replay in the state the picture needs — a server would start its replay queue
and finish the "making" MP4 before it could be seen. The replays are made by the real
pipeline (the ingest's ffmpeg, the live's end, ``make_pending``); the MP4 of one is
then shown as being made and another as failed.

Saved at 1280x800 and 390x844, light and dark: ``replays-<page>-<device>-<scheme>.png``
for the list (a ready replay with a guest, one being made, one failed and about to be
deleted), the post form with errors, the delete confirmation, the profile's replays,
and /admin/storage. Then, once, the list follows a file's progress and its end with no
reload (through the progress route: Socket.IO needs a server). Not a test: pytest
skips it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

import flask_migrate  # noqa: E402
from factories import PASSWORD, make_admin, make_user  # noqa: E402
from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT  # noqa: E402
from media_support import clusters, publish_recording, recording  # noqa: E402
from pages import submit  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from screens import SCHEMES, VIEWPORTS, capture  # noqa: E402

from livelite import create_app  # noqa: E402
from livelite.extensions import db  # noqa: E402
from livelite.models import FeedSource, FileStatus, Live, Replay, Role  # noqa: E402
from livelite.models.base import utcnow  # noqa: E402
from livelite.services import accounts, guests, lives, replays  # noqa: E402

BASE = "http://replays.test"
FORWARDED = ("content-type", "accept", "range", "x-csrftoken", "referer", "if-none-match", "if-range")


def build(instance: Path):
    app = create_app(
        {
            "INSTANCE_PATH": instance,
            "TESTING": True,
            "RATELIMIT_ENABLED": False,
            "SOCKETIO_ASYNC_MODE": "threading",
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
    return app


def a_live(app, title: str, *, seconds: int = 4, guest: str | None = None) -> int:
    """A live of Ada's, recorded by the real ingest, ended; returns its replay's id."""
    media = app.extensions["livelite.media"]
    with app.app_context():
        live_id = lives.start_live(accounts.get_by_username("ada"), title=title).id
    publish_recording(app, live_id, seconds=seconds)
    if guest:
        with app.app_context():
            live = lives.get_live(live_id)
            person = accounts.get_by_username(guest)
            guests.invite(live, live.host, person.id)
            guests.accept(live, person, person.id)
            feed = lives.open_feed(
                live, person, source=FeedSource.BROWSER, input_format="webm", video_codec="h264"
            )
            media.start_ingest(feed)
            feed_id = feed.id
        for chunk in clusters(recording("h264", seconds=seconds)):
            media.write(feed_id, chunk)
        media.finish_feed(feed_id)
    media.end_live(live_id, "host")
    with app.app_context():
        return replays.replay_of_live(db.session.get(Live, live_id)).id


def prepare(app) -> dict[str, int]:
    with app.app_context():
        make_admin("sam")
        ada = make_user("ada", role=Role.CREATOR, display_name="Ada Lovelace")
        make_user("grace", role=Role.CREATOR, display_name="Grace Hopper")
        accounts.follow(make_user("linus", display_name="Linus"), ada)
    ready = a_live(app, "Fractions without fear — live Q&A with Grace", guest="grace")
    failed = a_live(app, "Warm-up before the exam")
    making = a_live(app, "Evening practice: long division")
    with app.app_context():
        replays.make_pending()
        ada = accounts.get_by_username("ada")
        replays.update(db.session.get(Replay, ready), ada, visibility="public")
        replays.update(db.session.get(Replay, making), ada, visibility="followers")
        row = db.session.get(Replay, failed)
        row.main_feed.mp4_status, row.main_feed.mp4_error = FileStatus.FAILED, "disk_full"
        row.created_at = utcnow() - timedelta(days=86)
        row = db.session.get(Replay, making)
        row.main_feed.mp4_status, row.main_feed.mp4_progress = FileStatus.PROCESSING, 45
        db.session.commit()
    return {"ready": ready, "failed": failed, "making": making}


def serve_from(app, username: str | None):
    """A route handler answering Chromium from a test client logged in as ``username``."""
    client = app.test_client()
    if username:
        # The session cookie is for the host Chromium asks for.
        response = submit(client, "/login", {"login": username, "password": PASSWORD}, base_url=BASE)
        assert response.status_code == 302, response.status_code

    def handle(route, request) -> None:
        parts = urlsplit(request.url)
        if parts.path.startswith("/socket.io/"):
            route.abort()
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
        try:
            response = client.open(
                parts.path + (f"?{parts.query}" if parts.query else ""),
                method=request.method,
                data=request.post_data_buffer,
                headers=headers,
                base_url=BASE,
            )
            route.fulfill(
                status=response.status_code, headers=dict(response.headers), body=response.get_data()
            )
        except Exception as exc:  # noqa: BLE001 - shown: Chromium would only say the name did not resolve
            print(f"  {request.method} {request.url}: {exc!r}")
            route.abort()

    return handle


def open_page(browser, app, username, device: str, scheme: str) -> tuple[object, Page, list[str]]:
    context = browser.new_context(**VIEWPORTS[device], color_scheme=scheme, base_url=BASE)
    context.route(f"{BASE}/**", serve_from(app, username))
    page = context.new_page()
    problems: list[str] = []

    def on_console(message) -> None:
        text = message.text
        # Expected here: no Socket.IO (no server), the 422 of the post form with errors,
        # and COOP ignored on this made-up http origin.
        expected = ("socket.io", "ERR_FAILED", "status of 422", "Cross-Origin-Opener-Policy")
        if message.type == "error" and not any(part in text for part in expected):
            problems.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return context, page, problems


def shots(browser, app, ids, out: Path, device: str, scheme: str) -> list[Path]:
    saved = []

    def name(page_name: str) -> Path:
        path = out / f"replays-{page_name}-{device}-{scheme}.png"
        saved.append(path)
        return path

    context, page, problems = open_page(browser, app, "ada", device, scheme)
    page.goto("/settings/replays")
    page.wait_for_timeout(400)
    capture(page, name("list"))
    page.goto(f"/replays/{ids['ready']}/post")
    page.get_by_label("Start").fill("0:05")
    page.get_by_label("End").fill("three")
    page.get_by_role("button", name="Post to feed").click()
    page.locator("#trim_end-err, #trim_start-err").first.wait_for()
    page.wait_for_timeout(300)
    capture(page, name("post-errors"))
    page.goto(f"/replays/{ids['failed']}/delete")
    capture(page, name("delete"))
    page.goto("/@ada")
    page.wait_for_timeout(300)
    capture(page, name("profile"))
    context.close()

    context, page, more = open_page(browser, app, "sam", device, scheme)
    page.goto("/admin/storage")
    capture(page, name("admin-storage"))
    context.close()
    for problem in problems + more:
        print(f"  {device}/{scheme}: console: {problem}")
    return saved


def live_update(browser, app, ids) -> None:
    """The list follows the MP4 being made, then shows Download, with no reload."""
    context, page, problems = open_page(browser, app, "ada", "desktop", "light")
    page.goto("/settings/replays")
    page.evaluate("window.__marker = 1")
    card = page.locator(f"#replay-{ids['making']}")
    with app.app_context():
        row = db.session.get(Replay, ids["making"])
        row.main_feed.mp4_progress = 80
        db.session.commit()
    card.get_by_text("Making the MP4… 80%").wait_for(timeout=15_000)
    with app.app_context():
        row = db.session.get(Replay, ids["making"])
        row.main_feed.mp4_status = FileStatus.PENDING  # as the queue would take it up again
        db.session.commit()
        replays.make_pending()
    card.get_by_role("link", name="Download MP4").wait_for(state="visible", timeout=15_000)
    card.get_by_role("link", name="Post to feed").wait_for(state="visible", timeout=1000)
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    print("live update: 80% then Download and Post shown, no reload;", problems or "no console errors")
    context.close()


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="livelite-screens-replays-manage-") as tmp:
        app = build(Path(tmp) / "instance")
        try:
            ids = prepare(app)
            saved = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for device in VIEWPORTS:
                    for scheme in SCHEMES:
                        saved += shots(browser, app, ids, out, device, scheme)
                live_update(browser, app, ids)
                browser.close()
        finally:
            app.extensions["livelite.media"].shutdown()
    print(f"{len(saved)} screenshots in {out} ({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
