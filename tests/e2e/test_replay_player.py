"""The replay player as a viewer uses it, in Debian's Chromium against a real server.

A live is recorded by the app's own ingest (10 s of ffmpeg test picture), with chat
messages and questions sent through the room's services at set seconds of it; ending
it makes the replay, which its host makes public. A visitor opens it, plays it and
sees a chat message appear once its second has passed (HTML in a message shows as
text); the chapters (the answered questions) seek the video there, by click and by
keyboard, and the answered question shows pinned over the video; seeking back takes
the chat and the pin back to that moment. On a phone the chat is under the video.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from livelite_e2e import PHONE, REPO_ROOT, LiveServer, start_server, stop_server
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PASSWORD = "replay-password-1"
INJECTION = "<img src=x onerror=\"document.title='pwned'\"> is text"

# One process records the live and makes the replay, as the server would: people, a
# live, the ingest fed with ffmpeg's test picture, chat and questions at set seconds
# (the services' clock moved by hand), the end of the live, the replay made public.
# The recording's first segment is dated at the live's start, so second N of the
# live is second N of the replay. Prints {"replay_id", "live_id"}.
SEED_REPLAY = """
import json, os, sys
from datetime import date, timedelta
sys.path.insert(0, "tests")
from media_support import publish_recording
from livelite import create_app
from livelite.extensions import db
from livelite.media import hls
from livelite.models import Live, Role
from livelite.server import ensure_database
from livelite.services import accounts, chat, lives, questions, replays
from livelite.services.settings import set_setting

password, injection = sys.argv[1], sys.argv[2]
app = create_app()
media = app.extensions["livelite.media"]
with app.app_context():
    ensure_database(app)
    for username, name, creator in (
        ("phost", "Pia Host", True), ("pchat", "Chad Chatter", False), ("pview", "Val Viewer", False)
    ):
        accounts.register(
            username=username, display_name=name, email=username + "@example.com", password=password,
            birth_date=date(1990, 5, 5), role=Role.CREATOR if creator else Role.MEMBER, check_open=False,
        )
    set_setting("QUESTION_INTERVAL_SECONDS", 0)
    live_id = lives.start_live(accounts.get_by_username("phost"), title="Watercolour basics", visibility="public").id
publish_recording(app, live_id, seconds=10)
if "guest" in sys.argv[3:]:  # screens_replays.py: Chad joins on stage for 6 s
    from media_support import clusters, recording
    from livelite.models import FeedSource
    with app.app_context():
        live = lives.get_live(live_id)
        feed = lives.open_feed(live, accounts.get_by_username("pchat"), source=FeedSource.BROWSER,
                               input_format="webm", video_codec="h264")
        media.start_ingest(feed)
        guest_feed = feed.id
    for chunk in clusters(recording("h264", seconds=6)):
        media.write(guest_feed, chunk)
    media.finish_feed(guest_feed)
with app.app_context():
    live = db.session.get(Live, live_id)
    for feed in live.feeds:
        folder = media.feed_dir(feed)
        first = hls.feed_runs(folder)[0].segments[0]
        finished = live.started_at.timestamp() + first.duration
        os.utime(folder / first.uri, (finished, finished))
    person = accounts.get_by_username

    def at(seconds):
        moment = live.started_at + timedelta(seconds=seconds)
        chat.utcnow = questions.utcnow = lambda: moment

    at(0.5); chat.send_message(live, person("pview"), "Hi everyone!")
    at(2.0); lens = questions.ask(live, person("pview"), "Which lens is that?")
    at(3.0); chat.send_message(live, person("pchat"), "Hello at three seconds")
    at(4.0); chat.send_message(live, person("pview"), injection)
    at(4.5); recorded = questions.ask(live, person("pchat"), "Is this live recorded?")
    at(5.5); chat.send_message(live, person("phost"), "Thanks for coming, everyone")
    at(6.0); questions.answer(live, person("phost"), lens.id)
    at(6.5); nextweek = questions.ask(live, person("pview"), "What do we paint next week?")
    at(7.0); questions.vote(live, person("pchat"), nextweek.id)
    at(8.0); chat.send_message(live, person("pchat"), "The colours are lovely")
    at(8.5); questions.answer(live, person("phost"), recorded.id)
media.end_live(live_id, "host")
with app.app_context():
    replay = replays.replay_of_live(db.session.get(Live, live_id))
    replays.update(replay, accounts.get_by_username("phost"), visibility="public")
    if "guest" in sys.argv[3:]:
        replays.make_pending()  # the MP4s, and everyone side by side
    print(json.dumps({"replay_id": replay.id, "live_id": live_id}))
media.shutdown()
"""


def seed_replay(server: LiveServer, *options: str) -> dict:
    """Run SEED_REPLAY against the server's instance; ``guest``: with a guest's feed."""
    result = subprocess.run(
        [sys.executable, "-c", SEED_REPLAY, PASSWORD, INJECTION, *options],
        cwd=REPO_ROOT, env=server.env, check=True, timeout=180, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def replay_server(tmp_path_factory) -> Iterator[tuple[LiveServer, dict]]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-replay") / "instance")
    try:
        yield server, seed_replay(server)
    finally:
        stop_server(server)


def video_time(page: Page) -> float:
    return page.evaluate("document.querySelector('[data-replay-video]').currentTime")


def open_replay(page: Page, replay_id: int) -> Page:
    page.set_default_timeout(20_000)  # a player on a busy machine
    page.goto(f"/replays/{replay_id}")
    expect(page.get_by_role("heading", name="Watercolour basics")).to_be_visible()
    # hls.js loaded the playlist and knows the video's length.
    page.wait_for_function("() => document.querySelector('[data-replay-video]').readyState >= 1")
    return page


def test_a_viewer_watches_a_replay_with_its_chat_and_chapters(make_page, replay_server):
    server, seeded = replay_server
    page = open_replay(make_page(server), seeded["replay_id"])
    chat = page.get_by_role("log", name="Chat messages")
    pinned = page.locator("[data-replay-pinned]")

    # At 0:00 nothing was said yet, nothing is pinned.
    expect(page.get_by_text("No messages yet at this point of the replay.")).to_be_visible()
    expect(chat.locator(".room-msg")).to_have_count(0)
    expect(pinned).to_be_hidden()

    # Playing: the message appears once its second has passed, not before.
    page.evaluate(
        "() => { const v = document.querySelector('[data-replay-video]'); v.muted = true; return v.play(); }"
    )
    expect(chat.get_by_text("Hello at three seconds")).to_be_visible()
    assert video_time(page) >= 2.9
    expect(chat.locator(".room-msg-text").filter(has_text="is text")).to_have_text(INJECTION)
    assert chat.locator("img[src='x']").count() == 0 and page.title() != "pwned"
    page.evaluate("() => document.querySelector('[data-replay-video]').pause()")

    # The chapters are the answered questions, in order, with their time.
    page.get_by_role("tab", name=re.compile("^Chapters")).click()
    chapters = page.get_by_role("list", name="Chapters").get_by_role("button")
    expect(chapters).to_have_count(2)
    expect(chapters.nth(0)).to_have_accessible_name("Chapter 1, at 0:06: Which lens is that?")
    expect(chapters.nth(1)).to_contain_text("0:08")

    # Choosing one seeks there and plays; the answered question is pinned.
    chapters.nth(1).click()
    page.wait_for_function(
        "() => Math.abs(document.querySelector('[data-replay-video]').currentTime - 8.5) < 1"
    )
    expect(pinned).to_be_visible()
    expect(pinned).to_contain_text("Is this live recorded?")
    expect(pinned).to_contain_text("Chad Chatter")
    expect(chapters.nth(1)).to_have_attribute("aria-current", "true")

    # Back to 0:01: the chat and the pin are as they were then.
    page.evaluate(
        "() => { const v = document.querySelector('[data-replay-video]'); v.pause(); v.currentTime = 1; }"
    )
    expect(pinned).to_be_hidden()
    page.get_by_role("tab", name="Chat").click()
    expect(chat.get_by_text("Hello at three seconds")).to_have_count(0)
    expect(chat.locator(".room-msg")).to_have_count(1)

    # By keyboard: Enter on the first chapter.
    page.get_by_role("tab", name="Chat").focus()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name=re.compile("^Chapters"))).to_have_attribute("aria-selected", "true")
    chapters.nth(0).focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => Math.abs(document.querySelector('[data-replay-video]').currentTime - 6) < 1"
    )
    page.evaluate("() => document.querySelector('[data-replay-video]').pause()")
    assert 6 <= video_time(page) < 8
    expect(pinned).to_contain_text("Which lens is that?")
    # Every message said by then, once each, in order, and nothing said later.
    page.get_by_role("tab", name="Chat").click()
    expect(chat.locator(".room-msg-text")).to_have_text(
        ["Hi everyone!", "Hello at three seconds", INJECTION, "Thanks for coming, everyone"]
    )

    # The questions asked so far, with their state then.
    page.get_by_role("tab", name=re.compile("^Questions")).click()
    questions = page.get_by_role("list", name="Questions")
    expect(questions.locator(".room-q").filter(has_text="Which lens is that?")).to_contain_text("Answered")


def test_on_a_phone_the_chat_is_under_the_video(make_page, replay_server):
    server, seeded = replay_server
    page = open_replay(make_page(server, **PHONE), seeded["replay_id"])
    layout = page.evaluate(
        """() => {
          const player = document.querySelector('.player').getBoundingClientRect();
          const room = document.querySelector('.replay-room').getBoundingClientRect();
          return {fits: document.documentElement.scrollWidth <= 390, below: room.top >= player.bottom};
        }"""
    )
    assert layout == {"fits": True, "below": True}
    page.evaluate("() => { document.querySelector('[data-replay-video]').currentTime = 5; }")
    expect(
        page.get_by_role("log", name="Chat messages").get_by_text("Hello at three seconds")
    ).to_be_visible()
