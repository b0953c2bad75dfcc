"""Screenshots of every page for a visual review: ``python tests/e2e/screens.py [OUTDIR]``.

Starts a real server with the demo data, logs in as an admin and saves full-page PNGs
at 1280x800 and 390x844, light and dark, named ``<page>-<desktop|mobile>-<light|dark>.png``.
OUTDIR defaults to test-artifacts/screens/ (git-ignored). Not a test: pytest skips it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from livelite_e2e import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    REPO_ROOT,
    SEEDED_ADMIN,
    seed_demo_site,
    start_server,
    stop_server,
)
from playwright.sync_api import Browser, Page, sync_playwright

ADMIN, ADMIN_PASSWORD = SEEDED_ADMIN
VIEWPORTS = {"desktop": DESKTOP, "mobile": PHONE}
SCHEMES = ("light", "dark")

# name -> path, for a logged-in admin
LOGGED_IN = {
    "home": "/",
    "live": "/live",
    "upcoming": "/upcoming",
    "profile-ada": "/@ada",
    "followers-ada": "/@ada/followers",
    "profile-self": f"/@{ADMIN}",
    "settings-profile": "/settings/profile",
    "settings-account": "/settings/account",
    "admin-users": "/admin/users",
    "admin-access-requests": "/admin/access-requests",
    "settings-live-access": "/settings/live-access",
    "api-docs": "/api/v1/docs",
    "notifications": "/notifications",
    "settings-notifications": "/settings/notifications",
    "404": "/no-such-page",
}
LOGGED_OUT = {
    "register": "/register",
    "login": "/login",
    "profile-ada-anonymous": "/@ada",
}


def capture(page: Page, out: Path) -> None:
    """The whole page as one picture, with fixed bars where a person sees them.

    A full-page capture leaves fixed elements (the mobile bottom nav) at the first
    screen's position, over the content; growing the viewport to the page's height
    instead puts them at the true bottom.
    """
    viewport = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    if height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": height})
    page.screenshot(path=out)
    page.set_viewport_size(viewport)


def shoot(page: Page, path: str, out: Path) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    capture(page, out)


def log_in(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill(ADMIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Account menu").wait_for()


def set_picture(browser: Browser, base_url: str, workdir: Path) -> None:
    """Give the admin a real picture, so both avatar kinds (image, initial) appear."""
    image = np.full((300, 300, 3), (120, 60, 200), dtype=np.uint8)
    cv2.circle(image, (150, 120), 60, (230, 230, 255), thickness=-1)
    cv2.ellipse(image, (150, 300), (110, 90), 0, 180, 360, (230, 230, 255), thickness=-1)
    picture = workdir / "admin.png"
    cv2.imwrite(str(picture), image)
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    log_in(page)
    page.goto("/settings/profile")
    page.get_by_label("New picture").set_input_files(picture)
    page.get_by_role("button", name="Upload picture").click()
    page.get_by_role("button", name="Remove picture").wait_for()
    context.close()


def variant(browser: Browser, base_url: str, out: Path, device: str, scheme: str) -> list[Path]:
    saved = []

    def name(page_name: str) -> Path:
        path = out / f"{page_name}-{device}-{scheme}.png"
        saved.append(path)
        return path

    options = {**VIEWPORTS[device], "color_scheme": scheme, "base_url": base_url}

    context = browser.new_context(**options)
    page = context.new_page()
    for page_name, path in LOGGED_OUT.items():
        shoot(page, path, name(page_name))
    # Field errors, as a person sees them after a bad first try.
    page.goto("/register")
    page.get_by_label("Username").fill("x")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    capture(page, name("register-errors"))
    context.close()

    context = browser.new_context(**options)
    page = context.new_page()
    log_in(page)
    for page_name, path in LOGGED_IN.items():
        shoot(page, path, name(page_name))

    page.goto("/settings/tokens")
    page.get_by_label("Token name").fill(f"Backup script ({device}, {scheme})")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("button", name="Copy").wait_for()
    capture(page, name("settings-tokens"))

    page.goto("/@grace")
    page.get_by_label("Account menu").click()
    page.get_by_role("menu").wait_for()
    page.screenshot(path=name("account-menu"))

    # Keyboard focus on the Follow button (the ring must be visible).
    page.goto("/@grace")
    follow = page.get_by_role("button", name="Follow", exact=True)
    for _ in range(30):
        page.keyboard.press("Tab")
        if follow.evaluate("el => el === document.activeElement"):
            break
    page.screenshot(path=name("focus-follow"))
    context.close()
    return saved


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="livelite-screens-") as tmp:
        workdir = Path(tmp)
        server = start_server(workdir / "instance")
        try:
            seed_demo_site(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                set_picture(browser, server.url, workdir)
                saved = []
                for device in VIEWPORTS:
                    for scheme in SCHEMES:
                        saved += variant(browser, server.url, out, device, scheme)
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
