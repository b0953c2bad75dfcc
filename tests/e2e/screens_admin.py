"""Screenshots of the admin dashboard: ``python tests/e2e/screens_admin.py [OUTDIR]``.

Starts a real server seeded as in test_admin_dashboard (a live with a host and a guest
feed, a banned account, failures, moderation entries), makes two registration invite
codes (one revoked) and closes registration, then saves at 1280x800 and 390x844, light
and dark: the overview, the live monitor, the settings page after a refused value, the
invite codes and the moderation log: ``admin-<page>-<desktop|mobile>-<light|dark>.png``.
Also checks that no page scrolls sideways on the phone. Not a test: pytest skips it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server
from playwright.sync_api import sync_playwright
from screens import SCHEMES, VIEWPORTS, capture
from test_admin_dashboard import ADMIN, PASSWORD, seed


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "instance")
        try:
            seed(server)
            server.cli("settings", "set", "registration_open", "false")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                first = True
                for view, viewport in VIEWPORTS.items():
                    for scheme in SCHEMES:
                        context = browser.new_context(base_url=server.url, color_scheme=scheme, **viewport)
                        page = context.new_page()
                        page.goto("/login")
                        page.get_by_label("Username or email").fill(ADMIN)
                        page.get_by_label("Password").fill(PASSWORD)
                        page.get_by_role("button", name="Log in").click()
                        page.get_by_label("Account menu").wait_for()
                        if first:
                            page.goto("/admin/settings/invites")
                            page.get_by_label("Note").fill("Class of <2026> — Ms. Moreau")
                            page.get_by_label("Uses").fill("30")
                            page.get_by_role("button", name="Create code").click()
                            page.get_by_label("Note").fill("For Léa")
                            page.get_by_role("button", name="Create code").click()
                            page.get_by_role("button", name="Revoke").last.click()
                            first = False
                        shots = {}
                        for name, path in (
                            ("overview", "/admin/"),
                            ("lives", "/admin/lives"),
                            ("invites", "/admin/settings/invites"),
                            ("moderation", "/admin/moderation"),
                        ):
                            page.goto(path)
                            page.wait_for_load_state("networkidle")
                            shots[name] = out / f"admin-{name}-{view}-{scheme}.png"
                            capture(page, shots[name])
                            wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
                            if wide and view == "mobile":
                                print(f"SIDEWAYS SCROLL: {name} {view} {scheme}")
                        page.goto("/admin/settings")
                        page.get_by_label("Minimum age to register").fill("500")
                        page.get_by_label("Shortest video (seconds)").fill("900")
                        page.get_by_role("button", name="Save settings").click()
                        page.wait_for_load_state("networkidle")
                        capture(page, out / f"admin-settings-{view}-{scheme}.png")
                        if (
                            page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
                            and view == "mobile"
                        ):
                            print(f"SIDEWAYS SCROLL: settings {view} {scheme}")
                        page.goto("/admin/lives/1/stop")
                        capture(page, out / f"admin-stop-{view}-{scheme}.png")
                        context.close()
                browser.close()
        finally:
            stop_server(server)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("test-artifacts/screens"))
