"""The creator's earnings and cash-out pages and the admins' cash-out page
(blueprints.earnings, blueprints.admin.cashouts): the figures from known gifts, the
request form, cancelling, deciding, the CSV export and its formula guard, escaping,
and who may see what."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from earnings_support import earn, give, make_gift, make_live
from factories import make_admin, make_user
from pages import field_errors, find_form, flashes, submit, text_of
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import CashoutRequest, CashoutStatus, Live, Role, User
from livelite.services import accounts, cashouts, earnings, ledger
from livelite.services.earnings import month_start

IBAN = "FR76 3000 6000 0112 3456 7890 189"


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def site(app):
    """@cora's two lives. This month, "Fractions, lesson 3": @vera 1 Lion (1,000
    coins), @victor 3 + 2 Roses (10 coins each). Last month, "<b>Old</b> live": @victor
    2 Lions, @vera 1 Rose. At 50%: 525 diamonds this month, 1,530 in all."""
    with app.app_context():
        make_admin(display_name="Site Admin")
        accounts.set_role(make_user("ada", display_name="Ada Admin"), Role.ADMIN)
        cora = make_user("cora", display_name="Cora Creator", role=Role.CREATOR)
        vera = make_user("vera", display_name="Vera Viewer")
        victor = make_user("victor", display_name="Victor Viewer")
        make_user("mia", display_name="Mia Member")
        rose = make_gift("Rose", 10, "rose.svg")
        lion = make_gift("Lion", 1000, "lion.svg")
        last_month = month_start() - timedelta(days=3)
        now_live = make_live(cora, "Fractions, lesson 3")
        old_live = make_live(cora, "<b>Old</b> live", started_at=last_month)
        give(vera, cora, lion, now_live)
        give(victor, cora, rose, now_live, quantity=3)
        give(victor, cora, rose, now_live, quantity=2)
        give(victor, cora, lion, old_live, quantity=2, at=last_month)
        give(vera, cora, rose, old_live, at=last_month + timedelta(minutes=5))
        assert ledger.check() == []
    return app


def rows_of(html: str, table_title: str) -> list[str]:
    """The body rows of the table in the section titled ``table_title``, as text."""
    section = re.search(rf">{re.escape(table_title)}</h2>(.*?)</table>", html, re.S)
    assert section, f"no table {table_title!r}"
    body = section.group(1).split("<tbody>", 1)[1]
    return [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


# -- the figures --------------------------------------------------------------------------------
def test_the_service_figures_from_known_gifts(site):
    with site.app_context():
        cora = get("cora")
        assert earnings.totals(cora) == earnings.Totals(
            diamonds=1530, diamonds_this_month=525, gifts=9, coins=3060, lives=2
        )
        page = earnings.per_live(cora)
        assert [
            (r.title, r.gifts, r.coins, r.diamonds, r.top_gifter.username, r.top_gifter_coins)
            for r in page.items
        ] == [
            ("Fractions, lesson 3", 6, 1050, 525, "vera", 1000),
            ("<b>Old</b> live", 3, 2010, 1005, "victor", 2000),
        ]
        assert page.total == 2
        assert [(g.name, g.count, g.coins, g.diamonds) for g in earnings.per_gift(cora)] == [
            ("Lion", 3, 3000, 1500),
            ("Rose", 6, 60, 30),
        ]
        # What others received is not Cora's.
        assert earnings.totals(get("vera")).diamonds == 0


def test_the_earnings_page_shows_totals_per_live_per_gift_and_the_money(site, client, auth):
    auth.login("cora")
    html = client.get("/earnings").get_data(as_text=True)
    text = text_of(html)
    assert "Diamonds earned 1,530 from 9 gifts · in 2 lives" in text
    assert "This month 525 diamonds since" in text
    assert "Diamonds to cash out 1,530 None held" in text
    # 1,530 diamonds at 50 cents per 100.
    assert "Worth today €7.65 €0.50 for 100 diamonds" in text
    lives = rows_of(html, "Per live")
    assert lives[0].startswith("Fractions, lesson 3")
    assert lives[0].endswith("6 1,050 525 V Vera Viewer 1,000 coins")
    assert lives[1].startswith("<b>Old</b> live")
    assert lives[1].endswith("3 2,010 1,005 V Victor Viewer 2,000 coins")
    assert rows_of(html, "Per gift") == ["Lion 3 3,000 1,500", "Rose 6 60 30"]
    # The title is text, not markup.
    assert "&lt;b&gt;Old&lt;/b&gt; live" in html and "<b>Old</b>" not in html
    with site.app_context():
        live_id = db.session.scalar(select(Live.id).where(Live.title == "Fractions, lesson 3"))
    assert f'href="/lives/{live_id}"' in html


def test_the_held_diamonds_and_a_pending_cashout_show_on_the_earnings_page(site, client, auth):
    with site.app_context():
        cashouts.request_cashout(get("cora"), 1000, IBAN, "k")
    auth.login("cora")
    text = text_of(client.get("/earnings").get_data(as_text=True))
    assert "Diamonds to cash out 530 1,000 diamonds held in your pending cash-out" in text
    assert "Your cash-out of 1,000 diamonds (€5.00) is waiting for an admin." in text


def test_someone_without_gifts_sees_an_empty_state(site, client, auth):
    auth.login("mia")
    html = client.get("/earnings").get_data(as_text=True)
    assert "No gifts yet." in text_of(html)
    assert "Per live" not in html


def test_the_pages_need_a_login_and_the_menu_links_them(site, client, auth):
    for url in ("/earnings", "/earnings/cashouts"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login("mia")
    assert 'href="/earnings"' in client.get("/").get_data(as_text=True)


# -- asking and cancelling -----------------------------------------------------------------------------
def test_the_cashout_page_explains_the_minimum_and_rate_and_sends_a_request(site, client, auth):
    auth.login("cora")
    html = client.get("/earnings/cashouts").get_data(as_text=True)
    text = text_of(html)
    assert "Your diamonds 1,530 Worth today €7.65" in text
    assert "Today, 100 diamonds are worth €0.50. A cash-out is 1,000 diamonds at least" in text
    form = find_form(html)
    assert re.fullmatch(r"[0-9a-f]{32}", form.values()["idempotency_key"])
    assert 'data-rate="50"' in html and 'data-currency="EUR"' in html
    assert 'src="/static/js/earnings/cashout.js"' in html

    response = submit(
        client, "/earnings/cashouts", {"diamonds": "1200", "payout_details": IBAN}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert flashes(page) == [
        "Your cash-out of 1,200 diamonds (€6.00) is sent to the admins. The diamonds are held until they answer."
    ]
    history = text_of(page.split('id="history-title"', 1)[1])
    assert "Pending 1,200 diamonds €6.00" in history
    assert f"To: {IBAN}" in history
    # One pending at a time: the form gives way to the reason.
    assert "You already have a cash-out waiting for an admin." in text_of(page)
    assert find_form(page, f"/earnings/cashouts/{_only_request_id(site)}/cancel")
    with site.app_context():
        assert ledger.balances(get("cora")) == {"coins": 0, "diamonds": 330, "diamonds_held": 1200}


def _only_request_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(CashoutRequest.id))


def test_a_double_submit_of_one_form_makes_one_request(site, client, auth):
    auth.login("cora")
    values = find_form(client.get("/earnings/cashouts").get_data(as_text=True)).values()
    values.update(diamonds="1000", payout_details="paypal: cora@example.com")
    first = client.post("/earnings/cashouts", data=values, follow_redirects=True)
    second = client.post("/earnings/cashouts", data=values, follow_redirects=True)
    assert "is sent to the admins" in flashes(first.get_data(as_text=True))[0]
    assert flashes(second.get_data(as_text=True)) == ["This cash-out request was already sent: here it is."]
    with site.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(CashoutRequest)) == 1
        assert ledger.balances(get("cora"))["diamonds_held"] == 1000
        assert ledger.check() == []


@pytest.mark.parametrize(
    ("diamonds", "details", "field", "message"),
    [
        ("999", IBAN, "diamonds", "A cash-out is 1,000 diamonds at least."),
        ("1531", IBAN, "diamonds", "You have 1,530 diamonds: ask for that many at most."),
        ("lots", IBAN, "diamonds", "Enter a whole number of diamonds."),
        ("", IBAN, "diamonds", "Say how many diamonds to cash out."),
        ("1000", "", "payout_details", "Say where to send the money."),
        (
            "1000",
            "ab",
            "payout_details",
            "Say where to send the money (an IBAN or a PayPal address, say) in 3 to 200 characters on one line.",
        ),
    ],
)
def test_the_form_shows_what_is_wrong_next_to_the_field(
    site, client, auth, diamonds, details, field, message
):
    auth.login("cora")
    response = submit(client, "/earnings/cashouts", {"diamonds": diamonds, "payout_details": details})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, field) == [message]
    # What was typed stays, so does the key.
    if details:
        assert f'value="{details}"' in html
    with site.app_context():
        assert db.session.scalar(select(CashoutRequest)) is None


def test_below_the_minimum_the_form_is_replaced_by_the_reason(site, client, auth):
    with site.app_context():
        earn(get("mia"), 600, get("vera"))
    auth.login("mia")
    html = client.get("/earnings/cashouts").get_data(as_text=True)
    assert "A cash-out is 1,000 diamonds at least; you have 600." in text_of(html)
    assert 'name="payout_details"' not in html


def test_cancel_gives_the_diamonds_back_and_only_the_owner_may(site, client, auth):
    with site.app_context():
        row, _ = cashouts.request_cashout(get("cora"), 1500, IBAN, "k")
        row_id = row.id
    auth.login("mia")
    token = find_form(client.get("/").get_data(as_text=True), "/logout").values()["csrf_token"]
    assert client.post(f"/earnings/cashouts/{row_id}/cancel", data={"csrf_token": token}).status_code == 404
    auth.logout()

    auth.login("cora")
    page = client.get("/earnings/cashouts").get_data(as_text=True)
    form = find_form(page, f"/earnings/cashouts/{row_id}/cancel")
    assert 'data-confirm="Cancel this cash-out? Your diamonds come back."' in page
    response = client.post(f"/earnings/cashouts/{row_id}/cancel", data=form.values(), follow_redirects=True)
    assert flashes(response.get_data(as_text=True)) == [
        "Your cash-out is cancelled: 1,500 diamonds are back in your balance."
    ]
    assert "Cancelled 1,500 diamonds €7.50" in text_of(response.get_data(as_text=True))
    # A second click finds it cancelled, which is what was wanted.
    again = client.post(f"/earnings/cashouts/{row_id}/cancel", data=form.values(), follow_redirects=True)
    assert flashes(again.get_data(as_text=True)) == [
        "Your cash-out is cancelled: 1,500 diamonds are back in your balance."
    ]
    with site.app_context():
        assert ledger.balances(get("cora")) == {"coins": 0, "diamonds": 1530, "diamonds_held": 0}
        assert ledger.check() == []


def test_the_creator_sees_the_answer_and_the_note_escaped(site, client, auth):
    with site.app_context():
        row, _ = cashouts.request_cashout(get("cora"), 1000, "<i>paypal</i> cora@example.com", "k")
        cashouts.reject(get("siteadmin"), row, "Use an <b>IBAN</b> please.")
    auth.login("cora")
    html = client.get("/earnings/cashouts").get_data(as_text=True)
    assert "Rejected 1,000 diamonds €5.00" in text_of(html)
    assert "Note from the admins: Use an <b>IBAN</b> please." in text_of(html)
    assert "&lt;b&gt;IBAN&lt;/b&gt;" in html and "<b>IBAN</b>" not in html
    assert "&lt;i&gt;paypal&lt;/i&gt;" in html


# -- the admins' page ----------------------------------------------------------------------------------
@pytest.fixture
def requested(site):
    """@cora asked for 1,200 diamonds, with payout details a spreadsheet would run."""
    with site.app_context():
        row, _ = cashouts.request_cashout(
            get("cora"), 1200, '=HYPERLINK("http://evil.example","<b>x</b>")', "k"
        )
        return row.id


@pytest.mark.parametrize("username", ["cora", "mia"])
def test_non_admins_get_403_on_the_admin_page_its_forms_and_the_export(
    site, requested, client, auth, username
):
    auth.login(username)
    response = client.get("/admin/cashouts")
    assert response.status_code == 403
    assert "HYPERLINK" not in response.get_data(as_text=True)
    assert client.get("/admin/cashouts.csv").status_code == 403
    token = find_form(client.get("/").get_data(as_text=True), "/logout").values()["csrf_token"]
    response = client.post(
        f"/admin/cashouts/{requested}/decision", data={"csrf_token": token, "decision": "approve", "note": ""}
    )
    assert response.status_code == 403
    with site.app_context():
        assert cashouts.get_request(requested).status == CashoutStatus.PENDING
    assert 'href="/admin/cashouts"' not in client.get("/").get_data(as_text=True)


def test_the_admin_page_lists_pending_requests_escaped_with_the_nav_count(site, requested, client, auth):
    auth.login("ada")
    html = client.get("/admin/cashouts").get_data(as_text=True)
    text = text_of(html)
    assert "Cora Creator @cora · cora@example.com Diamonds 1,200 Amount €6.00" in text
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert re.search(
        r'href="/admin/cashouts"[^>]*aria-current="page">Cash-outs <span class="count-pill">1', html
    )
    assert 'href="/admin/cashouts.csv?status=pending"' in html
    assert find_form(html, f"/admin/cashouts/{requested}/decision")


def test_admins_approve_then_mark_paid_from_the_page(site, requested, client, auth):
    auth.login("ada")
    response = submit(
        client,
        "/admin/cashouts",
        {"decision": "approve", "note": ""},
        action=f"/admin/cashouts/{requested}/decision",
        follow_redirects=True,
    )
    assert flashes(response.get_data(as_text=True)) == ["Approved: send €6.00 to @cora, then mark it paid."]
    html = client.get("/admin/cashouts?status=approved").get_data(as_text=True)
    assert "Mark paid" in html and "Payment reference (optional)" in html
    response = submit(
        client,
        "/admin/cashouts?status=approved",
        {"decision": "paid", "note": "SEPA-77"},
        action=f"/admin/cashouts/{requested}/decision",
        follow_redirects=True,
    )
    assert flashes(response.get_data(as_text=True)) == ["Marked paid: €6.00 to @cora."]
    paid = text_of(client.get("/admin/cashouts?status=paid").get_data(as_text=True))
    assert "Paid by @ada" in paid and "Note SEPA-77" in paid
    with site.app_context():
        row = cashouts.get_request(requested)
        assert (row.status, row.note) == (CashoutStatus.PAID, "SEPA-77")
        assert ledger.balances(get("cora")) == {"coins": 0, "diamonds": 330, "diamonds_held": 0}
        assert ledger.check() == []


def test_reject_without_a_note_shows_the_error_under_the_note(site, requested, client, auth):
    auth.login("ada")
    response = submit(
        client,
        "/admin/cashouts",
        {"decision": "reject", "note": "  "},
        action=f"/admin/cashouts/{requested}/decision",
    )
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), f"note-{requested}") == [
        "Say why you reject it: the creator reads your note."
    ]
    response = submit(
        client,
        "/admin/cashouts",
        {"decision": "reject", "note": "Not your account."},
        action=f"/admin/cashouts/{requested}/decision",
        follow_redirects=True,
    )
    assert flashes(response.get_data(as_text=True)) == [
        "Rejected: the diamonds of @cora are back. They are told, with your note."
    ]
    with site.app_context():
        assert ledger.balances(get("cora")) == {"coins": 0, "diamonds": 1530, "diamonds_held": 0}


def test_the_second_admin_is_told_it_was_already_decided(site, requested, client, auth):
    auth.login("ada")
    form = find_form(
        client.get("/admin/cashouts").get_data(as_text=True), f"/admin/cashouts/{requested}/decision"
    )
    with site.app_context():
        cashouts.approve(get("siteadmin"), cashouts.get_request(requested))
    values = {**form.values(), "decision": "reject", "note": "No"}
    response = client.post(f"/admin/cashouts/{requested}/decision", data=values, follow_redirects=True)
    assert flashes(response.get_data(as_text=True)) == ["This cash-out was already approved."]
    with site.app_context():
        assert cashouts.get_request(requested).status == CashoutStatus.APPROVED
        assert ledger.check() == []


def test_a_double_click_on_approve_is_told_as_done(site, requested, client, auth):
    auth.login("ada")
    form = find_form(
        client.get("/admin/cashouts").get_data(as_text=True), f"/admin/cashouts/{requested}/decision"
    )
    values = {**form.values(), "decision": "approve", "note": ""}
    client.post(f"/admin/cashouts/{requested}/decision", data=values, follow_redirects=True)
    again = client.post(f"/admin/cashouts/{requested}/decision", data=values, follow_redirects=True)
    assert flashes(again.get_data(as_text=True)) == ["Approved: send €6.00 to @cora, then mark it paid."]
    with site.app_context():
        assert ledger.balances(get("cora"))["diamonds_held"] == 0
        assert ledger.check() == []


# -- the export ------------------------------------------------------------------------------------------
def test_the_csv_export_has_every_column_and_guards_formulas(site, requested, client, auth):
    with site.app_context():
        cashouts.approve(get("siteadmin"), cashouts.get_request(requested), "@admin: checked")
        vera = get("vera")
        earn(vera, 1000, get("victor"))
        cashouts.request_cashout(vera, 1000, "+33 6 12 34 56 78", "v")
    auth.login("ada")
    response = client.get("/admin/cashouts.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="cashouts-')
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert rows[0] == [
        "Id",
        "Username",
        "Email",
        "Diamonds",
        "Amount",
        "Currency",
        "Payout details",
        "Status",
        "Requested (UTC)",
        "Decided (UTC)",
        "Paid (UTC)",
        "Note",
    ]
    by_user = {row[1]: row for row in rows[1:]}
    cora = by_user["cora"]
    assert cora[:8] == [
        str(requested),
        "cora",
        "cora@example.com",
        "1200",
        "6.00",
        "EUR",
        '\'=HYPERLINK("http://evil.example","<b>x</b>")',
        "Approved, money to send",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", cora[8])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", cora[9])
    assert cora[10] == ""
    assert cora[11] == "'@admin: checked"
    assert by_user["vera"][6] == "'+33 6 12 34 56 78"
    assert by_user["vera"][7] == "Pending"

    only_pending = list(
        csv.reader(io.StringIO(client.get("/admin/cashouts.csv?status=pending").get_data(as_text=True)[1:]))
    )
    assert [row[1] for row in only_pending[1:]] == ["vera"]


def test_the_notifications_lead_to_the_pages(site, requested, client, auth):
    auth.login("ada")
    (item,) = client.get("/api/v1/notifications").get_json()["items"]
    assert item["kind"] == "cashout_requested" and item["url"] == "/admin/cashouts"
    with site.app_context():
        cashouts.approve(get("ada"), cashouts.get_request(requested))
    auth.logout()
    auth.login("cora")
    (item,) = client.get("/api/v1/notifications").get_json()["items"]
    assert item["kind"] == "cashout_approved" and item["url"] == "/earnings/cashouts"
    assert item["text"] == "Your cash-out of 1,200 diamonds was approved: €6.00 is on its way."
