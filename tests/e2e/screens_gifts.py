"""Screenshots of gifts in lives: ``python tests/e2e/screens_gifts.py [OUTDIR]``.

Starts a real server; a host goes live from the studio with Chromium's fake camera and
sets a LIVE goal; viewers granted coins send gifts (a combo, a big one), so the goal bar
fills and the top gifters have names. Then saved at 1280x800 and 390x844, light and
dark: the watch page with the gift picker open, an animation in flight (burst, rain and
full screen, with a combo banner), the Gifts tab (top gifters), the studio's gifts
panel, the admins' catalogue and its edit page, and Settings → Gifts:
``gifts-<page>-<desktop|mobile>-<light|dark>.png``. Also checks that no page scrolls
sideways on the phone. Not a test: pytest skips it.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, DESKTOP, REPO_ROOT, start_server, stop_server
from playwright.sync_api import Browser, Page, sync_playwright
from screens import SCHEMES, VIEWPORTS, capture
from test_e2e_gifts import grant
from test_e2e_room import PASSWORD, create_people

PEOPLE = {
    "ghost": "Gina Host",
    "vic": "Vic Viewer",
    "vera": "Vera Valentine",
    "walt": "Walt Watcher",
    "mona": "Mona Mod",
}
COINS = {"vic": 20000, "vera": 5000, "walt": 300000, "mona": 400}


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Account menu").wait_for()


def gift_ids(server) -> dict[str, int]:
    with urllib.request.urlopen(server.url + "/api/v1/gifts", timeout=5) as response:  # noqa: S310
        return {g["name"]: g["id"] for g in json.load(response)}


def send_gift(page: Page, live_id: int, receiver_id: int, gift_id: int, quantity: int = 1) -> dict:
    """Through the page's own room connection, as the picker does."""
    return page.evaluate(
        """([liveId, receiver, gift, quantity]) => new Promise((resolve) => {
          const socket = window.LiveLiteRoom.connect(liveId);
          socket.timeout(10000).emit("gift_send", {receiver_id: receiver, gift_id: gift, quantity,
            idempotency_key: crypto.randomUUID()}, (err, reply) => resolve(err ? {ok: false} : reply));
        })""",
        [live_id, receiver_id, gift_id, quantity],
    )


def send_many(page: Page, live_id: int, receiver_id: int, gift_id: int, times: int) -> None:
    """``times`` gifts at once (a person tapping Send quickly): one streak."""
    page.evaluate(
        """([liveId, receiver, gift, times]) => Promise.all(Array.from({length: times}, () => new Promise((resolve) => {
          window.LiveLiteRoom.connect(liveId).timeout(10000).emit("gift_send", {receiver_id: receiver,
            gift_id: gift, quantity: 1, idempotency_key: crypto.randomUUID()}, resolve);
        })))""",
        [live_id, receiver_id, gift_id, times],
    )


def prepare(browser: Browser, server) -> tuple[int, int, Page, Page]:
    """The live, its goal and a few gifts; returns the live's id, the host's id, the
    host's publishing page and a sender's page (walt) kept open to send more."""
    host = browser.new_context(base_url=server.url, **DESKTOP).new_page()
    log_in(host, "ghost")
    host.goto("/studio")
    host.get_by_label("Title").fill("Guitar night: requests open")
    host.wait_for_function("() => document.querySelector('[data-camera]').value !== ''")
    host.get_by_role("button", name="Go LIVE").last.click()
    host.locator(".studio-gifts").wait_for()
    with urllib.request.urlopen(server.url + "/api/v1/lives", timeout=5) as response:  # noqa: S310
        live = json.load(response)[0]
    live_id, host_id = live["id"], None
    panel = host.locator(".studio-gifts")
    panel.get_by_label("Coins to reach").fill("2000")
    panel.get_by_label("What it is for (optional)").fill("A new amplifier for the band")
    panel.get_by_role("button", name="Set goal").click()
    panel.get_by_text("Goal set.").wait_for()

    ids = gift_ids(server)
    senders = {}
    for username in ("vic", "vera", "walt", "mona"):
        page = browser.new_context(base_url=server.url, **DESKTOP).new_page()
        log_in(page, username)
        page.goto(f"/lives/{live_id}")
        page.wait_for_function("() => !document.querySelector('#room-input').disabled")
        senders[username] = page
    host_id = senders["vic"].evaluate("() => Number(document.querySelector('[data-gifts]').dataset.hostId)")
    for username, gift, quantity in (
        ("vic", "Rocket", 1),
        ("vic", "Doughnut", 5),
        ("vera", "Confetti", 3),
        ("walt", "Heart", 10),
        ("mona", "Rose", 20),
        ("vera", "Heart", 1),
    ):
        reply = send_gift(senders[username], live_id, host_id, ids[gift], quantity)
        assert reply.get("ok"), reply
    for username in ("vic", "vera", "mona"):
        senders[username].context.close()
    return live_id, host_id, host, senders["walt"]


def variant(
    browser: Browser, server, out: Path, device: str, scheme: str, live_id: int, host_id: int, walt: Page
) -> list[str]:
    saved, problems = [], []
    options = {**VIEWPORTS[device], "color_scheme": scheme, "base_url": server.url}
    ids = gift_ids(server)

    def check_width(page: Page, name: str) -> None:
        if device == "mobile":
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                problems.append(f"{name}: {width}px wide on a 390px phone")

    def shot(page: Page, name: str, full: bool = True) -> None:
        page.wait_for_timeout(400)
        check_width(page, name)
        path = out / f"gifts-{name}-{device}-{scheme}.png"
        if full:
            capture(page, path)
        else:
            page.screenshot(path=path)
        saved.append(path)

    # The viewer: the picker open.
    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page, "vic")
    page.goto(f"/lives/{live_id}")
    page.locator(".player [data-gift-goal]").wait_for()
    page.get_by_role("button", name="Send a gift").first.click()
    dialog = page.get_by_role("dialog", name="Send a gift")
    dialog.locator(".gift-option", has_text="Lion").click()
    page.wait_for_timeout(300)
    shot(page, "watch-picker", full=False)
    dialog.get_by_role("button", name="Close").click()

    # Animations in flight, seen by this viewer: a burst with a combo banner, rain, a
    # full-screen gift (walt sends them; the viewer's screen plays them).
    page.evaluate("window.scrollTo(0, 0)")
    for gift, times, wait, name in (
        ("Rocket", 4, 700, "animation-burst"),  # a combo: one burst, the banner counts ×4
        ("Confetti", 1, 1100, "animation-rain"),
        ("Lion", 1, 1300, "animation-fullscreen"),
    ):
        send_many(walt, live_id, host_id, ids[gift], times)
        page.wait_for_timeout(wait)
        path = out / f"gifts-{name}-{device}-{scheme}.png"
        page.screenshot(path=path)
        saved.append(path)
        page.wait_for_timeout(4200)  # let it finish before the next one

    # The Gifts tab.
    page.get_by_role("tab", name="Gifts").click()
    page.locator("#room-panel-gifts [data-gift-top] li").first.wait_for()
    shot(page, "watch-top-gifters")
    context.close()

    # The host's studio: the gifts panel (and the goal bar over the preview).
    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page, "ghost")
    page.goto("/studio")
    page.locator(".studio-gifts [data-gift-feed] li").first.wait_for()  # connected: the history is in
    send_gift(walt, live_id, host_id, ids["Doughnut"], 2)
    page.wait_for_timeout(500)
    page.locator(".studio-gifts").scroll_into_view_if_needed()
    shot(page, "studio")
    path = out / f"gifts-studio-panel-{device}-{scheme}.png"
    # A page as tall as its content: the sticky top bar then covers nothing of the panel.
    viewport = page.viewport_size
    page.set_viewport_size(
        {"width": viewport["width"], "height": page.evaluate("document.documentElement.scrollHeight")}
    )
    page.locator(".studio-gifts").screenshot(path=path)
    page.set_viewport_size(viewport)
    saved.append(path)
    context.close()

    # Admin: the catalogue, one gift's edit page; Settings → Gifts.
    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page, "ghost")  # the first account is the site's admin
    page.goto("/admin/gifts")
    shot(page, "admin")
    page.get_by_role("link", name="Edit").first.click()
    page.get_by_role("heading", level=1).wait_for()
    shot(page, "admin-edit")
    page.goto("/settings/gifts")
    shot(page, "settings")
    context.close()
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return saved


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="livelite-screens-gifts-") as tmp:
        server = start_server(Path(tmp) / "instance")
        try:
            create_people(server, PEOPLE, {"ghost"})
            for username, coins in COINS.items():
                grant(server, "ghost", username, coins)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                live_id, host_id, host, walt = prepare(browser, server)
                saved = []
                for device in VIEWPORTS:
                    for scheme in SCHEMES:
                        saved += variant(browser, server, out, device, scheme, live_id, host_id, walt)
                walt.context.close()
                host.context.close()
                browser.close()
        except BaseException:
            print(server.log(), file=sys.stderr)
            raise
        finally:
            stop_server(server)
    print(f"{len(saved)} screenshots in {out} ({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
