"""Screenshots of the wallet and the admins' coins page:
``python tests/e2e/screens_wallet.py [OUTDIR]``.

Starts a real server; an admin grants coins, a viewer sends gifts in a creator's live
(ledger movements made as services.gifts makes them), asks for coins through the
wallet's form, an admin approves one request and rejects another (with a note that is
HTML, shown as text), and another viewer's request waits in the queue. Then saved at
1280x800 and 390x844, light and dark: the viewer's wallet, the creator's wallet, the
admins' coins page, the account menu: ``wallet-<page>-<desktop|mobile>-<light|dark>.png``.
Also reports console errors and pages that scroll sideways on the phone. Not a test:
pytest skips it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, DESKTOP, REPO_ROOT, start_server, stop_server
from playwright.sync_api import Browser, Page, sync_playwright
from screens import SCHEMES, VIEWPORTS, capture

PASSWORD = "wallet-screens-pw"
PEOPLE = [
    # username, display name, birth date, extra create-user flags
    ("sam", "Sam Admin", "1985-03-14", ["--admin"]),
    ("ada", "Ada Lovelace", "1990-12-10", ["--creator"]),
    ("linus", "Linus", "2001-04-02", []),
    ("grace", "Grace Hopper", "1986-12-09", []),
]
EVIL_NOTE = "No transfer arrived yet <b>— send it</b> and ask again."

# Run inside the server's instance (its environment): gifts from Linus in Ada's live.
GIFTS_SNIPPET = r"""
import uuid
from datetime import UTC, datetime
from livelite import create_app
from livelite.extensions import db
from livelite.models import AccountKind, Gift, GiftSend, Live, LiveStatus, TransactionType, User
from livelite.services import coins, ledger
from livelite.services.ledger import Leg

app = create_app({"SOCKETIO_ASYNC_MODE": "threading"})
with app.app_context():
    who = {u.username: u for u in db.session.scalars(db.select(User))}
    coins.grant(who["sam"], "linus", 500, "Maths club, spring term", "screens-grant-1")
    now = datetime.now(UTC)
    live = Live(host_id=who["ada"].id, title="Fractions without fear", status=LiveStatus.ENDED,
                started_at=now, ended_at=now)
    rose = Gift(name="Rose", icon="rose.svg", coins=10)
    rocket = Gift(name="Rocket", icon="rocket.svg", coins=100)
    db.session.add_all([live, rose, rocket])
    db.session.commit()
    for gift, quantity in ((rose, 3), (rocket, 1)):
        total = gift.coins * quantity
        posted = ledger.post(
            TransactionType.GIFT,
            [
                Leg(ledger.account_id(AccountKind.COINS, who["linus"]), -total),
                Leg(ledger.account_id(AccountKind.DIAMONDS, who["ada"]), total // 2),
                Leg(ledger.account_id(AccountKind.PLATFORM_REVENUE), total - total // 2),
            ],
            key=f"screens-gift:{uuid.uuid4().hex}",
            reference="gift_send:screens",
        )
        db.session.add(GiftSend(live_id=live.id, gift_id=gift.id, sender_id=who["linus"].id,
                                receiver_id=who["ada"].id, quantity=quantity, coins=total,
                                diamonds=total // 2, transaction_id=posted.transaction.id))
        db.session.commit()
    assert ledger.check() == []
"""


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Account menu").wait_for()


def ask_for(page: Page, coins_label: str) -> None:
    page.goto("/wallet")
    page.get_by_label(coins_label, exact=False).check()
    page.get_by_role("button", name="Buy coins").click()
    page.locator(".flash-success").wait_for()


def prepare(browser: Browser, server) -> None:
    for username, name, born, flags in PEOPLE:
        server.cli(
            "create-user", username, "--email", f"{username}@example.com", "--password", PASSWORD,
            "--birthdate", born, "--display-name", name, *flags,
        )  # fmt: skip
    subprocess.run(
        [sys.executable, "-c", GIFTS_SNIPPET], cwd=REPO_ROOT, env=server.env, check=True, timeout=60
    )
    linus = browser.new_context(base_url=server.url, **DESKTOP).new_page()
    log_in(linus, "linus")
    ask_for(linus, "350 coins")
    ask_for(linus, "70 coins")
    admin = browser.new_context(base_url=server.url, **DESKTOP).new_page()
    log_in(admin, "sam")
    admin.goto("/admin/coins")
    card = admin.locator(".access-card", has_text="350 coins")
    card.get_by_label("Note to Linus").fill("Thanks, cash received in class.")
    card.get_by_role("button", name="Approve").click()
    admin.locator(".flash-success").wait_for()
    card = admin.locator(".access-card", has_text="70 coins")
    card.get_by_label("Note to Linus").fill(EVIL_NOTE)
    card.get_by_role("button", name="Reject").click()
    admin.locator(".flash-info").wait_for()
    ask_for(linus, "700 coins")  # stays pending: the Cancel button
    grace = browser.new_context(base_url=server.url, **DESKTOP).new_page()
    log_in(grace, "grace")
    ask_for(grace, "1,400 coins")
    for page in (linus, admin, grace):
        page.context.close()


def variant(
    browser: Browser, base_url: str, out: Path, device: str, scheme: str
) -> tuple[list[Path], list[str]]:
    saved: list[Path] = []
    problems: list[str] = []
    options = {**VIEWPORTS[device], "color_scheme": scheme, "base_url": base_url}

    def shot(page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        if device == "mobile":
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                problems.append(f"{name}: {width}px wide on a 390px phone")
        path = out / f"wallet-{name}-{device}-{scheme}.png"
        capture(page, path)
        saved.append(path)

    for username, pages in (("linus", ["wallet"]), ("ada", ["wallet-creator"]), ("sam", ["admin-coins"])):
        context = browser.new_context(**options)
        page = context.new_page()
        page.on(
            "console",
            # The grant form's deliberate mistake answers 422; anything else is a problem.
            lambda msg, who=username: problems.append(f"{who}: console {msg.type}: {msg.text}")
            if msg.type == "error" and "status of 422" not in msg.text
            else None,
        )
        log_in(page, username)
        for name in pages:
            page.goto("/admin/coins" if name == "admin-coins" else "/wallet")
            shot(page, name)
        if username == "linus":
            page.get_by_label("Account menu").click()
            page.get_by_role("menu").wait_for()
            path = out / f"wallet-account-menu-{device}-{scheme}.png"
            page.screenshot(path=path)
            saved.append(path)
        if username == "sam":
            # The grant form after a mistake: errors next to their fields.
            page.goto("/admin/coins")
            page.get_by_label("Username").fill("nobody")
            page.get_by_role("button", name="Grant coins").click()
            page.locator("#grant-username-err").wait_for()
            page.locator("#grant-title").scroll_into_view_if_needed()
            shot(page, "admin-coins-grant-errors")
        context.close()
    return saved, problems


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "test-artifacts" / "screens"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    saved: list[Path] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="livelite-screens-wallet-") as tmp:
        server = start_server(Path(tmp) / "instance")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                prepare(browser, server)
                for device in VIEWPORTS:
                    for scheme in SCHEMES:
                        more, found = variant(browser, server.url, out, device, scheme)
                        saved += more
                        problems += found
                browser.close()
            server.cli("ledger-check")
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
