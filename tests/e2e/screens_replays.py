"""Screenshots of the replay player: ``python tests/e2e/screens_replays.py [OUTDIR]``.

Starts a real server and records a live with a guest (test_replay_player.SEED_REPLAY:
chat and questions at set seconds, two answered), then saves at 1280x800 and
390x844, light and dark: the player at the second chapter (the answered question
pinned, the chat so far), its Questions and Chapters tabs, the host's view (manage
link), and the ended live's page with "Watch the replay":
``replay-<page>-<desktop|mobile>-<light|dark>.png``. Also checks that no page scrolls
sideways on the phone. Not a test: pytest skips it.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, start_server, stop_server
from playwright.sync_api import Browser, Page, sync_playwright
from screens import SCHEMES, VIEWPORTS, capture
from test_replay_player import PASSWORD, seed_replay


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Account menu").wait_for()


def at_second(page: Page, seconds: float) -> None:
    page.wait_for_function("() => document.querySelector('[data-replay-video]').readyState >= 1")
    page.evaluate(f"() => {{ document.querySelector('[data-replay-video]').currentTime = {seconds}; }}")
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('[data-replay-video]').currentTime - {seconds}) < .2"
    )


def variant(browser: Browser, base_url: str, out: Path, device: str, scheme: str, seeded: dict) -> list[Path]:
    saved, problems = [], []
    options = {**VIEWPORTS[device], "color_scheme": scheme, "base_url": base_url}
    replay_id, live_id = seeded["replay_id"], seeded["live_id"]

    def shot(page: Page, name: str) -> None:
        page.wait_for_timeout(600)
        if device == "mobile":
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                problems.append(f"{name}: {width}px wide on a 390px phone")
        path = out / f"replay-{name}-{device}-{scheme}.png"
        capture(page, path)
        saved.append(path)

    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"/replays/{replay_id}")
    at_second(page, 9)
    page.locator("[data-replay-pinned]").wait_for()
    shot(page, "chat")
    page.get_by_role("tab", name=re.compile("^Questions")).click()
    shot(page, "questions")
    page.get_by_role("tab", name=re.compile("^Chapters")).click()
    shot(page, "chapters")
    context.close()

    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, "phost")
    page.goto(f"/replays/{replay_id}")
    at_second(page, 4)
    shot(page, "host")
    page.goto(f"/lives/{live_id}")
    page.get_by_role("link", name="Watch the replay").wait_for()
    shot(page, "ended-live")
    context.close()
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return saved


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="livelite-screens-replay-") as tmp:
        server = start_server(Path(tmp) / "instance")
        try:
            seeded = seed_replay(server, "guest")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                saved = []
                for device in VIEWPORTS:
                    for scheme in SCHEMES:
                        saved += variant(browser, server.url, out, device, scheme, seeded)
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
