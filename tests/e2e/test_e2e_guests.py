"""Multi-guest as people use it, in Debian's Chromium against a real server process.

The host goes live from the studio with Chromium's fake camera. A viewer asks to join
from the watch page; the host accepts in the studio's guests panel; the guest opens
their camera on the guest page and publishes with the same publisher as the host. A
third person watching sees two videos playing: the host large and the guest in a tile
under it. The host removes the guest: the guest's page says so and stops, and the
viewer's tile goes away. Screenshots of the watch page and the guest page (desktop and
a 390 px phone) go to test-artifacts/e2e/.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
from livelite_e2e import PHONE, REPO_ROOT, LiveServer, log_in, start_server, stop_server
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

SHOTS = REPO_ROOT / "test-artifacts" / "e2e"
PASSWORD = "guests-password-1"
HOST = ("gwen", "Gwen Host")
GUEST = ("gus", "Gus Guest")
VIEWER = ("vic", "Vic Viewer")


@pytest.fixture(scope="module")
def guests_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-guests") / "instance")
    try:
        for (username, name), extra in ((HOST, ["--admin"]), (GUEST, []), (VIEWER, [])):
            server.cli(
                "create-user", username, "--email", f"{username}@example.com", "--password", PASSWORD,
                "--birthdate", "1990-04-04", "--display-name", name, *extra,
            )  # fmt: skip
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


def playing(page: Page, selector: str) -> dict:
    """currentTime and readyState of one <video> (page.evaluate goes through DevTools,
    so the page's CSP, which forbids eval, still holds)."""
    return page.evaluate(
        "(sel) => { const v = document.querySelector(sel);"
        " return v ? {t: v.currentTime, ready: v.readyState, w: v.videoWidth} : null; }",
        selector,
    )


def advancing(page: Page, selector: str, what: str) -> None:
    """The video plays: it has frames to show and its clock moves."""
    first = wait_until(
        lambda: (s := playing(page, selector)) and s["ready"] >= 2 and s["t"] > 0.5 and s,
        45,
        f"{what} did not start playing",
    )
    wait_until(
        lambda: (s := playing(page, selector)) and s["t"] > first["t"] + 1.5 and s["ready"] >= 2,
        30,
        f"{what} stopped playing",
    )
    assert playing(page, selector)["w"] > 0


def roomy(page: Page) -> Page:
    """Four browsers, two encoders and a server share this machine's cores: give pages
    more time than the default before calling them stuck."""
    page.set_default_timeout(30_000)
    return page


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_a_viewer_joins_the_stage_and_everyone_sees_two_videos(browser: Browser, make_page, guests_server):
    # The host goes live from the studio.
    host = roomy(make_page(guests_server))
    log_in(host, HOST[0], PASSWORD)
    host.goto("/studio")
    panel = host.locator("[data-studio-guests]")
    expect(panel).to_be_hidden()
    host.get_by_label("Title").fill("Two on stage")
    expect(host.get_by_label("Choose a camera")).not_to_have_value("")
    host.get_by_role("button", name="Go LIVE").last.click()
    expect(host.get_by_role("status").filter(has_text="You are LIVE.")).to_be_visible(timeout=20_000)
    expect(panel).to_be_visible()
    live_id = next(x for x in api(guests_server, "/api/v1/lives") if x["title"] == "Two on stage")["id"]

    # A viewer asks to join from the watch page.
    guest = roomy(make_page(guests_server))
    log_in(guest, GUEST[0], PASSWORD)
    guest.goto(f"/lives/{live_id}")
    guest.get_by_role("button", name="Request to join").click()
    expect(guest.get_by_text("Your request to join is waiting for the host.")).to_be_visible()
    expect(guest.get_by_role("button", name="Withdraw my request")).to_be_visible()

    # The host sees the request in the studio and accepts it.
    asking = panel.locator('[data-guests-list="requested"]')
    expect(asking).to_contain_text(GUEST[1])
    asking.get_by_role("button", name=f"Accept {GUEST[1]} on stage").click()
    expect(panel.locator('[data-guests-list="active"]')).to_contain_text(GUEST[1])
    expect(asking).to_be_hidden()
    expect(panel.get_by_text("1 of 5 on stage")).to_be_visible()

    # The guest's watch page knows at once; the guest page opens the camera and publishes.
    expect(guest.get_by_text("You are on stage.", exact=True)).to_be_visible()
    guest.get_by_role("link", name="Open my camera").click()
    expect(guest.get_by_role("heading", name="You are on stage")).to_be_visible()
    expect(guest.get_by_label("Choose a camera")).not_to_have_value("")
    guest.get_by_role("button", name="Start my camera on stage").click()
    expect(guest.get_by_role("status").filter(has_text="You are on stage: everyone watching")).to_be_visible(
        timeout=20_000
    )
    wait_until(
        lambda: len(api(guests_server, f"/api/v1/lives/{live_id}")["feeds"]) == 2,
        15,
        "the guest's feed did not open",
    )

    # A third person watches: the host large, the guest in a tile, both playing.
    viewer = roomy(make_page(guests_server))
    log_in(viewer, VIEWER[0], PASSWORD)
    viewer.goto(f"/lives/{live_id}")
    tile = viewer.locator(".stage-tile")
    expect(tile).to_have_count(1, timeout=20_000)
    expect(tile.locator(".stage-name")).to_have_text(GUEST[1])
    # Two videos on the page, both playing: the host's player and the guest's tile.
    assert viewer.locator("video").count() == 2
    advancing(viewer, "[data-player] video", "the host's video")
    advancing(viewer, ".stage-tile video", "the guest's video")
    # The host sees the guest's video in the studio; the guest sees the host's.
    advancing(host, "[data-studio-guests] .stage-tile video", "the guest's video in the studio")
    advancing(guest, ".stage-tile.is-host video", "the host's video on the guest page")

    shoot(viewer, "guests-watch-desktop")
    shoot(guest, "guests-guest-page-desktop")
    shoot(host, "guests-studio-desktop")
    for name, page_url in (("guests-watch-phone", f"/lives/{live_id}"), ("guests-guest-page-phone", None)):
        phone_user = VIEWER if page_url else GUEST
        phone = roomy(browser.new_context(base_url=guests_server.url, **PHONE).new_page())
        try:
            log_in(phone, phone_user[0], PASSWORD)
            phone.goto(page_url or f"/lives/{live_id}/guest")
            if page_url:
                expect(phone.locator(".stage-tile")).to_have_count(1, timeout=20_000)
                advancing(phone, ".stage-tile video", "the guest's video on a phone")
            else:
                expect(phone.get_by_role("button", name="Start my camera on stage")).to_be_visible()
                expect(phone.locator(".stage-tile.is-host")).to_have_count(1, timeout=20_000)
            shoot(phone, name)
            width = phone.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"{name}: the page is {width} px wide on a 390 px phone"
        finally:
            phone.context.close()

    # The host removes the guest: their page says so and stops; the tile goes away.
    host.once("dialog", lambda dialog: dialog.accept())
    panel.locator('[data-guests-list="active"]').get_by_role(
        "button", name=f"Remove {GUEST[1]} from the stage"
    ).click()
    expect(guest.get_by_role("status").filter(has_text="The host removed you from the stage.")).to_be_visible(
        timeout=15_000
    )
    expect(guest.get_by_role("button", name="Leave the stage")).to_be_hidden()
    assert guest.evaluate("() => document.querySelector('[data-preview]').srcObject") is None
    expect(viewer.locator(".stage-tile")).to_have_count(0, timeout=15_000)
    expect(panel.get_by_text("No guest on stage.")).to_be_visible()
    feeds = api(guests_server, f"/api/v1/lives/{live_id}")["feeds"]
    assert [(feed["username"], feed["active"]) for feed in feeds] == [(HOST[0], True), (GUEST[0], False)]
    advancing(viewer, "[data-player] video", "the host's video after the removal")
