"""Pages on a phone (390x844), in Chromium, on a site with the demo people.

Each check here once failed in a screenshot review: the bottom nav drawn over the top
bar, pages that scrolled sideways, and keyboard focus landing under the fixed bars.
"""

from __future__ import annotations

import pytest
from livelite_e2e import PHONE, SEEDED_ADMIN
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.e2e

LOGGED_OUT_PAGES = ["/register", "/login", "/@ada"]
LOGGED_IN_PAGES = [
    "/",
    "/live",
    "/upcoming",
    "/notifications",
    "/@ada",
    "/@ada/followers",
    "/settings/profile",
    "/settings/account",
    "/settings/tokens",
    "/settings/live-access",
    "/settings/notifications",
    "/videos/new",
    "/v/3",  # seed-demo: two stories, then the videos
    "/@ada/videos",
    "/stories/@ada",
    "/admin/users",
    "/admin/access-requests",
    "/api/v1/docs",
]

# Boxes of the sticky top bar and the fixed bottom nav, and the page's width.
LAYOUT = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; };
  return {
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    topbar: box(document.querySelector('.topbar')),
    nav: box(document.querySelector('nav[aria-label="Main"]')),
  };
}"""


def log_in(page: Page) -> None:
    username, password = SEEDED_ADMIN
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("Account menu")).to_be_visible()


def layout_problems(page: Page, path: str) -> list[str]:
    page.goto(path)
    found = page.evaluate(LAYOUT)
    height = page.viewport_size["height"]
    problems = []
    if found["scrollWidth"] > found["clientWidth"]:
        problems.append(f"{path}: scrolls sideways ({found['scrollWidth']}px in {found['clientWidth']}px)")
    if abs(found["nav"]["bottom"] - height) > 1 or found["nav"]["top"] < height / 2:
        problems.append(f"{path}: the main nav is not at the bottom of the screen: {found['nav']}")
    if found["topbar"]["top"] != 0:
        problems.append(f"{path}: the top bar is not at the top: {found['topbar']}")
    return problems


def test_pages_fit_a_phone_screen(make_page, seeded_server):
    page = make_page(seeded_server, **PHONE)
    problems = []
    for path in LOGGED_OUT_PAGES:
        problems += layout_problems(page, path)
    log_in(page)
    for path in LOGGED_IN_PAGES:
        problems += layout_problems(page, path)
        # Nothing covers the account menu button (the bottom nav once did).
        try:
            page.get_by_label("Account menu").click(trial=True, timeout=2_000)
        except PlaywrightTimeoutError:
            problems.append(f"{path}: the account menu button cannot be clicked (covered?)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["/settings/account", "/settings/tokens"])
def test_keyboard_focus_is_never_hidden_under_the_bars(make_page, seeded_server, path):
    """Tab through the page: the focused element's centre is on screen and not covered."""
    page = make_page(seeded_server, **PHONE)
    log_in(page)
    page.goto(path)
    hidden = []
    for _ in range(40):
        page.keyboard.press("Tab")
        where = page.evaluate(
            """() => {
              const el = document.activeElement;
              if (!el || el === document.body) return null;
              // The first line box: a link that wraps has a bounding box over plain text.
              const r = el.getClientRects()[0] || el.getBoundingClientRect();
              const x = r.left + r.width / 2, y = r.top + r.height / 2;
              const hit = document.elementFromPoint(x, y);
              const seen = hit !== null && (hit === el || el.contains(hit));
              return seen ? {} : {focused: el.outerHTML.slice(0, 90), covered_by: hit && hit.outerHTML.slice(0, 60)};
            }"""
        )
        if where is None:
            break
        if where:
            hidden.append(where)
    assert not hidden, f"focused elements hidden under a bar on {path}: {hidden}"
