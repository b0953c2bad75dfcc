"""Going live as people do it, in Debian's Chromium against a real server process.

The host publishes from the studio with Chromium's fake camera; an anonymous viewer
finds the live on the LIVE page and watches it through hls.js; the host's network
drops for a few seconds and the same live goes on; the host ends it and the viewer
sees the ended state. A second story goes live from an RTMP encoder (ffmpeg standing
in for OBS) with the key shown on the settings page.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest
from livelite_e2e import DESKTOP, LiveServer, log_in, start_server, stop_server
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

HOST = ("hostess", "hostess-password-1")


@pytest.fixture(scope="module")
def media_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-live") / "instance")
    try:
        server.cli(
            "create-user",
            HOST[0],
            "--email",
            "hostess@example.com",
            "--password",
            HOST[1],
            "--birthdate",
            "1988-03-02",
            "--admin",
        )
        yield server
    finally:
        stop_server(server)


def api(server: LiveServer, path: str):
    with urllib.request.urlopen(server.url + path, timeout=5) as response:  # noqa: S310 - our own server
        return json.load(response)


def wait_until(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(message)


def video_time(page: Page) -> float:
    # page.evaluate goes through the DevTools protocol, so the page's CSP (no eval) holds.
    return page.evaluate("() => document.querySelector('video').currentTime")


def host_page(browser: Browser, server: LiveServer) -> tuple[Page, list[str]]:
    """The host's page in its own context: its network is cut on purpose below, which
    makes Chromium log failed requests, so only script errors count as problems."""
    context = browser.new_context(base_url=server.url, **DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def test_go_live_from_the_browser_watch_drop_and_end(browser, make_page, media_server):
    host, host_errors = host_page(browser, media_server)
    log_in(host, *HOST)
    host.goto("/studio")
    host.get_by_label("Title").fill("Fractions, lesson 3")
    expect(host.get_by_label("Choose a camera")).not_to_have_value("")  # the fake camera is listed
    host.get_by_role("button", name="Go LIVE").last.click()
    expect(host.get_by_role("status").filter(has_text="You are LIVE.")).to_be_visible()
    live = wait_until(lambda: api(media_server, "/api/v1/lives"), 10, "the live did not appear")[0]
    assert live["title"] == "Fractions, lesson 3"
    assert live["feeds"][0]["source"] == "browser"

    # An anonymous viewer finds it on the LIVE page and watches.
    viewer = make_page(media_server)
    viewer.goto("/live")
    viewer.get_by_role("link", name="Fractions, lesson 3").click()
    expect(viewer.get_by_role("heading", name="Fractions, lesson 3")).to_be_visible()
    wait_until(lambda: video_time(viewer) > 1, 30, "the viewer's video did not play")
    assert viewer.evaluate("() => document.querySelector('video').videoWidth") > 0
    expect(viewer.locator("[data-viewer-count]")).to_have_text("1")
    expect(host.locator("[data-viewer-count]")).to_have_text("1", timeout=15_000)
    expect(host.locator('[data-h="keyframe_interval_s"]')).to_have_text("1.0 s", timeout=15_000)

    # The host's network drops for a few seconds; the page reconnects and the live goes on.
    host.context.set_offline(True)
    expect(host.get_by_role("status").filter(has_text="Connection lost")).to_be_visible()
    time.sleep(4)
    host.context.set_offline(False)
    expect(host.get_by_role("status").filter(has_text="Back online. Your live goes on.")).to_be_visible(
        timeout=20_000
    )
    resumed_at = video_time(viewer)
    wait_until(lambda: video_time(viewer) > resumed_at + 3, 30, "the viewer stopped after the drop")
    assert api(media_server, f"/api/v1/lives/{live['id']}")["status"] == "live"
    feed_dir = (
        media_server.instance_path / "media" / "lives" / str(live["id"]) / f"feed-{live['feeds'][0]['id']}"
    )
    # Nothing was lost or restarted: one ffmpeg run holds the whole recording so far.
    assert sorted(p.name for p in feed_dir.glob("run-*.m3u8")) == ["run-0001.m3u8"]

    # The host ends the live; the viewer sees the ended state.
    host.once("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="End live").click()
    expect(host.get_by_role("status").filter(has_text="Your live has ended.")).to_be_visible(timeout=20_000)
    ended = api(media_server, f"/api/v1/lives/{live['id']}")
    assert ended["status"] == "ended" and ended["end_reason"] == "host"
    expect(viewer.get_by_role("heading", name="This live has ended")).to_be_visible(timeout=30_000)
    assert host_errors == []
    host.context.close()


def test_go_live_from_an_rtmp_encoder_with_the_stream_key(make_page, media_server, tmp_path: Path):
    host = make_page(media_server)
    log_in(host, *HOST)
    host.goto("/settings/stream")
    server_url = host.get_by_label("Server").input_value()
    key_field = host.get_by_label("Stream key")
    expect(key_field).to_have_attribute("type", "password")
    host.get_by_role("button", name="Show").click()
    expect(key_field).to_have_attribute("type", "text")
    key = key_field.input_value()
    rtmp_port = media_server.env["LIVELITE_RTMP_PORT"]
    assert server_url.endswith(f":{rtmp_port}/live")

    def push(stream_key: str, seconds: int) -> subprocess.Popen:
        return subprocess.Popen(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-hide_banner",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=30",
                "-f",
                "lavfi",
                "-i",
                "sine",
                "-t",
                str(seconds),
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-g",
                "30",
                "-c:a",
                "aac",
                "-f",
                "flv",
                f"rtmp://127.0.0.1:{rtmp_port}/live/{stream_key}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    wrong = push("live_not-a-key", 2)
    assert wrong.wait(30) != 0 and "Stream key refused" in wrong.stderr.read()
    assert api(media_server, "/api/v1/lives") == []

    encoder = push(key, 25)
    try:
        live = wait_until(lambda: api(media_server, "/api/v1/lives"), 15, "the RTMP live did not start")[0]
        assert live["feeds"][0]["source"] == "rtmp"
        viewer = make_page(media_server)
        viewer.goto(f"/lives/{live['id']}")
        wait_until(lambda: video_time(viewer) > 1, 30, "the viewer's video did not play")
        assert viewer.evaluate("() => document.querySelector('video').videoWidth") == 640
    finally:
        encoder.wait(60)
    # The encoder stopped cleanly (like OBS's Stop Streaming): the live is over.
    wait_until(
        lambda: api(media_server, f"/api/v1/lives/{live['id']}")["status"] == "ended",
        20,
        "the live did not end",
    )
