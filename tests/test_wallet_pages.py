"""The wallet page (/wallet) and the admins' coins page (/admin/coins): real figures,
forms with CSRF and idempotency keys, escaping of what people typed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from factories import PASSWORD, make_admin, make_user
from markupsafe import escape
from pages import field_errors, find_form, flashes, meta_csrf_token, submit, text_of
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    CoinPackage,
    CoinRequest,
    CoinRequestStatus,
    Gift,
    GiftSend,
    Live,
    LiveStatus,
    Notification,
    TransactionType,
    User,
)
from livelite.services import coins, ledger
from livelite.services.ledger import Leg

EVIL = '<script>alert("x")</script> & <b>bold</b>'


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def site(app):
    """@siteadmin; @vic (member, 30); @teen (15)."""
    with app.app_context():
        make_admin(display_name="Site Admin")
        make_user("vic", display_name="Vic Viewer", age=30)
        make_user("teen", age=15)
        make_user("host", display_name="Hana Host", age=35)
    yield app
    with app.app_context():
        assert ledger.check() == []


def html_of(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, f"GET {path}: {response.status_code}"
    return response.get_data(as_text=True)


def balance_shown(html: str, kind: str) -> str:
    match = re.search(rf'data-balance="{kind}">([^<]*)<', html)
    assert match, f"no {kind} balance on the page"
    return match.group(1).strip()


def grant(username: str, amount: int, memo: str = "Class credit") -> None:
    coins.grant(get("siteadmin"), username, amount, memo, uuid.uuid4().hex)


def send_gift(
    sender: User, receiver: User, live: Live, name: str = "Rose", each: int = 10, quantity: int = 3
):
    """A gift as services.gifts makes one: the ledger movement and its GiftSend."""
    gift = Gift(name=name, icon="rose.svg", coins=each)
    db.session.add(gift)
    db.session.flush()
    total = each * quantity
    posted = ledger.post(
        TransactionType.GIFT,
        [
            Leg(ledger.account_id(AccountKind.COINS, sender), -total),
            Leg(ledger.account_id(AccountKind.DIAMONDS, receiver), total // 2),
            Leg(ledger.account_id(AccountKind.PLATFORM_REVENUE), total - total // 2),
        ],
        key=f"gift-test:{uuid.uuid4().hex}",
        reference="gift_send:test",
    )
    db.session.add(
        GiftSend(
            live_id=live.id,
            gift_id=gift.id,
            sender_id=sender.id,
            receiver_id=receiver.id,
            quantity=quantity,
            coins=total,
            diamonds=total // 2,
            transaction_id=posted.transaction.id,
        )
    )
    db.session.commit()


def make_ended_live(host: User, title: str) -> Live:
    now = datetime.now(UTC)
    live = Live(host_id=host.id, title=title, status=LiveStatus.ENDED, started_at=now, ended_at=now)
    db.session.add(live)
    db.session.commit()
    return live


# -- the person's wallet ----------------------------------------------------------------
def test_the_wallet_needs_a_login(site, client):
    response = client.get("/wallet")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_account_menu_links_to_the_wallet(site, client, auth):
    auth.login("vic")
    html = html_of(client, "/")
    assert re.search(r'<a role="menuitem" href="/wallet">Wallet</a>', html)


def test_the_wallet_shows_the_real_balances_and_history(site, client, auth):
    with site.app_context():
        vic, host = get("vic"), get("host")
        grant("vic", 1234, "Spring class")
        live = make_ended_live(host, "Fractions <3")
        send_gift(vic, host, live, name="Rose", each=10, quantity=3)
        # Hana holds 5 of her 15 diamonds for a cash-out.
        ledger.post(
            TransactionType.CASHOUT_HOLD,
            [
                Leg(ledger.account_id(AccountKind.DIAMONDS, host), -5),
                Leg(ledger.account_id(AccountKind.DIAMONDS_HELD, host), 5),
            ],
            key="hold-test",
            reference="cashout:test",
        )
        db.session.commit()
        live_id = live.id
    auth.login("vic")
    html = html_of(client, "/wallet")
    assert balance_shown(html, "coins") == "1,204"
    assert balance_shown(html, "diamonds") == "0"
    text = text_of(html)
    # Newest first: the gift, then the grant, with their references.
    assert text.index("Gift Rose ×3 to @host") < text.index("Coins granted Spring class · from @siteadmin")
    assert "−30 Coins" in text and "+1,234 Coins" in text
    assert f'href="/lives/{live_id}">Fractions &lt;3</a>' in html

    auth.logout()
    auth.login("host")
    html = html_of(client, "/wallet")
    assert (balance_shown(html, "diamonds"), balance_shown(html, "diamonds_held")) == ("10", "5")
    text = text_of(html)
    assert "Gift Rose ×3 from @vic" in text and "+15 Diamonds" in text
    assert "Cash-out requested" in text and "−5 Diamonds" in text and "+5 Held diamonds" in text


def test_the_history_is_paginated(site, client, auth):
    with site.app_context():
        for i in range(27):
            grant("vic", i + 1, f"Reward {i + 1}")
    auth.login("vic")
    first = text_of(html_of(client, "/wallet"))
    assert "Reward 27" in first and "Reward 3 ·" in first and "Reward 2 ·" not in first
    assert "Page 1 of 2" in first
    second = text_of(html_of(client, "/wallet?page=2"))
    assert "Reward 2 ·" in second and "Reward 1 ·" in second and "Reward 27" not in second


def test_buying_coins_with_the_form_makes_one_request_per_key(site, client, auth):
    auth.login("vic")
    html = html_of(client, "/wallet")
    text = text_of(html)
    for shown in ("70 coins €0.99", "350 coins €4.99", "3,500 coins €49.99"):
        assert shown in text
    # Without demo mode there is one way to pay, and no test payment anywhere.
    assert "Test payment" not in text
    form = find_form(html, "/wallet/coin-requests")
    with site.app_context():
        package_id = next(p.id for p in coins.active_packages() if p.coins == 350)
    values = {**form.values(), "package_id": str(package_id)}
    assert values["provider"] == "manual" and len(values["idempotency_key"]) == 32
    response = client.post("/wallet/coin-requests", data=values, follow_redirects=True)
    assert "Your request for 350 coins is sent." in flashes(response.get_data(as_text=True))[0]
    # The double click: the same form again.
    client.post("/wallet/coin-requests", data=values)
    with site.app_context():
        [row] = db.session.scalars(select(CoinRequest)).all()
        assert (row.status, row.coins, row.user_id) == (CoinRequestStatus.PENDING, 350, get("vic").id)
        request_id = row.id
    html = html_of(client, "/wallet")
    assert "Waiting for an admin" in text_of(html)
    # A fresh page brings a fresh key.
    assert find_form(html, "/wallet/coin-requests").values()["idempotency_key"] != values["idempotency_key"]
    cancel = find_form(html, f"/wallet/coin-requests/{request_id}/cancel")
    response = client.post(
        f"/wallet/coin-requests/{request_id}/cancel", data=cancel.values(), follow_redirects=True
    )
    assert flashes(response.get_data(as_text=True)) == ["Your request for 350 coins is cancelled."]
    with site.app_context():
        assert db.session.get(CoinRequest, request_id).status == CoinRequestStatus.CANCELLED


def test_the_buy_form_needs_a_package_and_its_csrf_token(site, client, auth):
    auth.login("vic")
    form = find_form(html_of(client, "/wallet"), "/wallet/coin-requests")
    response = client.post("/wallet/coin-requests", data=form.values())
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "package_id") == ["Choose a package."]
    with site.app_context():
        package_id = coins.active_packages()[0].id
    values = {**form.values(), "package_id": str(package_id)}
    values.pop("csrf_token")
    response = client.post("/wallet/coin-requests", data=values)
    assert response.status_code == 400
    assert "Your form expired or was sent from another site." in text_of(response.get_data(as_text=True))
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(CoinRequest)) == 0


def test_someone_too_young_is_told_why_instead_of_a_form(site, client, auth):
    auth.login("teen")
    html = html_of(client, "/wallet")
    assert "Coins are only for sending gifts, which needs you to be at least 18." in text_of(html)
    with pytest.raises(AssertionError):
        find_form(html, "/wallet/coin-requests")


def test_in_demo_mode_the_page_offers_the_test_payment(make_app):
    app = make_app(DEMO_MODE=True)
    with app.app_context():
        make_admin()
        make_user("vic", age=30)
        package_id = next(p.id for p in coins.active_packages() if p.coins == 700)
    client = app.test_client()
    # A login through the real form (this app is not the ``auth`` fixture's).
    assert submit(client, "/login", {"login": "vic", "password": PASSWORD}).status_code == 302
    html = html_of(client, "/wallet")
    assert "Test payment (demo mode: nothing is charged)" in text_of(html)
    form = find_form(html, "/wallet/coin-requests")
    values = {**form.values(), "package_id": str(package_id), "provider": "test"}
    response = client.post("/wallet/coin-requests", data=values, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert flashes(html) == ["700 coins are in your wallet."]
    assert balance_shown(html, "coins") == "700"
    assert "Test payment, €9.99" in text_of(html)
    with app.app_context():
        assert ledger.check() == []


def test_notifications_about_coins_lead_to_the_wallet_and_the_queue(site, client, auth):
    with site.app_context():
        row = coins.request_coins(get("vic"), coins.active_packages()[0].id, "manual", "k").request
        coins.approve(get("siteadmin"), row)
        admin_note = db.session.scalar(select(Notification).where(Notification.kind == "coin_request"))
        vic_note = db.session.scalar(select(Notification).where(Notification.kind == "coins_approved"))
        admin_note_id, vic_note_id = admin_note.id, vic_note.id
    auth.login("vic")
    assert client.get(f"/notifications/{vic_note_id}").headers["Location"] == "/wallet"
    auth.logout()
    auth.login("siteadmin")
    assert client.get(f"/notifications/{admin_note_id}").headers["Location"] == "/admin/coins"


# -- the admins' page ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/coins"),
        ("post", "/admin/coins/requests/1/decision"),
        ("post", "/admin/coins/grants"),
        ("post", "/admin/coins/packages"),
        ("post", "/admin/coins/packages/1"),
    ],
)
def test_the_coins_admin_is_for_admins_only(site, client, auth, method, path):
    with site.app_context():
        coins.request_coins(get("vic"), coins.active_packages()[0].id, "manual", "k")
    auth.login("vic")
    token = meta_csrf_token(html_of(client, "/wallet"))
    data = {"csrf_token": token, "decision": "approve", "username": "vic", "coins": "5", "memo": "x"}
    response = getattr(client, method)(path, data=data)
    assert response.status_code == 403
    with site.app_context():
        assert ledger.balance(get("vic")) == 0
        assert db.session.get(CoinRequest, 1).status == CoinRequestStatus.PENDING


def request_350(username: str = "vic", key: str = "k") -> int:
    package_id = next(p.id for p in coins.active_packages() if p.coins == 350)
    return coins.request_coins(get(username), package_id, "manual", key).request.id


def test_the_queue_shows_each_request_and_an_approval_credits_once(site, client, auth):
    with site.app_context():
        request_id = request_350()
    auth.login("siteadmin")
    html = html_of(client, "/admin/coins")
    card = text_of(
        re.search(
            rf'<li class="card access-card" id="coin-request-{request_id}">(.*?)</li>', html, re.S
        ).group(1)
    )
    assert "Vic Viewer @vic Age 30 Package 350 coins Price €4.99 Sent" in card
    assert re.search(r'href="/admin/coins"[^>]*aria-current="page">Coins <span class="count-pill">1', html)
    form = find_form(html, f"/admin/coins/requests/{request_id}/decision")
    values = {**form.values(), "decision": "approve"}
    response = client.post(f"/admin/coins/requests/{request_id}/decision", data=values, follow_redirects=True)
    assert flashes(response.get_data(as_text=True)) == ["@vic has 350 more coins. They are told."]
    # The same click again (a second admin's stale page): nothing more.
    response = client.post(f"/admin/coins/requests/{request_id}/decision", data=values, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert flashes(html) == ["This coin request was already approved."]
    assert "No coin request is waiting." in text_of(html)
    assert "Approved" in text_of(html) and "by @siteadmin" in text_of(html)
    with site.app_context():
        assert ledger.balance(get("vic")) == 350


def test_a_rejection_needs_a_note_and_the_note_is_shown_as_text(site, client, auth):
    with site.app_context():
        request_id = request_350()
    auth.login("siteadmin")
    form = find_form(html_of(client, "/admin/coins"), f"/admin/coins/requests/{request_id}/decision")
    response = client.post(
        f"/admin/coins/requests/{request_id}/decision", data={**form.values(), "decision": "reject"}
    )
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), f"note-{request_id}") == [
        "Say why you reject it: the person reads your note."
    ]
    response = client.post(
        f"/admin/coins/requests/{request_id}/decision",
        data={**form.values(), "decision": "reject", "note": EVIL},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    auth.logout()
    auth.login("vic")
    html = html_of(client, "/wallet")
    assert "Rejected" in text_of(html) and EVIL in text_of(html)
    assert "<script>alert" not in html
    with site.app_context():
        assert ledger.balance(get("vic")) == 0


def test_the_decision_form_needs_its_csrf_token(site, client, auth):
    with site.app_context():
        request_id = request_350()
    auth.login("siteadmin")
    response = client.post(f"/admin/coins/requests/{request_id}/decision", data={"decision": "approve"})
    assert response.status_code == 400
    assert "Your form expired or was sent from another site." in text_of(response.get_data(as_text=True))
    with site.app_context():
        assert ledger.balance(get("vic")) == 0


def test_granting_with_the_form_credits_once_and_escapes_the_reason(site, client, auth):
    auth.login("siteadmin")
    form = find_form(html_of(client, "/admin/coins"), "/admin/coins/grants")
    values = {**form.values(), "username": "vic", "coins": "250", "memo": EVIL}
    assert len(values["idempotency_key"]) == 32
    response = client.post("/admin/coins/grants", data=values, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert flashes(html) == ["@vic received 250 coins. They are told, with your reason."]
    assert "<script>alert" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html  # the latest grants
    client.post("/admin/coins/grants", data=values)  # a double click
    with site.app_context():
        assert ledger.balance(get("vic")) == 250
    auth.logout()
    auth.login("vic")
    html = html_of(client, "/wallet")
    assert balance_shown(html, "coins") == "250"
    assert "<script>alert" not in html and f'<q class="wallet-memo">{escape(EVIL)}</q>' in html


def test_grant_form_errors_stay_next_to_their_fields(site, client, auth):
    auth.login("siteadmin")
    form = find_form(html_of(client, "/admin/coins"), "/admin/coins/grants")
    response = client.post(
        "/admin/coins/grants", data={**form.values(), "username": "nobody", "coins": "0", "memo": ""}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "grant-username") == ["No account is called @nobody."]
    assert field_errors(html, "grant-coins") == ["Give a whole number of coins from 1 to 1,000,000."]
    assert field_errors(html, "grant-memo") == ["Say why: the person reads the reason."]
    # What was typed stays, and so does the key (a second try is the same grant).
    again = find_form(html, "/admin/coins/grants").values()
    assert again["username"] == "nobody" and again["idempotency_key"] == form.values()["idempotency_key"]


def test_admins_manage_packages_from_the_page(site, client, auth):
    auth.login("siteadmin")
    html = html_of(client, "/admin/coins")
    form = find_form(html, "/admin/coins/packages")
    response = client.post(
        "/admin/coins/packages",
        data={**form.values(), "coins": "5000", "price": "59,50"},
        follow_redirects=True,
    )
    assert flashes(response.get_data(as_text=True)) == ["5,000 coins for €59.50 are on sale."]
    with site.app_context():
        made = db.session.scalar(select(CoinPackage).where(CoinPackage.coins == 5000))
        assert (made.price_cents, made.active) == (5950, True)
        made_id = made.id
    html = html_of(client, "/admin/coins")
    edit = find_form(html, f"/admin/coins/packages/{made_id}")
    assert edit.values()["price"] == "59.50" and edit.values()["coins"] == "5000"
    response = client.post(
        f"/admin/coins/packages/{made_id}", data={**edit.values(), "price": "1.234", "coins": "0"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, f"package-{made_id}-price") == [
        "Give a price such as 4.99, with at most two decimals."
    ]
    assert field_errors(html, f"package-{made_id}-coins") == [
        "Give a whole number of coins from 1 to 1,000,000."
    ]
    response = client.post(f"/admin/coins/packages/{made_id}", data={**edit.values(), "price": "1e999999"})
    assert field_errors(response.get_data(as_text=True), f"package-{made_id}-price") == [
        "Give a price from €0.00 to €10,000.00."
    ]
    client.post(f"/admin/coins/packages/{made_id}", data={**edit.values(), "coins": "4000", "price": "49"})
    client.post(f"/admin/coins/packages/{made_id}", data={**edit.values(), "action": "retire"})
    with site.app_context():
        row = db.session.get(CoinPackage, made_id)
        assert (row.coins, row.price_cents, row.active) == (4000, 4900, False)
    auth.logout()
    auth.login("vic")
    assert "4,000 coins" not in text_of(html_of(client, "/wallet"))
    auth.logout()
    auth.login("siteadmin")
    client.post(f"/admin/coins/packages/{made_id}", data={**edit.values(), "action": "reactivate"})
    auth.logout()
    auth.login("vic")
    assert "4,000 coins €49.00" in text_of(html_of(client, "/wallet"))
