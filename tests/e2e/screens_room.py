"""Screenshots of the live room: ``python tests/e2e/screens_room.py [OUTDIR]``.

Starts a real server; a host goes live from the studio with Chromium's fake camera,
viewers chat (one line is HTML, shown as text), ask questions, upvote, and the host
answers one, which is pinned over the video. Then saved at 1280x800 and 390x844,
light and dark: the viewer page (chat, the questions tab, a message's actions as a
moderator), the page of a visitor who is not logged in, and the host's studio:
``room-<page>-<desktop|mobile>-<light|dark>.png``. Also checks that no page scrolls
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
from test_e2e_room import PASSWORD, create_people

PEOPLE = {
    "rhost": "Rita Host",
    "vera": "Vera Viewer",
    "victor": "Victor Viewer",
    "mona": "Mona Mod",
}
CHAT = [
    ("vera", "Hello from Vera! Is the sound OK?"),
    ("victor", "Loud and clear 👍"),
    ("mona", "Welcome everyone, be kind in the chat."),
    ("victor", '<img src=x onerror="alert(1)"> shows as text'),
    ("vera", "Could you show the second example again? I missed the part about common denominators."),
]
QUESTIONS = [
    ("vera", "Which camera do you use?"),
    ("victor", "Will the replay be online after the live?"),
    ("mona", "How long did this lesson take to prepare?"),
]


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Account menu").wait_for()


def prepare(browser: Browser, server) -> tuple[int, Page]:
    """The live and its room; returns the live's id and the host's publishing page."""
    host = browser.new_context(base_url=server.url, **DESKTOP).new_page()
    log_in(host, "rhost")
    host.goto("/studio")
    host.get_by_label("Title").fill("Fractions, lesson 3")
    host.wait_for_function("() => document.querySelector('[data-camera]').value !== ''")
    host.get_by_role("button", name="Go LIVE").last.click()
    host.locator(".studio-room").wait_for()
    with urllib.request.urlopen(server.url + "/api/v1/lives", timeout=5) as response:  # noqa: S310
        live_id = json.load(response)[0]["id"]

    pages = {}
    for username in ("vera", "victor", "mona"):
        page = browser.new_context(base_url=server.url, **DESKTOP).new_page()
        log_in(page, username)
        page.goto(f"/lives/{live_id}")
        page.wait_for_function("() => !document.querySelector('#room-input').disabled")
        pages[username] = page
    for username, text in CHAT:
        box = pages[username].get_by_label("Your message")
        box.fill(text)
        box.press("Enter")
        pages[username].wait_for_function("() => document.querySelector('#room-input').value === ''")
    for username, text in QUESTIONS:
        page = pages[username]
        page.get_by_role("tab", name="Questions").click()
        page.get_by_label("Ask the host a question").fill(text)
        page.get_by_role("button", name="Ask", exact=True).click()
        page.locator(".room-q").filter(has_text=text).wait_for()
    pages["victor"].locator(".room-q").filter(has_text="Which camera").get_by_role("button").first.click()
    pages["mona"].locator(".room-q").filter(has_text="Which camera").get_by_role("button").first.click()
    pages["vera"].locator(".room-q").filter(has_text="replay").get_by_role("button").first.click()
    host.locator(".studio-room .room-q").filter(has_text="Which camera").get_by_role(
        "button", name="Answer"
    ).click()
    # Mona is the host's moderator (the Make moderator action in the chat).
    host.locator(".studio-room").get_by_role("button", name="Actions for the message from Mona Mod").click()
    host.get_by_role("dialog").get_by_role("button", name="Make moderator").click()
    host.get_by_role("dialog").get_by_role("button", name="Make moderator").click()
    host.get_by_text("Mona Mod is now a moderator.").wait_for()
    pages["vera"].get_by_role("tab", name="Chat").click()
    for _ in range(6):
        pages["vera"].get_by_role("button", name="Send a heart").click()
    pages["vera"].wait_for_timeout(1500)
    for page in pages.values():
        page.context.close()
    return live_id, host


def variant(browser: Browser, base_url: str, out: Path, device: str, scheme: str, live_id: int) -> list[str]:
    saved, problems = [], []
    options = {**VIEWPORTS[device], "color_scheme": scheme, "base_url": base_url}

    def shot(page: Page, name: str) -> None:
        page.wait_for_timeout(400)
        if device == "mobile":
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                problems.append(f"{name}: {width}px wide on a 390px phone")
        path = out / f"room-{name}-{device}-{scheme}.png"
        capture(page, path)
        saved.append(path)

    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page, "vera")
    page.goto(f"/lives/{live_id}")
    page.locator(".player [data-room-pinned]").wait_for()
    shot(page, "watch-chat")
    page.get_by_role("tab", name="Questions").click()
    shot(page, "watch-questions")
    context.close()

    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page, "mona")
    page.goto(f"/lives/{live_id}")
    page.get_by_role("button", name="Actions for the message from Victor Viewer").first.click()
    shot(page, "watch-moderator-menu")
    context.close()

    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(f"/lives/{live_id}")
    page.locator(".room-msg").first.wait_for()
    shot(page, "watch-visitor")
    context.close()

    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page, "rhost")
    page.goto("/studio")
    page.locator(".studio-room .room-q").first.wait_for()
    shot(page, "studio")
    context.close()
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return saved


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="livelite-screens-room-") as tmp:
        server = start_server(Path(tmp) / "instance")
        try:
            create_people(server, PEOPLE, {"rhost"})
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                live_id, host = prepare(browser, server)
                saved = []
                for device in VIEWPORTS:
                    for scheme in SCHEMES:
                        saved += variant(browser, server.url, out, device, scheme, live_id)
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
