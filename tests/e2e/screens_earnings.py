"""Screenshots of the earnings pages: ``python tests/e2e/screens_earnings.py [OUTDIR]``.

Starts a real server and stores gifts received by @cora in four lives (real ledger
movements with their GiftSend rows, as tests/earnings_support.py makes them), her
cash-outs so far (paid, rejected, cancelled) and two other creators' pending requests.
Then saved at 1280x800 and 390x844, light and dark: the creator's earnings page, her
cash-out page (empty, and with an amount typed: the money as you type), and the admins'
cash-out page (pending and to pay): ``earnings-<page>-<desktop|mobile>-<light|dark>.png``.
Also checks that no page scrolls sideways on the phone and that the pages log no error
in the console. Not a test: pytest skips it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, start_server, stop_server
from playwright.sync_api import Browser, Page, sync_playwright
from screens import SCHEMES, VIEWPORTS, capture

PASSWORD = "earnings-password-1"

SEED = """
import sys
from datetime import date, timedelta
sys.path.insert(0, "tests")
from earnings_support import give, make_gift, make_live, earn
from livelite import create_app
from livelite.models import Role, Gift
from livelite.models.base import utcnow
from livelite.server import ensure_database
from livelite.services import accounts, cashouts
from livelite.services.earnings import month_start

password = sys.argv[1]
app = create_app()
with app.app_context():
    ensure_database(app)
    def person(username, name, role=Role.MEMBER):
        return accounts.register(
            username=username, display_name=name, email=username + "@example.com", password=password,
            birth_date=date(1990, 5, 5), role=role, check_open=False,
        )
    sam = person("sam", "Sam Admin")
    cora = person("cora", "Cora Creator", Role.CREATOR)
    rita = person("rita", "Rita Host", Role.CREATOR)
    omar = person("omar", "Omar Oyelaran-Featherstonehaugh", Role.CREATOR)
    lena = person("lena", "Lena Lopez", Role.CREATOR)
    vera = person("vera", "Vera Viewer")
    victor = person("victor", "Victor Viewer")
    nina = person("nina", "Nina Night-Owl")
    try:
        from livelite.services import gifts as gift_service
        catalogue = {g.name: g for g in gift_service.catalogue()}
    except Exception:
        catalogue = {}
    def gift(name, coins, icon):
        return catalogue.get(name) or make_gift(name, coins, icon)
    rose, heart, doughnut = gift("Rose", 1, "rose.svg"), gift("Heart", 5, "heart.svg"), gift("Doughnut", 30, "doughnut.svg")
    rocket, lion, universe = gift("Rocket", 500, "rocket.svg"), gift("Lion", 1000, "lion.svg"), gift("Universe", 5000, "universe.svg")
    now = utcnow()
    last_month = month_start() - timedelta(days=6)
    today = make_live(cora, "Fractions, lesson 3", started_at=now - timedelta(hours=2))
    guitar = make_live(cora, "Guitar basics: the first three chords, slowly, for complete beginners", started_at=now - timedelta(days=1, hours=3))
    older = make_live(cora, "Q&A: how I prepare my lessons", started_at=last_month)
    for sender, g, n, live, at in [
        (vera, lion, 1, today, None), (victor, rose, 30, today, None), (nina, heart, 12, today, None),
        (victor, rocket, 2, today, None), (vera, doughnut, 4, guitar, None), (nina, universe, 1, guitar, None),
        (victor, rose, 99, guitar, None), (victor, lion, 3, older, last_month), (vera, heart, 8, older, last_month),
    ]:
        give(sender, cora, g, live, quantity=n, at=at)
    paid, _ = cashouts.request_cashout(cora, 2000, "FR76 3000 6000 0112 3456 7890 189", "seed-1")
    cashouts.approve(sam, paid, "Thanks for the great lessons!")
    cashouts.mark_paid(sam, paid, "SEPA 2025-0412")
    rejected, _ = cashouts.request_cashout(cora, 1500, "paypal: cora@example", "seed-2")
    cashouts.reject(sam, rejected, "This PayPal address looks incomplete: please check it and ask again.")
    cancelled, _ = cashouts.request_cashout(cora, 1000, "FR76 3000 6000 0112 3456 7890 189", "seed-3")
    cashouts.cancel(cora, cancelled)
    for who, n, details, key in [
        (rita, 4000, "DE89 3704 0044 0532 0130 00", "r1"),
        (omar, 1250, "=HYPERLINK(\\"http://evil.example\\", \\"click\\") paypal: omar.oyelaran-featherstonehaugh@example.com", "o1"),
        (lena, 3000, "paypal: lena.lopez@example.com", "l1"),
    ]:
        earn(who, n + 300, vera)
        cashouts.request_cashout(who, n, details, key)
    to_pay = cashouts.pending_of(lena)
    cashouts.approve(sam, to_pay, "")
"""


def seed(server) -> None:
    import subprocess

    subprocess.run(
        [sys.executable, "-c", SEED, PASSWORD],
        cwd=REPO_ROOT, env=server.env, check=True, timeout=180, capture_output=True,
    )  # fmt: skip


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Account menu").wait_for()


def variant(
    browser: Browser, base_url: str, out: Path, device: str, scheme: str
) -> tuple[list[Path], list[str]]:
    saved: list[Path] = []
    problems: list[str] = []
    options = {**VIEWPORTS[device], "color_scheme": scheme, "base_url": base_url}

    def shot(page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(200)
        if device == "mobile":
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                problems.append(f"{name}: {width}px wide on a 390px phone")
        path = out / f"earnings-{name}-{device}-{scheme}.png"
        capture(page, path)
        saved.append(path)

    def watch(page: Page) -> None:
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    context = browser.new_context(**options)
    page = context.new_page()
    watch(page)
    log_in(page, "cora")
    page.goto("/earnings")
    shot(page, "index")
    page.goto("/earnings/cashouts")
    shot(page, "cashouts")
    page.get_by_label("Diamonds to cash out").fill("1999")
    page.get_by_text("Worth €9.99 at today’s rate.").wait_for()
    page.get_by_label("Where to send the money").fill("FR76 3000 6000 0112 3456 7890 189")
    shot(page, "cashouts-typed")
    context.close()

    context = browser.new_context(**options)
    page = context.new_page()
    watch(page)
    log_in(page, "sam")
    page.goto("/admin/cashouts")
    shot(page, "admin-pending")
    page.goto("/admin/cashouts?status=approved")
    shot(page, "admin-to-pay")
    page.goto("/admin/cashouts?status=paid")
    shot(page, "admin-paid")
    context.close()
    return saved, problems


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    saved: list[Path] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="livelite-screens-earnings-") as tmp:
        server = start_server(Path(tmp) / "instance")
        try:
            seed(server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for device in VIEWPORTS:
                    for scheme in SCHEMES:
                        more, trouble = variant(browser, server.url, out, device, scheme)
                        saved += more
                        problems += trouble
                browser.close()
        except BaseException:
            print(server.log(), file=sys.stderr)
            raise
        finally:
            stop_server(server)
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    print(f"{len(saved)} screenshots in {out} ({time.monotonic() - started:.0f}s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
