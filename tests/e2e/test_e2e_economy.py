"""The whole gifts economy as people use it, in Debian's Chromium against a real server.

A viewer buys coins from their wallet (the manual provider: the request waits); the
site's admin approves it and the coins arrive, with a line in the history. The host goes
live from the studio with the fake camera; the viewer sends a gift from the picker and
their balance drops by its cost; the studio plays it and counts the creator's share in
diamonds, which the host's earnings page shows too. The host cashes them out (the site's
minimum is set low for this), the admin approves and marks it paid, and the host sees
each step. Last, ``flask ledger-check`` finds the books balanced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from livelite_e2e import LiveServer, log_in, start_server, stop_server
from playwright.sync_api import Page, expect
from test_e2e_room import PASSWORD, create_people, go_live, patient

pytestmark = pytest.mark.e2e

# The first account made is the site's admin; only the host may go live.
PEOPLE = {"ada": "Ada Admin", "hugo": "Hugo Host", "vic": "Vic Viewer"}
HOST = "hugo"
# The smallest default package, the Doughnut's cost, and the host's 50 % of it.
PACKAGE_COINS, PACKAGE_PRICE = 70, "€0.99"
GIFT, GIFT_COINS = "Doughnut", 30
DIAMONDS = GIFT_COINS * 50 // 100
# 15 diamonds at the default 50 cents per 100 diamonds, rounded down to the cent.
CASHOUT_MONEY = "€0.07"
PAYOUT_TO = "FR76 3000 6000 0112 3456 7890 189"
# For what comes over the live's connection (expect's own default is 5 s): the machine
# may be busy.
REALTIME = 15_000


@pytest.fixture(scope="module")
def economy_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-economy") / "instance")
    try:
        # A cash-out is 1000 diamonds at least by default; one gift brings 15.
        create_people(server, PEOPLE, {HOST}, {"CASHOUT_MIN_DIAMONDS": 10})
        yield server
    finally:
        stop_server(server)


def person(make_page, server: LiveServer, username: str) -> Page:
    page = patient(make_page(server))
    log_in(page, username, PASSWORD)
    return page


def flash(page: Page, text: str):
    return page.get_by_role("status").filter(has_text=text)


def test_coins_bought_approved_gifted_earned_cashed_out_and_the_ledger_balances(make_page, economy_server):
    server = economy_server

    # 1. The viewer asks for the smallest package from their wallet; it waits.
    viewer = person(make_page, server, "vic")
    viewer.goto("/wallet")
    expect(viewer.locator('[data-balance="coins"]')).to_have_text("0")
    buy = viewer.get_by_role("region", name="Buy coins")
    package = buy.get_by_role("radio", name=f"{PACKAGE_COINS} coins {PACKAGE_PRICE}")
    package.check()
    expect(package).to_be_checked()
    buy.get_by_role("button", name="Buy coins").click()
    expect(flash(viewer, f"Your request for {PACKAGE_COINS} coins is sent.")).to_be_visible()
    requests = viewer.get_by_role("region", name="Your coin requests")
    mine = requests.get_by_role("listitem").filter(has_text=f"{PACKAGE_COINS} coins")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Waiting for an admin")
    expect(mine).to_contain_text(PACKAGE_PRICE)
    expect(viewer.locator('[data-balance="coins"]')).to_have_text("0")  # nothing yet

    # 2. The admin sees it waiting (and counted in the tabs) and approves it.
    admin = person(make_page, server, "ada")
    admin.goto("/admin/coins")
    tabs = admin.get_by_role("navigation", name="Admin")
    expect(tabs.get_by_role("link", name=re.compile(r"^Coins\s+1\s+waiting$"))).to_be_visible()
    waiting = admin.get_by_role("region", name=re.compile("^Coin requests waiting"))
    card = waiting.get_by_role("listitem").filter(has_text="@vic")
    expect(card).to_contain_text("Vic Viewer")
    expect(card).to_contain_text(f"{PACKAGE_COINS} coins")
    expect(card).to_contain_text(PACKAGE_PRICE)
    card.get_by_role("button", name="Approve").click()
    expect(flash(admin, f"@vic has {PACKAGE_COINS} more coins. They are told.")).to_be_visible()
    expect(waiting.get_by_text("No coin request is waiting.")).to_be_visible()
    decided = admin.get_by_role("region", name="Decided")
    expect(decided.get_by_role("listitem").filter(has_text="@vic")).to_contain_text("Approved")

    # The viewer's wallet, reloaded: the coins, the request approved, the history line.
    viewer.reload()
    expect(viewer.locator('[data-balance="coins"]')).to_have_text(str(PACKAGE_COINS))
    expect(mine).to_contain_text("Approved")
    history = viewer.get_by_role("region", name="History")
    bought = history.get_by_role("listitem").first
    expect(bought).to_contain_text("Coins bought")
    expect(bought).to_contain_text(f"{PACKAGE_PRICE}, approved by an admin")
    expect(bought.locator(".wallet-entry-figure")).to_have_text(f"+{PACKAGE_COINS}")

    # 3. The host goes live from the studio with Chromium's fake camera.
    host = make_page(server)
    live_id = go_live(host, server, HOST, "Economy story")
    gifts_panel = host.locator(".studio-gifts")
    expect(gifts_panel).to_be_visible(timeout=REALTIME)
    expect(gifts_panel.locator('[data-gift-earned="diamonds"]')).to_have_text("0")

    # 4. The viewer sends a gift from the picker; the balance drops by its cost.
    viewer.goto(f"/lives/{live_id}")
    expect(viewer.get_by_label("Your message")).to_be_enabled(timeout=REALTIME)  # the room is joined
    viewer.get_by_role("button", name="Send a gift").first.click()
    picker = viewer.get_by_role("dialog", name="Send a gift")
    expect(picker).to_be_visible(timeout=REALTIME)
    balance = picker.locator("[data-gift-balance]")
    expect(balance).to_have_text(str(PACKAGE_COINS), timeout=REALTIME)
    picker.locator(".gift-option", has_text=GIFT).click()  # a click on the card
    expect(picker.get_by_role("radio", name=GIFT)).to_be_checked()
    expect(picker.locator("[data-gift-total]")).to_have_text(f"Total: {GIFT_COINS} coins")
    picker.get_by_role("button", name="Send", exact=True).click()
    # 5. (first: its banner lasts 3 s) The studio plays the gift over the preview.
    banner = host.locator(".studio-preview .gift-banner").filter(has_text="Vic Viewer")
    expect(banner.filter(has_text=f"sent {GIFT}")).to_be_visible(timeout=REALTIME)
    expect(picker.get_by_role("status")).to_have_text(f"{GIFT} sent to Hugo Host.", timeout=REALTIME)
    expect(balance).to_have_text(str(PACKAGE_COINS - GIFT_COINS), timeout=REALTIME)
    picker.get_by_role("button", name="Close").click()
    expect(picker).to_be_hidden()

    # The studio counts the gift and the host's share of it in diamonds.
    expect(gifts_panel.locator('[data-gift-earned="gifts"]')).to_have_text("1")
    expect(gifts_panel.locator('[data-gift-earned="coins"]')).to_have_text(str(GIFT_COINS))
    expect(gifts_panel.locator('[data-gift-earned="diamonds"]')).to_have_text(str(DIAMONDS), timeout=REALTIME)
    expect(gifts_panel.locator("[data-gift-feed] li").first).to_contain_text(f"Vic Viewer sent {GIFT}")

    # The viewer's wallet tells the gift too.
    viewer.goto("/wallet")
    expect(viewer.locator('[data-balance="coins"]')).to_have_text(str(PACKAGE_COINS - GIFT_COINS))
    sent = history.get_by_role("listitem").first
    expect(sent).to_contain_text("Gift")
    expect(sent).to_contain_text(f"{GIFT} to @{HOST}")
    expect(sent.locator(".wallet-entry-figure")).to_have_text(f"\u2212{GIFT_COINS}")

    # 6. The host's earnings (in a second window: the studio stays live).
    desk = person(make_page, server, HOST)
    desk.goto("/earnings")
    figures = desk.get_by_role("region", name="Your earnings in figures")
    expect(figures.locator("#earn-total .earn-stat-value")).to_have_text(str(DIAMONDS))
    expect(figures.locator("#earn-total")).to_contain_text("from 1 gift")
    expect(figures.locator("#earn-balance .earn-stat-value")).to_have_text(str(DIAMONDS))
    live_row = desk.get_by_role("region", name="Per live").get_by_role(
        "row", name=re.compile("Economy story")
    )
    expect(live_row.get_by_role("cell").nth(3)).to_have_text(str(DIAMONDS))
    expect(live_row).to_contain_text("Vic Viewer")
    gift_row = desk.get_by_role("region", name="Per gift").get_by_role("row", name=re.compile(GIFT))
    expect(gift_row.get_by_role("cell")).to_have_text(["1", str(GIFT_COINS), str(DIAMONDS)])

    # The host asks for a cash-out of all of them; the page says what they are worth.
    desk.get_by_role("link", name="Cash out").click()
    expect(desk.get_by_role("heading", name="Cash-outs", level=1)).to_be_visible()
    expect(desk.locator("#cashout-available")).to_have_text(str(DIAMONDS))
    desk.get_by_label("Diamonds to cash out").fill(str(DIAMONDS))
    expect(desk.locator("#cashout-preview")).to_have_text(f"Worth {CASHOUT_MONEY} at today’s rate.")
    desk.get_by_label("Where to send the money").fill(PAYOUT_TO)
    desk.get_by_role("button", name="Ask for the cash-out").click()
    expect(
        flash(desk, f"Your cash-out of {DIAMONDS} diamonds ({CASHOUT_MONEY}) is sent to the admins.")
    ).to_be_visible()
    cashouts = desk.get_by_role("region", name="Your cash-outs")
    asked = cashouts.get_by_role("listitem").first
    expect(asked).to_contain_text("Pending")
    expect(asked).to_contain_text(f"{DIAMONDS} diamonds")
    expect(asked).to_contain_text(CASHOUT_MONEY)
    expect(asked).to_contain_text(PAYOUT_TO)
    desk.goto("/earnings")
    expect(figures.locator("#earn-balance .earn-stat-value")).to_have_text("0")
    expect(figures.locator("#earn-balance")).to_contain_text(
        f"{DIAMONDS} diamonds held in your pending cash-out"
    )

    # The admin approves it, then marks it paid with the transfer's reference.
    admin.goto("/admin/cashouts")
    asked_admin = admin.get_by_role("listitem").filter(has_text="@hugo")
    expect(asked_admin).to_contain_text(str(DIAMONDS))
    expect(asked_admin).to_contain_text(CASHOUT_MONEY)
    expect(asked_admin.get_by_role("textbox", name="Send the money to")).to_have_value(PAYOUT_TO)
    asked_admin.get_by_role("button", name="Approve").click()
    expect(flash(admin, f"Approved: send {CASHOUT_MONEY} to @hugo, then mark it paid.")).to_be_visible()

    desk.goto("/earnings/cashouts")
    expect(asked).to_contain_text("Approved, money to send")
    expect(asked).to_contain_text("The admins approved it: the money is on its way.")
    desk.goto("/earnings")
    expect(figures.locator("#earn-balance")).to_contain_text("None held: no cash-out is pending.")
    expect(figures.locator("#earn-balance .earn-stat-value")).to_have_text("0")
    expect(figures.locator("#earn-total .earn-stat-value")).to_have_text(str(DIAMONDS))

    admin.get_by_role("link", name=re.compile(r"^To pay")).click()
    to_pay = admin.get_by_role("listitem").filter(has_text="@hugo")
    to_pay.get_by_label("Payment reference (optional)").fill("TRX-42")
    to_pay.get_by_role("button", name="Mark paid").click()
    expect(flash(admin, f"Marked paid: {CASHOUT_MONEY} to @hugo.")).to_be_visible()

    desk.goto("/earnings/cashouts")
    expect(asked.locator(".pill")).to_have_text("Paid")
    expect(asked).to_contain_text("TRX-42")

    # 7. The books balance: every account's balance is the sum of its entries.
    result = server.cli("ledger-check")  # raises unless it exits with 0
    assert result.returncode == 0
    assert "the ledger balances." in result.stdout
