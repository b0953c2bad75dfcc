"""A live becomes a replay, as people use it, in Debian's Chromium against a real server.

The host goes live from the studio with the fake camera; a viewer chats in the live;
the host ends it. On Settings → Replays the replay is there, private, and its MP4 is
made by the server's background queue while the page watches (Socket.IO progress):
the host downloads it (OpenCV decodes it, its length is the replay's), makes the
replay public and posts a part of it to the feed, which converts into a video. The
viewer opens the replay and sees their own message come back at its moment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import cv2
import pytest
from livelite_e2e import LiveServer, log_in, start_server, stop_server
from playwright.sync_api import Page, expect
from test_e2e_room import PASSWORD, api, create_people, go_live, patient, say, watch

pytestmark = pytest.mark.e2e

PEOPLE = {"rhana": "Hana Host", "rvic": "Vic Viewer"}
TITLE = "Clay workshop"
MESSAGE = "Lovely glaze on that bowl!"
# The live runs at least this long, so that there is something to trim.
LIVE_SECONDS = 8
# The background work on a busy machine (ffmpeg remux, conversion).
BACKGROUND = 90_000


@pytest.fixture(scope="module")
def replay_flow_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-replays") / "instance")
    try:
        create_people(server, PEOPLE, {"rhana"}, {"VIDEO_MIN_SECONDS": 1})
        yield server
    finally:
        stop_server(server)


def person(make_page, server: LiveServer, username: str) -> Page:
    page = patient(make_page(server))
    log_in(page, username, PASSWORD)
    return page


def test_a_live_ends_its_host_downloads_and_posts_the_replay_and_a_viewer_watches_the_chat_again(
    make_page, replay_flow_server, tmp_path
):
    server = replay_flow_server

    # 1. The live: the host goes live, the viewer says something, the host ends it.
    host = make_page(server)
    live_id = go_live(host, server, "rhana", TITLE)
    viewer = watch(make_page(server), "rvic", live_id)
    say(viewer, MESSAGE)
    expect(viewer.get_by_role("log", name="Chat messages").get_by_text(MESSAGE)).to_be_visible()
    host.wait_for_timeout(LIVE_SECONDS * 1000)
    host.once("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="End live").click()
    expect(host.get_by_role("status").filter(has_text="Your live has ended.")).to_be_visible(timeout=20_000)

    # 2. Settings → Replays: the replay, private, its MP4 made in the background.
    host.goto("/settings/replays")
    card = host.get_by_role("listitem").filter(has=host.get_by_role("heading", name=TITLE))
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Private")
    replay_id = int(card.get_attribute("id").removeprefix("replay-"))
    download = card.get_by_role("link", name=re.compile("^Download MP4"))
    expect(download).to_be_visible(timeout=BACKGROUND)
    with host.expect_download() as waiting:
        download.click()
    saved = tmp_path / waiting.value.suggested_filename
    waiting.value.save_as(saved)
    assert saved.name.startswith(f"{TITLE} 20") and saved.suffix == ".mp4"
    capture = cv2.VideoCapture(str(saved))
    try:
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = capture.get(cv2.CAP_PROP_FPS)
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok and frame is not None and frame.shape[1] > 0
    replay = api_replay(server, host, replay_id)
    assert replay["duration_s"] >= LIVE_SECONDS - 2
    assert abs(frames / fps - replay["duration_s"]) < 1.0

    # 3. The host makes it public and posts its first seconds to the feed.
    card.get_by_text("Rename or change who can watch").click()
    card.get_by_label("Who can watch").select_option("public")
    card.get_by_role("button", name="Save").click()
    card = host.locator(f"#replay-{replay_id}")
    expect(card).to_contain_text("Public")
    card.get_by_role("link", name=re.compile("^Post to feed")).click()
    host.get_by_label("Title").fill("Glazing in five seconds")
    host.get_by_label("Start").fill("0:01")
    host.get_by_label("End").fill("0:06")
    host.get_by_role("button", name="Post to feed").click()
    expect(host).to_have_url(re.compile(r"/v/\d+$"))
    video_id = int(host.url.rsplit("/", 1)[1])
    expect(host.get_by_role("heading", name="Glazing in five seconds")).to_be_visible()
    # The conversion runs in the background; the page turns into the player when done.
    host.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 1; }",
        timeout=BACKGROUND,
    )
    video = api(server, f"/api/v1/videos/{video_id}")
    assert video["status"] == "ready" and abs(video["duration_s"] - 5.0) < 0.6

    # 4. The viewer watches the replay: their message comes back at its moment.
    viewer.goto(f"/replays/{replay_id}")
    expect(viewer.get_by_role("heading", name=TITLE)).to_be_visible()
    chat = viewer.get_by_role("log", name="Chat messages")
    viewer.wait_for_function("() => document.querySelector('[data-replay-video]').readyState >= 1")
    viewer.evaluate(
        "() => { const v = document.querySelector('[data-replay-video]'); v.muted = true; return v.play(); }"
    )
    expect(chat.get_by_text(MESSAGE)).to_be_visible(timeout=30_000)
    expect(chat.locator(".room-msg").filter(has_text="Vic Viewer")).to_have_count(1)


def api_replay(server: LiveServer, page: Page, replay_id: int) -> dict:
    """The replay as its owner's session reads it from the API."""
    response = page.request.get(f"{server.url}/api/v1/replays/{replay_id}")
    assert response.ok, response.text()
    return response.json()
