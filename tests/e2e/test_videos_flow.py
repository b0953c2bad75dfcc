"""A short video as people use it, in Debian's Chromium against a real server: the
creator uploads a generated clip with a caption and a link to their event, watches
the conversion reach ready, the video plays; another person RSVPs from its card."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import imageio_ffmpeg
import pytest
from livelite_e2e import LiveServer, log_in, start_server, stop_server
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

CREATOR = ("vera", "vera-password-1")
FAN = ("finn", "finn-password-1")


@pytest.fixture(scope="module")
def videos_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-videos") / "instance")
    try:
        server.cli(
            "create-user", CREATOR[0], "--email", "vera@example.com", "--password", CREATOR[1],
            "--birthdate", "1988-04-02", "--display-name", "Vera", "--admin",
        )  # fmt: skip
        server.cli(
            "create-user", FAN[0], "--email", "finn@example.com", "--password", FAN[1],
            "--birthdate", "1999-02-03", "--display-name", "Finn",
        )  # fmt: skip
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    """Six seconds of 1280x720 test picture and tone: long enough to see it convert."""
    path = tmp_path_factory.mktemp("clips") / "holiday.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000",
            "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path


def test_upload_convert_watch_and_rsvp_from_the_card(make_page, browser, videos_server, clip_file, tmp_path):
    creator = make_page(videos_server)
    log_in(creator, *CREATOR)
    creator.goto("/events/new")
    creator.get_by_label("Title").fill("Q&A after the video")
    tomorrow = creator.evaluate(
        "() => { const d = new Date(Date.now() + 26 * 3600000);"
        " const p = n => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth()+1)}-${p(d.getDate())}T18:00`; }"
    )
    creator.get_by_label("Starts at").fill(tomorrow)
    creator.get_by_role("button", name="Schedule").click()
    expect(creator.get_by_role("heading", name="Q&A after the video")).to_be_visible()

    # A refusal shows next to the file, without leaving the page. Chromium logs the
    # 422 answer as a console error, which make_page would count as a page problem,
    # so this part runs in a context of its own.
    context = browser.new_context(base_url=videos_server.url)
    try:
        refused = context.new_page()
        log_in(refused, *CREATOR)
        refused.goto("/videos/new")
        text = tmp_path / "notes.mp4"
        text.write_text("not a video at all\n" * 20)
        refused.get_by_label("Video or picture").set_input_files(text)
        refused.get_by_role("button", name="Post").click()
        expect(refused.locator("#file-err")).to_have_text(
            "This file is not a video we can read. Upload an MP4, MOV or WebM video."
        )
        expect(refused).to_have_url(f"{videos_server.url}/videos/new")
    finally:
        context.close()

    creator.goto("/videos/new")
    creator.get_by_label("Video or picture").set_input_files(clip_file)
    creator.get_by_label("Caption").fill("Test pattern, with sound")
    creator.get_by_label("Link an upcoming LIVE event").select_option(label="Q&A after the video")
    creator.get_by_role("button", name="Post").click()
    expect(creator).to_have_url(f"{videos_server.url}/v/1", timeout=30_000)
    # The conversion page follows progress live, then turns into the player.
    player = creator.locator("video[data-video-player]")
    progress = creator.locator("[data-video-progress]")
    expect(progress.or_(player)).to_be_visible()
    seen = []
    for _ in range(600):
        try:
            value = creator.evaluate(
                "() => { const bar = document.querySelector('[data-video-progress] progress');"
                " return bar ? bar.value : null; }"
            )
        except PlaywrightError:  # the page is reloading into the player
            value = None
        if value is None and player.count():
            break
        if value is not None:
            seen.append(value)
        creator.wait_for_timeout(100)
    assert seen == sorted(seen), seen  # the bar only moves forward...
    assert not seen or seen[-1] == 100, seen  # ...and fills before the player appears
    expect(player).to_be_visible(timeout=60_000)
    status = creator.request.get(f"{videos_server.url}/api/v1/videos/1").json()
    assert status["status"] == "ready" and status["progress"] == 100
    creator.wait_for_function("() => document.querySelector('video[data-video-player]').readyState >= 1")
    assert abs(player.evaluate("v => v.duration") - 6) < 0.5
    assert (player.evaluate("v => v.videoWidth"), player.evaluate("v => v.videoHeight")) == (1080, 606)
    expect(creator.get_by_text("Test pattern, with sound")).to_be_visible()
    expect(creator.get_by_text("Your event")).to_be_visible()

    creator.goto(f"/@{CREATOR[0]}")
    expect(creator.locator('a.video-tile[href="/v/1"] img')).to_be_visible()

    fan = make_page(videos_server)
    log_in(fan, *FAN)
    fan.goto("/v/1")
    card = fan.locator(".video-event")
    expect(card.get_by_text("Q&A after the video")).to_be_visible()
    card.get_by_role("button", name="RSVP").click()
    expect(fan).to_have_url(f"{videos_server.url}/v/1#video-1")
    expect(fan.get_by_text("You’re going. We’ll remind you before it starts.")).to_be_visible()
    expect(card.get_by_role("button", name="Going")).to_be_visible()
    fan.goto("/events/1")
    expect(fan.get_by_text("1 person going")).to_be_visible()
    # In the For You feed the card plays inline, muted, while on screen.
    fan.goto("/")
    inline = fan.locator("#video-1 video[data-inline-video]")
    inline.scroll_into_view_if_needed()
    fan.wait_for_function(
        "() => { const v = document.querySelector('#video-1 video'); return v && !v.paused; }"
    )
    assert inline.evaluate("v => v.muted")
    expect(fan.locator("#video-1 .video-event").get_by_role("button", name="Going")).to_be_visible()
