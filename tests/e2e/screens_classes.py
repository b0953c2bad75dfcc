"""Screenshots of class mode: ``python tests/e2e/screens_classes.py [OUTDIR]``.

Starts a real server seeded by test_class_mode.seed_class (a teacher live, invite-only,
opened to "Class 4B"), then saves at 1280x800 and 390x844, light and dark: the
studio (invitation link and code, the group picker), /join with a wrong code,
Settings → Groups and one group, and the live's attendance:
``classes-<page>-<desktop|mobile>-<light|dark>.png``. Also checks that no page
scrolls sideways on the phone. Not a test: pytest skips it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, log_in, start_server, stop_server
from playwright.sync_api import Browser, Page, sync_playwright
from screens import SCHEMES, VIEWPORTS, capture
from test_class_mode import run_seed


def variant(browser: Browser, base_url: str, out: Path, device: str, scheme: str, seeded: dict) -> list[Path]:
    saved, problems = [], []
    options = {**VIEWPORTS[device], "color_scheme": scheme, "base_url": base_url}

    def shot(page: Page, name: str) -> None:
        page.wait_for_timeout(500)
        if device == "mobile":
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                problems.append(f"{name}: {width}px wide on a 390px phone")
        path = out / f"classes-{name}-{device}-{scheme}.png"
        capture(page, path)
        saved.append(path)

    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/join")
    page.get_by_label("Invite code").fill("abcd-wxyz")
    page.get_by_role("button", name="Join").click()
    page.locator("#code-err").wait_for()
    shot(page, "join-error")
    context.close()

    context = browser.new_context(**options, permissions=["camera", "microphone"])
    page = context.new_page()
    page.set_default_timeout(20_000)
    log_in(page, "teacher", seeded["password"])
    page.goto("/studio")
    page.get_by_label("Who can watch").select_option("invite")
    page.locator("[data-invite-box]").wait_for()
    shot(page, "studio")
    page.goto("/settings/groups")
    shot(page, "groups")
    page.goto(f"/settings/groups/{seeded['group_id']}")
    page.get_by_label("Add people by username").fill("ann, nobody1\nghost")
    page.get_by_role("button", name="Add", exact=True).click()
    page.locator("#usernames-err").wait_for()
    shot(page, "group")
    page.goto(f"/lives/{seeded['live_id']}/attendance")
    shot(page, "attendance")
    context.close()
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return saved


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="livelite-screens-classes-") as tmp:
        server = start_server(Path(tmp) / "instance")
        try:
            seeded = run_seed(server)
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
