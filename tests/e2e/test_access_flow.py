"""A live-access request as people make it, in Debian's Chromium against a real server:
a member below the followers bar opens the studio, sees why they cannot go live,
follows the link and asks; an admin (another browser) approves with a note; the
member's bell counts the answer without a reload, and the studio now offers going live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from livelite_e2e import LiveServer, log_in, start_server, stop_server
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

ADMIN = ("alba", "alba-password-1")
MEMBER = ("mia", "mia-password-1")
REASON = "I teach guitar to twelve neighbours every Tuesday and would like to stream the class."
NOTE = "Have a great first class!"


@pytest.fixture(scope="module")
def access_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-access") / "instance")
    try:
        server.cli(
            "create-user", ADMIN[0], "--email", "alba@example.com", "--password", ADMIN[1],
            "--birthdate", "1980-01-02", "--display-name", "Alba", "--admin",
        )  # fmt: skip
        server.cli(
            "create-user", MEMBER[0], "--email", "mia@example.com", "--password", MEMBER[1],
            "--birthdate", "1996-09-30", "--display-name", "Mia",
        )  # fmt: skip
        yield server
    finally:
        stop_server(server)


def test_request_live_access_an_admin_approves_and_the_member_goes_live(make_page, access_server):
    member = make_page(access_server)
    log_in(member, *MEMBER)
    member.goto("/studio")
    expect(member.get_by_text("You cannot go live yet:")).to_be_visible()
    expect(member.get_by_text("Going live needs 1000 followers (you have 0)")).to_be_visible()
    expect(member.get_by_role("button", name="Go LIVE")).to_have_count(0)
    member.get_by_role("link", name="Request live access").click()
    expect(member).to_have_url(f"{access_server.url}/settings/live-access")

    # The form works from the keyboard: type the reason, Tab to the button, Enter.
    member.get_by_label("Why do you want to go live?").fill(REASON)
    member.keyboard.press("Tab")
    expect(member.get_by_role("button", name="Send my request")).to_be_focused()
    member.keyboard.press("Enter")
    expect(member.get_by_text("Your request is sent.")).to_be_visible()
    expect(member.get_by_text("Waiting for an admin", exact=True)).to_be_visible()
    expect(member.get_by_label("Why do you want to go live?")).to_have_count(0)
    bell = member.locator("[data-bell]")
    expect(bell).to_have_attribute("aria-label", "Notifications")

    admin = make_page(access_server)
    log_in(admin, *ADMIN)
    expect(admin.locator("[data-bell]")).to_have_attribute("aria-label", "Notifications, 1 unread")
    admin.locator("[data-bell]").click()
    admin.get_by_role("link", name="Mia asks for live access.").click()
    expect(admin).to_have_url(f"{access_server.url}/admin/access-requests")
    card = admin.locator(".access-card").filter(has_text="@mia")
    expect(card.get_by_text(REASON)).to_be_visible()
    expect(card.get_by_text("Followers")).to_be_visible()
    card.get_by_label("Note to Mia").fill(NOTE)
    card.get_by_role("button", name="Approve").click()
    expect(admin.get_by_text("@mia may go live now. They are told.")).to_be_visible()
    expect(admin.get_by_text("No request is waiting.")).to_be_visible()

    # The member's page was not reloaded: the bell counts the answer.
    expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread", timeout=10_000)
    expect(member.locator("[data-unread]")).to_have_text("1")
    bell.click()
    expect(
        member.get_by_text(
            f"Your live-access request was approved. You can go live now. The admin wrote: “{NOTE}”"
        )
    ).to_be_visible()

    member.goto("/studio")
    expect(member.get_by_text("You cannot go live yet:")).to_have_count(0)
    expect(member.get_by_label("Title")).to_be_visible()
    expect(member.get_by_role("button", name="Go LIVE")).to_be_visible()
