"""Screenshots of analytics: ``python tests/e2e/screens_analytics.py [OUTDIR]``.

Seeds tests/test_analytics.py's live (test_analytics_page.SEED), then saves at 1280x800
and 390x844, light and dark: the per-live page (its viewers table open), the host's list
(Settings → Analytics), the admin's site analytics and the admin overview with its chart:
``analytics-<page>-<desktop|mobile>-<light|dark>.png``. Also checks that no page scrolls
sideways on the phone. Not a test: pytest skips it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, log_in, start_server, stop_server
from playwright.sync_api import sync_playwright
from screens import SCHEMES, VIEWPORTS, capture
from test_analytics_page import seed_analytics


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    server = start_server(Path(tempfile.mkdtemp()) / "instance")
    problems = []
    try:
        seeded = seed_analytics(server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for device, viewport in VIEWPORTS.items():
                for scheme in SCHEMES:
                    for user, pages in (
                        (
                            "maker",
                            {"live": f"/lives/{seeded['live_id']}/analytics", "list": "/settings/analytics"},
                        ),
                        ("siteadmin", {"admin": "/admin/analytics", "overview": "/admin/"}),
                    ):
                        context = browser.new_context(**viewport, color_scheme=scheme, base_url=server.url)
                        page = context.new_page()
                        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                        log_in(page, user, seeded["password"])
                        for name, path in pages.items():
                            page.goto(path)
                            if name == "live":
                                page.locator("#chart-viewers summary").click()
                            page.wait_for_timeout(700)
                            width = page.evaluate("document.documentElement.scrollWidth")
                            if device == "mobile" and width > 390:
                                problems.append(f"{name}: {width}px wide on a phone")
                            capture(page, out / f"analytics-{name}-{device}-{scheme}.png")
                        context.close()
            browser.close()
    finally:
        stop_server(server)
    print("\n".join(problems) or "no problems")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / "test-artifacts" / "screens")
