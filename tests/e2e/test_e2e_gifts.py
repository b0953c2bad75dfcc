"""Gifts in a live as people use them, in Debian's Chromium against a real server process.

The host goes live from the studio with Chromium's fake camera and sets a LIVE goal. A
viewer who was granted coins opens the gift picker from the button beside the heart,
sends a gift with the keyboard, and sees their balance drop; the host's studio plays
the animation over the preview, counts the diamonds and lists the gift; both see the
goal bar fill and the viewer leads the top gifters. A second gift the viewer cannot
afford is refused with their balance and the way to the wallet, and charges nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest
from livelite_e2e import REPO_ROOT, LiveServer, start_server, stop_server
from playwright.sync_api import Page, expect
from test_e2e_room import create_people, go_live, watch

pytestmark = pytest.mark.e2e

PEOPLE = {"ghost": "Gina Host", "hal": "Hal Host", "vic": "Vic Viewer", "walt": "Walt Watcher"}
COINS = 100

# Coins for the viewer, as an admin grants them (services.coins; the ledger's grant
# movement if that service is not there). The first account made is the admin.
GRANT = """
import sys
from livelite import create_app
from livelite.models import AccountKind, TransactionType
from livelite.extensions import db
from livelite.services import accounts, ledger
app = create_app()
with app.app_context():
    admin = accounts.get_by_username(sys.argv[1])
    try:
        from livelite.services import coins
        coins.grant(admin, sys.argv[2], int(sys.argv[3]), "End-to-end coins", "e2e-grant-" + sys.argv[2])
    except ImportError:
        person = accounts.get_by_username(sys.argv[2])
        ledger.post(
            TransactionType.GRANT,
            [ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -int(sys.argv[3])),
             ledger.Leg(ledger.account_id(AccountKind.COINS, person), int(sys.argv[3]))],
            key="e2e-grant-" + sys.argv[2], reference="e2e",
        )
        db.session.commit()
"""


def grant(server: LiveServer, admin: str, username: str, coins: int) -> None:
    subprocess.run(
        [sys.executable, "-c", GRANT, admin, username, str(coins)],
        cwd=REPO_ROOT, env=server.env, check=True, timeout=120, capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def gift_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-gifts") / "instance")
    try:
        create_people(server, PEOPLE, {"ghost", "hal"})
        grant(server, "ghost", "vic", COINS)
        yield server
    finally:
        stop_server(server)


def api(server: LiveServer, path: str):
    with urllib.request.urlopen(server.url + path, timeout=5) as response:  # noqa: S310 - our own server
        return json.load(response)


def picker(page: Page):
    return page.get_by_role("dialog", name="Send a gift")


def test_a_viewer_sends_a_gift_and_the_host_sees_it_and_the_diamonds(make_page, gift_server):
    host = make_page(gift_server)
    live_id = go_live(host, gift_server, "ghost", "Gift story")

    # The host sets a goal in the studio's gifts panel.
    panel = host.locator(".studio-gifts")
    expect(panel).to_be_visible()
    panel.get_by_label("Coins to reach").fill("100")
    panel.get_by_label("What it is for (optional)").fill("New lights")
    panel.get_by_role("button", name="Set goal").click()
    expect(panel.get_by_text("Goal set. Your viewers see the bar now.")).to_be_visible()
    expect(host.locator(".studio-preview [data-gift-goal]")).to_contain_text("New lights")

    viewer = watch(make_page(gift_server), "vic", live_id)
    goal = viewer.locator(".player [data-gift-goal]")
    expect(goal).to_contain_text("New lights")
    expect(goal).to_contain_text("0 / 100")

    # The picker, from the button beside the heart, driven with the keyboard.
    viewer.get_by_role("button", name="Send a gift").first.click()
    dialog = picker(viewer)
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-gift-balance]")).to_have_text("100")
    rose = dialog.get_by_role("radio", name="Rose")
    expect(rose).to_be_focused()
    expect(rose).to_be_checked()
    viewer.keyboard.press("ArrowRight")  # Heart
    viewer.keyboard.press("ArrowRight")  # Doughnut
    doughnut = dialog.get_by_role("radio", name="Doughnut")
    expect(doughnut).to_be_checked()
    expect(dialog.locator("[data-gift-total]")).to_have_text("Total: 30 coins")
    dialog.get_by_role("button", name="Send", exact=True).click()
    expect(dialog.get_by_role("status")).to_have_text("Doughnut sent to Gina Host.")
    expect(dialog.locator("[data-gift-balance]")).to_have_text("70")

    # The host: the animation over the preview, the diamonds, the gift in the list.
    banner = host.locator(".studio-preview .gift-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Vic Viewer")
    expect(banner).to_contain_text("sent Doughnut")
    expect(panel.locator('[data-gift-earned="diamonds"]')).to_have_text("15")
    expect(panel.locator('[data-gift-earned="coins"]')).to_have_text("30")
    expect(panel.locator("[data-gift-feed] li").first).to_contain_text("Vic Viewer sent Doughnut")
    expect(panel.locator("[data-gift-top] li").first).to_contain_text("Vic Viewer")
    # Both see the goal fill; the viewer's own screen played it too.
    expect(goal).to_contain_text("30 / 100")
    expect(host.locator(".studio-preview [data-gift-goal]")).to_contain_text("30 / 100")
    expect(viewer.locator(".player .gift-banner")).to_contain_text("×1")

    # A second gift too dear: refused with the balance and the way to the wallet.
    dialog.locator(".gift-option", has_text="Rocket").click()  # a click on the card
    expect(dialog.get_by_role("radio", name="Rocket")).to_be_checked()
    expect(dialog.locator("[data-gift-total]")).to_contain_text("Not enough coins")
    dialog.get_by_role("button", name="Send", exact=True).click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "This gift costs 500 coins and you have 70. Get coins in your wallet."
    )
    expect(dialog.get_by_role("link", name="Get coins")).to_have_attribute("href", "/wallet")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # Top gifters on the viewer's Gifts tab; the server's books agree.
    viewer.get_by_role("tab", name="Gifts").click()
    first = viewer.locator("#room-panel-gifts [data-gift-top] li").first
    expect(first).to_contain_text("Vic Viewer")
    expect(first).to_contain_text("30")
    assert api(gift_server, f"/api/v1/lives/{live_id}/top-gifters")[0]["coins"] == 30
    recent = api(gift_server, f"/api/v1/lives/{live_id}/gifts")
    assert [(g["gift"]["name"], g["sender"]["username"]) for g in recent] == [("Doughnut", "vic")]
    assert api(gift_server, f"/api/v1/lives/{live_id}/goal") == {
        "target": 100,
        "label": "New lights",
        "progress": 30,
    }


def test_a_third_person_sees_the_animation_and_combos_count_up(make_page, gift_server):
    host = make_page(gift_server)
    live_id = go_live(host, gift_server, "hal", "Combo story")
    walt = watch(make_page(gift_server), "walt", live_id)
    vic = watch(make_page(gift_server), "vic", live_id)
    vic.get_by_role("button", name="Send a gift").first.click()
    dialog = picker(vic)
    dialog.locator(".gift-option", has_text="Rose").click()
    send = dialog.get_by_role("button", name="Send", exact=True)
    for _ in range(3):
        expect(send).to_be_enabled()
        send.click()
    expect(dialog.get_by_role("status")).to_contain_text("×3")
    banner = walt.locator(".player .gift-banner")
    expect(banner).to_have_count(1)  # one combining animation, not three
    expect(banner.locator(".gift-banner-count")).to_have_text("×3")
    expect(walt.locator("[data-gift-announce]")).to_contain_text("Vic Viewer sent Rose to Hal Host.")
    # A visitor sees the gifts too, without a Gift button.
    visitor = make_page(gift_server)
    visitor.goto(f"/lives/{live_id}")
    expect(visitor.get_by_role("tab", name="Gifts")).to_be_visible()
    visitor.get_by_role("tab", name="Gifts").click()
    expect(visitor.locator("#room-panel-gifts [data-gift-top] li").first).to_contain_text("Vic Viewer")
    expect(visitor.get_by_role("button", name="Send a gift")).to_have_count(0)
