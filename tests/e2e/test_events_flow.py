"""An event as people use it, in Debian's Chromium against a real server: the creator
schedules it, another person RSVPs, the creator goes live inside the window, and the
other person's bell counts the news without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from livelite_e2e import LiveServer, log_in, start_server, stop_server
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

CREATOR = ("cora", "cora-password-1")
FAN = ("finn", "finn-password-1")


@pytest.fixture(scope="module")
def events_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-events") / "instance")
    try:
        server.cli(
            "create-user",
            CREATOR[0],
            "--email",
            "cora@example.com",
            "--password",
            CREATOR[1],
            "--birthdate",
            "1985-06-01",
            "--admin",
        )
        server.cli(
            "create-user",
            FAN[0],
            "--email",
            "finn@example.com",
            "--password",
            FAN[1],
            "--birthdate",
            "1999-02-03",
        )
        yield server
    finally:
        stop_server(server)


def test_schedule_rsvp_go_live_and_the_bell_updates(make_page, events_server):
    creator = make_page(events_server, timezone_id="America/New_York")
    log_in(creator, *CREATOR)
    creator.goto("/upcoming")
    creator.get_by_role("link", name="Schedule a LIVE").click()
    creator.get_by_label("Title").fill("Office hours")
    # Five minutes from now in New York time: the GO LIVE window (10 min) is already open.
    local = creator.evaluate(
        "() => { const d = new Date(Date.now() + 5 * 60000); d.setSeconds(0);"
        " const p = n => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth()+1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; }"
    )
    creator.get_by_label("Starts at").fill(local)
    expect(creator.get_by_text("In your time zone: America/New_York.")).to_be_visible()
    creator.get_by_role("button", name="Schedule").click()
    expect(creator.get_by_role("heading", name="Office hours")).to_be_visible()
    event_url = creator.url
    # The page shows the time back in the creator's zone, as typed.
    shown = creator.locator("time[data-local-time]").first.text_content()
    typed = datetime.fromisoformat(local)
    assert typed.strftime("%B") in shown and f"{typed.day}," in shown

    fan = make_page(events_server, timezone_id="Europe/Paris")
    log_in(fan, *FAN)
    fan.goto(event_url)
    fan.get_by_role("button", name="RSVP").click()
    expect(fan.get_by_text("1 person going")).to_be_visible()
    bell = fan.locator("[data-bell]")
    expect(bell).to_have_attribute("aria-label", "Notifications")
    # Paris time is six hours ahead of New York: the same instant, shown for Paris.
    paris = (typed + timedelta(hours=6)).strftime("%H:%M").lstrip("0") or "0"
    assert paris.split(":")[1] in fan.locator("time[data-local-time]").first.text_content()

    creator.goto(event_url)
    expect(creator.get_by_text("1 person going")).to_be_visible()
    creator.get_by_role("button", name="GO LIVE").click()
    expect(creator).to_have_url(f"{events_server.url}/studio")
    expect(creator.get_by_label("Title")).to_have_value("Office hours")

    # The fan's page was not reloaded; the bell counts the live starting.
    expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread", timeout=10_000)
    expect(fan.locator("[data-unread]")).to_have_text("1")
    bell.click()
    expect(fan.get_by_text("Cora is LIVE: Office hours")).to_be_visible()
