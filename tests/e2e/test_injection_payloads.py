"""Injection payloads, typed wherever people write text that others see, are shown as
text in Debian's Chromium and do nothing.

Ten people each carry one payload (PAYLOADS) as their display name, bio, live title,
event title and description, story caption, chat message, question, report reason and
access-request reason; a host's live has their chat, their questions (one answered and
pinned) and a goal bar with a payload label; an admin writes payloads in a gift's
name, a group's name, a webhook's description, a registration invite's note, a
decision note, a cash-out's payout details and blocked words.

Every page that shows them — home, live now, upcoming, profiles, events, stories,
videos, the live page (chat, questions and the pinned question arrive through the
room's socket), the studio, the host's settings, the notifications, the admin pages —
is opened, and on each: no dialog opened, ``window.__pwned`` was never set, no
element the payloads would build exists (``img[src=x]``, an ``onerror``/``onload``
attribute, a ``javascript:`` link), the payloads it should show are there as typed,
nothing is wider than the window (the very long word), and no console error (the
``make_page`` fixture). The CSV exports neutralise the formula payload.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from livelite_e2e import PHONE, log_in, run_seed, start_server, stop_server
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PASSWORD = "payload-password-1"
# Each payload fits the shortest field it goes in (a display name: 50 characters).
PAYLOADS = [
    "<script>window.__pwned=1;alert(1)</script>",
    '<img src=x onerror="window.__pwned=1;alert(2)">',
    "<svg onload=window.__pwned=1;alert(3)>",
    "\"'><img src=x onerror=alert(4)>",
    "javascript:window.__pwned=1;alert(5)",
    "[click me](javascript:alert(6))",
    "{{7*7}} ${7*7} #{7*7} <%= 7*7 %>",
    "Hello \u202egnp.exe\u202c and \u200fRTL",
    '=HYPERLINK("http://x.test","=1+1")',
    "Pneumonoultramicroscopicsilicovolcanoconiosis" + "X" * 5,
]
LONG_WORD = PAYLOADS[-1]
FORMULA = PAYLOADS[8]

SEED = r"""
import json, sys
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

from livelite import create_app
from livelite.extensions import db
from livelite.models import Role
from livelite.server import ensure_database
from livelite.services import (
    access, accounts, cashouts, chat, classes, events, gifts, lives, moderators, questions,
    registration, reports, videos, webhooks,
)
from livelite.services.settings import set_setting

payloads, password = json.loads(sys.argv[1]), sys.argv[2]
app = create_app()
with app.app_context():
    ensure_database(app)

    def person(username, name, role=Role.MEMBER):
        return accounts.register(
            username=username, display_name=name, email=username + "@example.com", password=password,
            birth_date=date(1990, 5, 5), role=role, check_open=False,
        )

    admin = person("sam", "Sam Admin")
    # Asked while going live still needs followers; refused with a note.
    asker = person("ada", "Ada Asker")
    request = access.request_access(asker, " ".join(payloads))
    access.decide(admin, request, False, note=" ".join(payloads[:5]))
    for key, value in {
        "LIVE_MIN_FOLLOWERS": 0, "MAX_CONCURRENT_LIVES": 50, "CHAT_MESSAGES_PER_10S": 100,
        "CASHOUT_MIN_DIAMONDS": 1,
        # The lives have no video: they must not end for want of a publisher meanwhile.
        "PUBLISHER_GRACE_SECONDS": 3600,
    }.items():
        set_setting(key, value)

    host = person("hana", "Hana Host", Role.CREATOR)
    viewer = person("vic", "Vic Viewer")
    accounts.follow(viewer, host)
    live = lives.start_live(host, title="Hana's payload room")
    people, events_, stories = [], [], []
    starts = datetime.now(UTC) + timedelta(days=2)
    import cv2, numpy
    png = BytesIO(cv2.imencode(".png", numpy.full((120, 200, 3), 90, numpy.uint8))[1].tobytes())
    for i, payload in enumerate(payloads):
        p = person(f"pay{i}", payload, Role.CREATOR)
        accounts.update_profile(p, bio=payload)
        accounts.follow(viewer, p)
        lives.start_live(p, title=payload)
        events_.append(events.create_event(p, title=payload, description=payload, starts_at=starts).id)
        png.seek(0)
        stories.append(videos.upload(p, png, kind="story", caption=payload).id)
        chat.send_message(live, p, payload)
        q = questions.ask(live, p, payload)
        reports.create(p, user_id=host.id, reason=payload)
        people.append(p.username)
    # The pinned question: answered by the host.
    pinned = questions.ask(live, viewer, " ".join(payloads[:4]))
    questions.answer(live, host, pinned.id)
    gifts.set_goal(live, host, 1000, payloads[2])
    # An admin's texts.
    gift = gifts.create_gift(admin, name=payloads[0][:40], icon="gem.svg", coins=1, animation="float")
    classes.create_group(host, payloads[1])
    moderators.set_blocked_words(host, host, [payloads[6][:50]])
    webhooks.create_webhook(admin, url="https://hooks.example.com/x", events=["live.started"], description=payloads[3])
    registration.create_invite(admin, note=payloads[4])
    # Diamonds for the host (a gift from the viewer), then a cash-out with payload details.
    from livelite.models import AccountKind, TransactionType
    from livelite.services import ledger
    ledger.post(
        TransactionType.GRANT,
        [ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -100000),
         ledger.Leg(ledger.account_id(AccountKind.COINS, viewer), 100000)],
        key="payload-grant", reference="test",
    )
    db.session.commit()
    gifts.send_gift(live, viewer, host.id, gifts.catalogue()[-1].id, 5, "payload-gift")
    cashouts.request_cashout(host, cashouts.quote(host).diamonds, payloads[8], "payload-cashout")
    print(json.dumps({"live": live.id, "people": people, "events": events_, "stories": stories}))
"""


@pytest.fixture(scope="module")
def payload_site(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-payloads") / "instance")
    try:
        ids = run_seed(server, SEED, json.dumps(PAYLOADS), PASSWORD)
        yield server, ids
    finally:
        stop_server(server)


def guard(page: Page) -> list[str]:
    """Record every dialog (and dismiss it): a payload that runs opens one."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(f"{page.url}: {dialog.message}"), dialog.dismiss()))
    return dialogs


PAGE_STATE = r"""(width) => ({
  pwned: typeof window.__pwned,
  built: document.querySelectorAll(
    'img[src="x"], [onerror], [onload], a[href^="javascript:" i], iframe[src^="javascript:" i], svg[onload]'
  ).length,
  text: [document.body.innerText, ...[...document.querySelectorAll('input, textarea')].map(e => e.value)].join('\n'),
  wide: document.documentElement.scrollWidth > (width || window.innerWidth),
})"""


def check(page: Page, url: str, expected: list[str], dialogs: list[str], width: int | None = None) -> None:
    """Open ``url``; the payloads run nothing and build nothing, ``expected`` ones show,
    and the page is no wider than ``width`` (the window's)."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    check_state(page, url, expected, dialogs, width)


def test_what_people_see_of_each_other(make_page, payload_site):
    server, ids = payload_site
    page = make_page(server)
    dialogs = guard(page)
    log_in(page, "vic", PASSWORD)
    check(page, "/", PAYLOADS, dialogs)
    check(page, "/live", PAYLOADS, dialogs)
    check(page, "/upcoming", PAYLOADS, dialogs)
    check(page, "/notifications", PAYLOADS, dialogs)
    check(page, "/@vic/following", PAYLOADS, dialogs)
    for username, payload in zip(ids["people"], PAYLOADS, strict=True):
        check(page, f"/@{username}", [payload], dialogs)
    for event_id, payload in zip(ids["events"], PAYLOADS, strict=True):
        check(page, f"/events/{event_id}", [payload], dialogs)
    for video_id, payload in zip(ids["stories"], PAYLOADS, strict=True):
        check(page, f"/v/{video_id}", [payload], dialogs)
    check(page, f"/stories/@{ids['people'][0]}", [PAYLOADS[0]], dialogs)
    # The person whose access request was refused reads the admin's note.
    other = make_page(server)
    other_dialogs = guard(other)
    log_in(other, "ada", PASSWORD)
    check(other, "/notifications", PAYLOADS[:5], other_dialogs)
    check(other, "/settings/live-access", PAYLOADS, other_dialogs)


def test_long_words_fit_a_phone(make_page, payload_site):
    """A 50-letter word in a name, a title, a bio or a caption breaks rather than
    widening the page (measured against the phone's width: a phone browser would zoom
    out to show a wider page)."""
    server, ids = payload_site
    page = make_page(server, **PHONE)
    dialogs = guard(page)
    log_in(page, "vic", PASSWORD)
    width = PHONE["viewport"]["width"]
    for url in (
        "/live",
        "/upcoming",
        "/notifications",
        "/@vic/following",
        f"/@{ids['people'][-1]}",
        f"/events/{ids['events'][-1]}",
        f"/v/{ids['stories'][-1]}",
        f"/stories/@{ids['people'][-1]}",
        f"/lives/{ids['live']}",
    ):
        check(page, url, [], dialogs, width)


def test_the_live_room_through_its_socket(make_page, payload_site):
    server, ids = payload_site
    live = ids["live"]
    viewer = make_page(server)
    dialogs = guard(viewer)
    log_in(viewer, "vic", PASSWORD)
    viewer.goto(f"/lives/{live}")
    chat = viewer.get_by_role("log", name="Chat messages")
    # The history comes with room_state, over the socket.
    for payload in PAYLOADS:
        expect(chat.locator(".room-msg-text").filter(has_text=payload).first).to_have_text(payload)
    pinned = viewer.locator(".player [data-room-pinned]")
    expect(pinned).to_be_visible()
    for payload in PAYLOADS[:4]:
        expect(pinned).to_contain_text(payload)
    viewer.get_by_role("tab", name=re.compile("^Questions")).click()
    for payload in PAYLOADS:
        expect(viewer.locator(".room-q").filter(has_text=payload).first).to_be_visible()
    check_state(viewer, f"/lives/{live}", [PAYLOADS[2]], dialogs)

    # One more, sent now: the host's studio shows it as it arrives.
    host = make_page(server)
    host_dialogs = guard(host)
    log_in(host, "hana", PASSWORD)
    host.goto("/studio")
    host_chat = host.locator(".studio-room").get_by_role("log", name="Chat messages")
    expect(host_chat.locator(".room-msg-text").filter(has_text=PAYLOADS[1]).first).to_be_visible()
    viewer.get_by_role("tab", name="Chat").click()
    viewer.get_by_label("Your message").fill(PAYLOADS[3])
    viewer.get_by_label("Your message").press("Enter")
    expect(host_chat.locator(".room-msg-text").filter(has_text=PAYLOADS[3])).to_have_count(2)
    check_state(host, "/studio", PAYLOADS, host_dialogs)
    check_state(viewer, f"/lives/{live}", PAYLOADS, dialogs)

    # The host's own pages, and the Q&A export: the formula stays text.
    check(host, "/settings/groups", [PAYLOADS[1]], host_dialogs)
    check(host, "/settings/moderation", [PAYLOADS[6]], host_dialogs)
    check(host, "/earnings/cashouts", [FORMULA], host_dialogs)
    rows = csv_rows(host, f"/lives/{live}/questions.csv")
    assert "'" + FORMULA in rows and FORMULA not in rows


def check_state(
    page: Page, where: str, expected: list[str], dialogs: list[str], width: int | None = None
) -> None:
    """``check`` for the page as it is now (no reload: what the socket brought)."""
    state = page.evaluate(PAGE_STATE, width)
    assert state["pwned"] == "undefined", f"{where}: a payload ran"
    assert state["built"] == 0, f"{where}: a payload built an element"
    missing = [p for p in expected if p not in state["text"]]
    assert not missing, f"{where}: not shown as typed: {missing}"
    assert not state["wide"], f"{where}: the page is wider than the window"
    assert dialogs == [], dialogs


def csv_rows(page: Page, url: str) -> list[str]:
    """Every cell of a CSV export, fetched with the page's session."""
    response = page.request.get(url)
    assert response.ok, (url, response.status)
    return [cell for row in csv.reader(io.StringIO(response.text())) for cell in row]


def test_what_the_admins_see(make_page, payload_site):
    server, _ids = payload_site
    page = make_page(server)
    dialogs = guard(page)
    log_in(page, "sam", PASSWORD)
    check(page, "/admin/", [], dialogs)
    check(page, "/admin/users", PAYLOADS, dialogs)
    check(page, "/admin/reports", PAYLOADS, dialogs)
    check(page, "/admin/access-requests", [], dialogs)
    check(page, "/admin/lives", PAYLOADS, dialogs)
    check(page, "/admin/gifts", [PAYLOADS[0][:40]], dialogs)
    check(page, "/admin/webhooks", [PAYLOADS[3]], dialogs)
    check(page, "/admin/settings/invites", [PAYLOADS[4]], dialogs)
    check(page, "/admin/cashouts", [FORMULA], dialogs)
    check(page, "/admin/moderation", [], dialogs)
    check(page, "/notifications", [], dialogs)
    rows = csv_rows(page, "/admin/cashouts.csv")
    assert "'" + FORMULA in rows and FORMULA not in rows
