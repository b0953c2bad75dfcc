"""The live room as people use it, in Debian's Chromium against a real server process.

The host goes live from the studio with Chromium's fake camera. Two viewers chat and
each sees the other's message; a message made of HTML shows as text and builds no
element; one viewer asks a question, the other upvotes it; the host answers it in the
studio and both viewers see it pinned over the video. The host makes a third viewer a
moderator from the chat; that moderator mutes a viewer, whose messages vanish for the
other viewer and whose composer says they are muted. A second story covers the room's
switches (slow mode, comments off) and a refusal that keeps the typed message.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest
from livelite_e2e import PHONE, REPO_ROOT, LiveServer, log_in, start_server, stop_server
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PASSWORD = "room-password-1"
PEOPLE = {
    "rhost": "Rita Host",
    "vera": "Vera Viewer",
    "victor": "Victor Viewer",
    "mona": "Mona Mod",
    "shost": "Sol Host",
    "sam": "Sam Viewer",
}
HOSTS = {"rhost", "shost"}
CHAT_PER_10S = 2
PHONE_LAYOUT = """() => {
  const player = document.querySelector('.player').getBoundingClientRect();
  const room = document.querySelector('.room').getBoundingClientRect();
  return {fits: document.documentElement.scrollWidth <= 390, room_below_player: room.top >= player.bottom};
}"""
INJECTION = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


# One process makes everyone (``flask create-user`` once each costs a start-up apiece).
CREATE_PEOPLE = """
import json, sys
from datetime import date
from livelite import create_app
from livelite.models import Role
from livelite.server import ensure_database
from livelite.services import accounts
from livelite.services.settings import set_setting
app = create_app()
with app.app_context():
    ensure_database(app)
    for username, name, creator in json.loads(sys.argv[1]):
        accounts.register(
            username=username, display_name=name, email=username + "@example.com",
            password=sys.argv[2], birth_date=date(1990, 5, 5),
            role=Role.CREATOR if creator else Role.MEMBER, check_open=False,
        )
    for key, value in json.loads(sys.argv[3]).items():
        set_setting(key, value)
"""


def create_people(
    server: LiveServer, people: dict[str, str], hosts: set[str], settings: dict | None = None
) -> None:
    """Accounts with PASSWORD; ``hosts`` may go live. The first one made is the site's
    admin (the first account always is), so the first should be a host. ``settings``:
    site settings to store (services.settings)."""
    rows = [[username, name, username in hosts] for username, name in people.items()]
    subprocess.run(
        [sys.executable, "-c", CREATE_PEOPLE, json.dumps(rows), PASSWORD, json.dumps(settings or {})],
        cwd=REPO_ROOT, env=server.env, check=True, timeout=120, capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def room_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-room") / "instance")
    try:
        # Two messages per 10 s (5 by default), so that the refusal comes at once even
        # on a slow machine, where each round trip refills the bucket a little.
        create_people(server, PEOPLE, HOSTS, {"CHAT_MESSAGES_PER_10S": CHAT_PER_10S})
        yield server
    finally:
        stop_server(server)


def api(server: LiveServer, path: str):
    with urllib.request.urlopen(server.url + path, timeout=5) as response:  # noqa: S310 - our own server
        return json.load(response)


def patient(page: Page) -> Page:
    """Pages with a camera or a player load slowly on a busy machine: 10 s is tight."""
    page.set_default_timeout(20_000)
    return page


def go_live(page: Page, server: LiveServer, username: str, title: str) -> int:
    """Log in as a host, go LIVE from the studio with the fake camera; the live's id."""
    patient(page)
    log_in(page, username, PASSWORD)
    page.goto("/studio")
    expect(page.locator(".studio-room")).to_be_hidden()
    page.get_by_label("Title").fill(title)
    expect(page.get_by_label("Choose a camera")).not_to_have_value("")
    page.get_by_role("button", name="Go LIVE").last.click()
    expect(page.get_by_role("status").filter(has_text="You are LIVE.")).to_be_visible(timeout=20_000)
    # The host's room appears once the studio knows its live.
    expect(page.locator(".studio-room")).to_be_visible()
    live = next(x for x in api(server, "/api/v1/lives") if x["title"] == title)
    return live["id"]


def watch(page: Page, username: str, live_id: int) -> Page:
    patient(page)
    log_in(page, username, PASSWORD)
    page.goto(f"/lives/{live_id}")
    expect(page.get_by_role("tab", name="Chat")).to_have_attribute("aria-selected", "true")
    # room_state arrived: the composer is open.
    expect(page.get_by_label("Your message")).to_be_enabled()
    return page


def say(page: Page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")
    expect(page.get_by_label("Your message")).to_have_value("")


def chat(page: Page):
    return page.get_by_role("log", name="Chat messages")


def test_two_viewers_chat_ask_see_the_answer_pinned_and_a_moderator_mutes(make_page, room_server):
    host = make_page(room_server)
    live_id = go_live(host, room_server, "rhost", "Room story")
    vera = watch(make_page(room_server), "vera", live_id)
    victor = watch(make_page(room_server), "victor", live_id)
    dialogs: list[str] = []
    for page in (vera, victor):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # Two viewers chat: each sees the other's message, the host sees both.
    say(vera, "Hello from Vera")
    expect(chat(victor).get_by_text("Hello from Vera")).to_be_visible()
    say(victor, "Hi Vera, Victor here")
    expect(chat(vera).get_by_text("Hi Vera, Victor here")).to_be_visible()
    host_chat = host.locator(".studio-room").get_by_role("log", name="Chat messages")
    expect(host_chat.get_by_text("Hello from Vera")).to_be_visible()
    expect(host_chat.get_by_text("Hi Vera, Victor here")).to_be_visible()

    # HTML in a message is text: shown as typed, no element built, nothing run.
    say(victor, INJECTION)
    line = chat(vera).locator(".room-msg-text").filter(has_text="<img src=x")
    expect(line).to_have_text(INJECTION)
    assert line.locator("img, script").count() == 0
    assert vera.locator(".room img[src='x'], .room script").count() == 0
    assert vera.title() != "pwned" and dialogs == []

    # Vera asks; Victor sees the question and upvotes it (once).
    vera.get_by_role("tab", name="Chat").focus()
    vera.keyboard.press("ArrowRight")  # the tab list follows the keyboard
    expect(vera.get_by_role("tab", name=re.compile("^Questions"))).to_have_attribute("aria-selected", "true")
    vera.get_by_label("Ask the host a question").fill("Which camera do you use?")
    vera.get_by_role("button", name="Ask", exact=True).click()
    expect(vera.get_by_text("You can ask another question in")).to_be_visible()
    victor.get_by_role("tab", name=re.compile("^Questions")).click()
    question = victor.locator(".room-q").filter(has_text="Which camera do you use?")
    expect(question.get_by_text("Vera Viewer")).to_be_visible()
    upvote = question.get_by_role("button", name=re.compile("^Upvote"))
    upvote.click()
    expect(upvote).to_have_attribute("aria-pressed", "true")
    expect(upvote).to_be_disabled()
    expect(upvote).to_have_accessible_name("Upvote, 1 vote")
    # Her own question: Vera cannot upvote it.
    expect(vera.locator(".room-q").get_by_role("button", name=re.compile("^Upvote"))).to_be_disabled()

    # The host answers it from the studio's queue; both viewers see it pinned.
    queue_item = host.locator(".studio-room .room-q").filter(has_text="Which camera do you use?")
    expect(queue_item.locator(".room-vote-count")).to_have_text("1")
    queue_item.get_by_role("button", name="Answer").click()
    for page in (vera, victor):
        pinned = page.locator(".player [data-room-pinned]")
        expect(pinned).to_be_visible()
        expect(pinned).to_contain_text("Which camera do you use?")
        expect(pinned).to_contain_text("Vera Viewer")
    expect(victor.locator(".room-q").filter(has_text="Which camera")).to_contain_text("Pinned")
    expect(queue_item).to_contain_text("Pinned")
    # The host sees it over their preview too, as the viewers do.
    expect(host.locator(".studio-preview [data-room-pinned]")).to_contain_text("Which camera do you use?")

    # The host makes Mona a moderator from her chat message.
    mona = watch(make_page(room_server), "mona", live_id)
    say(mona, "Mona says hi")
    host_chat.get_by_role("button", name="Actions for the message from Mona Mod").click()
    dialog = host.get_by_role("dialog", name="Message from Mona Mod")
    dialog.get_by_role("button", name="Make moderator").click()
    dialog.get_by_role("button", name="Make moderator").click()  # the confirmation
    expect(host.get_by_role("status").filter(has_text="Mona Mod is now a moderator.")).to_be_visible()
    expect(mona.get_by_text("You are now a moderator of this live.")).to_be_visible()

    # Mona mutes Victor: his messages vanish for Vera, his composer says why.
    chat(mona).get_by_role("button", name="Actions for the message from Victor Viewer").first.click()
    mona.get_by_role("dialog").get_by_role("button", name="Mute for 10 minutes").click()
    expect(mona.get_by_role("status").filter(has_text="Victor Viewer is muted.")).to_be_visible()
    vera.get_by_role("tab", name="Chat").click()
    expect(chat(vera).get_by_text("Hi Vera, Victor here")).to_have_count(0)
    expect(chat(vera).locator(".room-msg-text").filter(has_text="<img src=x")).to_have_count(0)
    expect(chat(vera).get_by_text("Hello from Vera")).to_be_visible()
    expect(victor.get_by_label("Your message")).to_be_disabled()
    expect(victor.locator("#room-composer-note")).to_have_text("You are muted for 10 more minutes.")
    # A viewer gets no moderation actions, only Report.
    chat(vera).get_by_role("button", name="Actions for the message from Mona Mod").click()
    vera_dialog = vera.get_by_role("dialog")
    expect(vera_dialog.get_by_role("button", name="Report")).to_be_visible()
    expect(vera_dialog.get_by_role("button", name="Delete message")).to_be_hidden()
    expect(vera_dialog.get_by_role("button", name="Mute for 1 minute")).to_be_hidden()
    vera_dialog.get_by_role("button", name="Cancel").click()
    expect(vera_dialog).to_be_hidden()


def test_room_switches_and_a_refusal_that_keeps_the_message(make_page, room_server):
    host = make_page(room_server)
    live_id = go_live(host, room_server, "shost", "Switches story")
    sam = watch(make_page(room_server), "sam", live_id)

    # On a phone the room comes under the player, and neither page scrolls sideways.
    phone = watch(make_page(room_server, **PHONE), "sam", live_id)
    assert phone.evaluate(PHONE_LAYOUT) == {"fits": True, "room_below_player": True}
    studio_phone = patient(make_page(room_server, **PHONE))
    log_in(studio_phone, "shost", PASSWORD)
    studio_phone.goto("/studio")
    expect(studio_phone.locator(".studio-room")).to_be_visible()
    expect(studio_phone.get_by_label("Slow mode")).to_be_enabled()  # room_state came
    assert studio_phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.context.close()
    studio_phone.context.close()

    # Slow mode from the studio: the viewer sees it, and waits after a message.
    host.get_by_label("Slow mode").select_option("30")
    expect(sam.locator("[data-room-notes]")).to_contain_text("Slow mode: 30 s")
    say(sam, "First message")
    expect(sam.get_by_text(re.compile(r"Slow mode: you can send again in \d+ seconds?\."))).to_be_visible()
    expect(sam.get_by_role("button", name="Send", exact=True)).to_be_disabled()

    # Comments off: the composer closes and says why; back on, it opens again.
    host.get_by_label("Slow mode").select_option("0")
    host.get_by_label("Turn comments off").check()
    expect(sam.get_by_label("Your message")).to_be_disabled()
    expect(sam.locator("#room-composer-note")).to_have_text("Comments are off")
    host.get_by_label("Turn comments off").uncheck()
    expect(sam.get_by_label("Your message")).to_be_enabled()

    # Anonymous questions: the checkbox appears only when the host allows them.
    sam.get_by_role("tab", name=re.compile("^Questions")).click()
    expect(sam.get_by_label("Ask anonymously")).to_be_hidden()
    host.get_by_label("Allow anonymous questions").check()
    expect(sam.get_by_label("Ask anonymously")).to_be_visible()
    sam.get_by_label("Ask the host a question").fill("Shy question")
    sam.get_by_label("Ask anonymously").check()
    sam.get_by_role("button", name="Ask", exact=True).click()
    expect(host.locator(".studio-room .room-q").filter(has_text="Shy question")).to_contain_text("Anonymous")

    # A refused message stays in the box, with the reason said next to it.
    sam.get_by_role("tab", name="Chat").click()
    host.get_by_label("Turn comments off").check()
    expect(sam.get_by_label("Your message")).to_be_disabled()
    host.get_by_label("Turn comments off").uncheck()
    expect(sam.get_by_label("Your message")).to_be_enabled()
    # The chat's rate limit (CHAT_PER_10S): send until refused; the refused text stays.
    box = sam.get_by_label("Your message")
    refused = sam.get_by_role("alert").filter(has_text="too fast")
    for n in range(1, 2 * CHAT_PER_10S + 2):
        text = f"Quick message number {n}"
        box.fill(text)
        box.press("Enter")
        sam.wait_for_function(
            "() => document.querySelector('#room-input').value === '' ||"
            " document.querySelector('[data-room-error]').textContent !== ''"
        )
        if refused.is_visible():
            break
    else:
        pytest.fail("the chat never said to slow down")
    assert n >= 2  # one went through: the refusal is about pace, not the message
    expect(box).to_have_value(text)
    expect(sam.get_by_text(re.compile(r"You can try again in \d+ seconds?\."))).to_be_visible()
    expect(sam.get_by_role("button", name="Send", exact=True)).to_be_disabled()

    # The host kicks Sam (after a confirmation): the room closes for him and says why.
    host.locator(".studio-room").get_by_role(
        "button", name="Actions for the message from Sam Viewer"
    ).first.click()
    host.get_by_role("dialog").get_by_role("button", name="Kick").click()
    confirm = host.get_by_role("dialog")
    expect(confirm).to_contain_text("Remove Sam Viewer from this live? They cannot come back to it.")
    confirm.get_by_role("button", name="Kick").click()
    expect(
        host.get_by_role("status").filter(has_text="Sam Viewer was removed from this live.")
    ).to_be_visible()
    expect(sam.get_by_role("alert").filter(has_text="You were removed from this live.")).to_be_visible()
    expect(box).to_be_disabled()
    expect(sam.locator(".player [data-message]")).to_have_text("You were removed from this live.")
    # Coming back is refused: the page itself (and its playlist) say why; no player.
    # (A new tab of Sam's browser: Chromium logs the 403 as a console error, which
    # make_page's pages would count as a problem.)
    again = sam.context.new_page()
    response = again.goto(f"/lives/{live_id}")
    assert response.status == 403
    expect(again.get_by_text("You were removed from this live.")).to_be_visible()
    assert again.locator("video").count() == 0
