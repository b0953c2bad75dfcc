"""Coins (services.coins): packages and their seeding, requests through the manual and
test providers, admins' decisions, cancelling, grants, notifications. After every
scenario the ledger must reconcile (ledger.check() is empty)."""

from __future__ import annotations

import threading

import pytest
from factories import make_admin, make_user
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    CoinPackage,
    CoinRequest,
    CoinRequestStatus,
    LedgerAccount,
    LedgerTransaction,
    Notification,
    Role,
    TransactionType,
    User,
)
from livelite.services import accounts, coins, ledger, notifications
from livelite.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from livelite.services.settings import set_setting


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def platform(kind: AccountKind) -> int:
    value = db.session.scalar(
        select(LedgerAccount.balance).where(LedgerAccount.kind == kind, LedgerAccount.user_id.is_(None))
    )
    return int(value or 0)


def notes_of(username: str, kind: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == get(username).id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return list(db.session.scalars(stmt.order_by(Notification.id)))


def package(coins_count: int) -> CoinPackage:
    return next(p for p in coins.active_packages() if p.coins == coins_count)


def populate() -> None:
    """Two admins; @vic (member, 30); @teen (15); @gone (banned)."""
    make_admin(display_name="Site Admin")
    second = make_user("ada", display_name="Ada Admin")
    accounts.set_role(second, Role.ADMIN)
    make_user("vic", display_name="Vic Viewer", age=30)
    make_user("teen", age=15)
    make_user("gone", banned=True)


@pytest.fixture
def site(app):
    with app.app_context():
        populate()
    yield app
    with app.app_context():
        assert ledger.check() == []


@pytest.fixture
def demo(make_app):
    """A site in demo mode, where the test provider is offered."""
    app = make_app(DEMO_MODE=True)
    with app.app_context():
        populate()
    yield app
    with app.app_context():
        assert ledger.check() == []


def ask(username="vic", coins_count=350, key="k1", provider="manual") -> coins.Requested:
    return coins.request_coins(get(username), package(coins_count).id, provider, key)


# -- packages -------------------------------------------------------------------------
def test_the_first_read_seeds_the_defaults_once_and_never_again(site):
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(CoinPackage)) == 0
        on_sale = coins.active_packages()
        assert [(p.coins, p.price_cents, p.currency, p.active) for p in on_sale] == [
            (70, 99, "EUR", True),
            (350, 499, "EUR", True),
            (700, 999, "EUR", True),
            (1400, 1999, "EUR", True),
            (3500, 4999, "EUR", True),
        ]
        # A second read, and a second seeder racing the first, add nothing.
        coins.active_packages()
        coins._seed_packages()
        assert db.session.scalar(select(func.count()).select_from(CoinPackage)) == 5
        # Retired, not empty: nothing on sale, and no new defaults.
        admin = get("siteadmin")
        for row in coins.all_packages(admin):
            coins.update_package(admin, row, active=False)
        assert coins.active_packages() == []
        assert len(coins.all_packages(admin)) == 5


def test_admins_create_edit_retire_and_reactivate_packages(site):
    with site.app_context():
        admin = get("siteadmin")
        made = coins.create_package(admin, 1_000_000, 0)
        assert (made.coins, made.price_cents, made.currency, made.active) == (1_000_000, 0, "EUR", True)
        assert made in coins.active_packages()
        coins.update_package(admin, made, coins=1, price_cents=1_000_000)
        assert (made.coins, made.price_cents) == (1, 1_000_000)
        coins.update_package(admin, made, active=False)
        assert made not in coins.active_packages()
        assert made in coins.all_packages(admin)
        coins.update_package(admin, made, active=True)
        assert made in coins.active_packages()
        with pytest.raises(PermissionDenied):
            coins.create_package(get("vic"), 10, 100)
        with pytest.raises(PermissionDenied):
            coins.update_package(get("vic"), made, coins=5)


@pytest.mark.parametrize(
    ("coins_count", "price", "fields"),
    [
        (0, 100, {"coins"}),
        (1_000_001, 100, {"coins"}),
        ("many", 100, {"coins"}),
        ("--5", 100, {"coins"}),
        ("²", 100, {"coins"}),
        ("12", "9" * 40, {"price_cents"}),
        (10, -1, {"price_cents"}),
        (10, 1_000_001, {"price_cents"}),
        (0, -1, {"coins", "price_cents"}),
    ],
)
def test_package_limits(site, coins_count, price, fields):
    with site.app_context():
        admin = get("siteadmin")
        with pytest.raises(ValidationFailed) as caught:
            coins.create_package(admin, coins_count, price)
        assert set(caught.value.errors) == fields
        row = package(70)
        with pytest.raises(ValidationFailed):
            coins.update_package(admin, row, coins=coins_count, price_cents=price)
        db.session.refresh(row)
        assert (row.coins, row.price_cents) == (70, 99)


def test_a_request_keeps_its_coins_and_price_when_the_package_changes(site):
    with site.app_context():
        row = ask().request
        coins.update_package(get("siteadmin"), package(350), coins=300, price_cents=599)
        db.session.refresh(row)
        assert (row.coins, row.price_cents) == (350, 499)
        coins.approve(get("siteadmin"), row)
        assert ledger.balance(get("vic")) == 350


# -- requesting -------------------------------------------------------------------------
def test_a_manual_request_waits_and_every_admin_is_told_once(site):
    with site.app_context():
        made = ask()
        row = made.request
        assert made.created
        assert (row.status, row.coins, row.price_cents, row.currency, row.provider) == (
            CoinRequestStatus.PENDING,
            350,
            499,
            "EUR",
            "manual",
        )
        assert ledger.balance(get("vic")) == 0
        assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
        for admin in ("siteadmin", "ada"):
            [note] = notes_of(admin, "coin_request")
            assert notifications.describe(note) == "Vic Viewer asks for 350 coins (€4.99)."
        assert notes_of("vic") == []


def test_the_same_key_is_the_same_request(site):
    with site.app_context():
        first = ask(key="double-click")
        again = ask(key="double-click")
        assert not again.created and again.request.id == first.request.id
        assert db.session.scalar(select(func.count()).select_from(CoinRequest)) == 1
        assert len(notes_of("siteadmin", "coin_request")) == 1
        with pytest.raises(Conflict, match="already used for a different request"):
            ask(coins_count=700, key="double-click")
        # Another person's key is theirs: the same text makes a request of their own.
        make_user("other", age=40)
        assert ask("other", key="double-click").created


def test_at_most_five_pending_requests_a_person(site):
    with site.app_context():
        rows = [ask(key=f"k{i}").request for i in range(coins.MAX_PENDING)]
        with pytest.raises(Conflict, match="You already have 5 requests waiting"):
            ask(key="one-too-many")
        assert db.session.scalar(select(func.count()).select_from(CoinRequest)) == 5
        coins.cancel(get("vic"), rows[0])
        assert ask(key="one-too-many").created


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("gone", "Your account is banned: you cannot buy coins."),
        ("teen", "Coins are only for sending gifts, which needs you to be at least 18."),
    ],
)
def test_buying_needs_the_right_to_send_gifts(site, username, message):
    with site.app_context():
        with pytest.raises(PermissionDenied) as caught:
            ask(username)
        assert caught.value.message == message
        assert coins.purchase_refusal(get(username)).message == message
        assert db.session.scalar(select(func.count()).select_from(CoinRequest)) == 0


def test_the_age_follows_the_gift_setting(site):
    with site.app_context():
        set_setting("GIFT_MIN_AGE", "15")
        assert coins.purchase_refusal(get("teen")) is None
        assert ask("teen").created


def test_a_retired_or_unknown_package_and_an_unknown_provider_are_refused(site):
    with site.app_context():
        admin = get("siteadmin")
        row = package(70)
        coins.update_package(admin, row, active=False)
        with pytest.raises(ValidationFailed) as caught:
            coins.request_coins(get("vic"), row.id, "manual", "k")
        assert list(caught.value.errors) == ["package_id"]
        with pytest.raises(ValidationFailed):
            coins.request_coins(get("vic"), 9999, "manual", "k")
        with pytest.raises(ValidationFailed) as caught:
            ask(provider="paypal")
        assert caught.value.errors == {"provider": ["Unknown payment method."]}
        with pytest.raises(ValidationFailed) as caught:
            ask(key="")
        assert list(caught.value.errors) == ["idempotency_key"]
        assert db.session.scalar(select(func.count()).select_from(CoinRequest)) == 0


# -- the test provider ------------------------------------------------------------------
def test_the_test_provider_is_refused_outside_demo_mode(site):
    with site.app_context():
        assert [p.name for p in coins.providers()] == ["manual"]
        with pytest.raises(ValidationFailed) as caught:
            ask(provider="test")
        assert caught.value.errors == {
            "provider": ["Test payments are only possible when the site runs in demo mode."]
        }
        assert db.session.scalar(select(func.count()).select_from(CoinRequest)) == 0
        assert ledger.balance(get("vic")) == 0


def test_in_demo_mode_the_test_provider_approves_at_once_and_once(demo):
    with demo.app_context():
        assert [p.name for p in coins.providers()] == ["manual", "test"]
        assert "nothing is charged" in coins.providers()[1].label
        made = ask(coins_count=700, provider="test", key="demo-1")
        row = made.request
        assert row.status == CoinRequestStatus.APPROVED and row.decided_by_id is None
        assert row.provider == "test" and row.provider_reference == f"test-{row.id}"
        assert ledger.balance(get("vic")) == 700
        assert platform(AccountKind.PLATFORM_SALES) == -700
        tx = db.session.get(LedgerTransaction, row.transaction_id)
        assert (tx.type, tx.idempotency_key, tx.memo) == (
            TransactionType.PURCHASE,
            f"coin_request:{row.id}",
            "Test payment (demo mode).",
        )
        # Nothing for the admins to do, nobody to tell.
        assert notes_of("siteadmin") == []
        again = ask(coins_count=700, provider="test", key="demo-1")
        assert not again.created and again.request.id == row.id
        assert ledger.balance(get("vic")) == 700
        with pytest.raises(Conflict, match="already approved"):
            coins.approve(get("siteadmin"), row)
        assert ledger.balance(get("vic")) == 700
        # The manual provider still waits for an admin in demo mode.
        assert ask(provider="manual", key="demo-2").request.status == CoinRequestStatus.PENDING


# -- deciding -------------------------------------------------------------------------------
def test_an_approval_credits_once_and_the_person_is_told(site):
    with site.app_context():
        row = ask().request
        coins.approve(get("siteadmin"), row, "  Thanks, cash received.  ")
        assert row.status == CoinRequestStatus.APPROVED
        assert row.decided_by_id == get("siteadmin").id and row.decided_at is not None
        assert row.note == "Thanks, cash received."
        assert ledger.balance(get("vic")) == 350
        assert platform(AccountKind.PLATFORM_SALES) == -350
        tx = db.session.get(LedgerTransaction, row.transaction_id)
        assert tx.type == TransactionType.PURCHASE and tx.idempotency_key == f"coin_request:{row.id}"
        assert tx.created_by_id == get("siteadmin").id
        [note] = notes_of("vic")
        assert note.kind == "coins_approved"
        assert notifications.describe(note) == (
            "Your 350 coins are in your wallet. The admin wrote: “Thanks, cash received.”"
        )
        # A second admin, a retry, a double click: a Conflict that moves nothing.
        with pytest.raises(Conflict, match=r"This coin request was already approved\."):
            coins.approve(get("ada"), row)
        with pytest.raises(Conflict, match="already approved"):
            coins.reject(get("ada"), row, "Changed my mind")
        assert ledger.balance(get("vic")) == 350
        assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 1
        assert len(notes_of("vic")) == 1
        with pytest.raises(PermissionDenied):
            coins.approve(get("vic"), ask(key="k2").request)


def test_a_decision_made_elsewhere_meanwhile_wins(site):
    """The admin's page was loaded before another admin decided: the conditional update
    refuses the second decision even though this session still sees it pending."""
    with site.app_context():
        row = ask().request
        request_id = row.id
        assert row.status == CoinRequestStatus.PENDING
        with site.app_context():  # another request, with its own session
            coins.approve(get("ada"), coins.get_request(request_id))
        assert row.status == CoinRequestStatus.PENDING  # stale in this session
        with pytest.raises(Conflict, match="already approved"):
            coins._approve(row, get("siteadmin"))
        with pytest.raises(Conflict, match="already approved"):
            coins._reject(row, get("siteadmin"), "Too late")
        assert ledger.balance(get("vic")) == 350
        assert db.session.get(CoinRequest, request_id).decided_by_id == get("ada").id


def test_admins_approving_at_once_from_threads_credit_once(site):
    with site.app_context():
        request_id = ask().request.id
        admin_ids = [get("siteadmin").id, get("ada").id] * 3
    results: list[str] = []
    start = threading.Barrier(len(admin_ids))

    def decide(admin_id: int) -> None:
        with site.app_context():
            start.wait()
            try:
                coins.approve(db.session.get(User, admin_id), coins.get_request(request_id))
            except Conflict:
                results.append("conflict")
            else:
                results.append("approved")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(a,)) for a in admin_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["approved"] + ["conflict"] * (len(admin_ids) - 1)
    with site.app_context():
        assert ledger.balance(get("vic")) == 350
        assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 1
        assert len(notes_of("vic")) == 1


def test_a_rejection_needs_a_note_moves_nothing_and_tells_the_person(site):
    with site.app_context():
        row = ask().request
        admin = get("siteadmin")
        with pytest.raises(ValidationFailed) as caught:
            coins.reject(admin, row, "   ")
        assert caught.value.errors == {"note": ["Say why you reject it: the person reads your note."]}
        with pytest.raises(ValidationFailed, match="at most"):
            coins.reject(admin, row, "x" * 501)
        assert db.session.get(CoinRequest, row.id).status == CoinRequestStatus.PENDING
        coins.reject(admin, row, "No payment arrived.")
        assert row.status == CoinRequestStatus.REJECTED and row.transaction_id is None
        assert ledger.balance(get("vic")) == 0
        assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
        [note] = notes_of("vic")
        assert note.kind == "coins_rejected"
        assert notifications.describe(note) == (
            "Your request for 350 coins was rejected. The admin wrote: “No payment arrived.”"
        )
        with pytest.raises(Conflict, match="already rejected"):
            coins.approve(get("ada"), row)
        assert ledger.balance(get("vic")) == 0


def test_approving_for_a_banned_person_is_refused(site):
    with site.app_context():
        row = ask().request
        accounts.set_banned(get("vic"), True)
        with pytest.raises(Conflict, match=r"@vic is banned: reject the request instead\."):
            coins.approve(get("siteadmin"), row)
        assert ledger.balance(get("vic")) == 0
        coins.reject(get("siteadmin"), row, "Banned meanwhile.")


def test_a_person_cancels_only_their_own_pending_request(site):
    with site.app_context():
        row = ask().request
        make_user("eve", age=40)
        with pytest.raises(NotFound):
            coins.cancel(get("eve"), row)
        with pytest.raises(NotFound):
            coins.get_own_request(get("eve"), row.id)
        coins.cancel(get("vic"), row)
        assert row.status == CoinRequestStatus.CANCELLED
        with pytest.raises(Conflict, match=r"This coin request was cancelled\."):
            coins.cancel(get("vic"), row)
        with pytest.raises(Conflict, match="cancelled"):
            coins.approve(get("siteadmin"), row)
        assert ledger.balance(get("vic")) == 0
        approved = ask(key="k2").request
        coins.approve(get("siteadmin"), approved)
        with pytest.raises(Conflict, match="already approved"):
            coins.cancel(get("vic"), approved)
        assert ledger.balance(get("vic")) == 350


def test_the_queue_is_oldest_first_and_decided_ones_latest_first(site):
    with site.app_context():
        make_user("zoe", age=40)
        a = ask("vic", key="a").request
        b = ask("zoe", key="b").request
        c = ask("vic", key="c", coins_count=70).request
        admin = get("siteadmin")
        assert [r.id for r in coins.pending_requests(admin)] == [a.id, b.id, c.id]
        coins.approve(admin, b)
        coins.reject(admin, a, "No.")
        assert coins.pending_count() == 1
        decided = list(db.session.scalars(coins.decided_query(admin)).unique())
        assert [r.id for r in decided] == [a.id, b.id]
        with pytest.raises(PermissionDenied):
            coins.pending_requests(get("vic"))


# -- grants ---------------------------------------------------------------------------------
def test_a_grant_credits_once_per_key_and_the_person_is_told(site):
    with site.app_context():
        admin = get("siteadmin")
        done = coins.grant(admin, "@Vic ", 500, "  Maths   class, spring term ", "form-uuid-1")
        assert done.created and done.user.username == "vic" and done.coins == 500
        assert ledger.balance(get("vic")) == 500
        assert platform(AccountKind.PLATFORM_GRANTS) == -500
        tx = done.transaction
        assert (tx.type, tx.memo, tx.created_by_id) == (
            TransactionType.GRANT,
            "Maths class, spring term",
            admin.id,
        )
        [note] = notes_of("vic")
        assert note.kind == "coins_granted"
        assert notifications.describe(note) == "Site Admin gave you 500 coins: “Maths class, spring term”"
        again = coins.grant(admin, "vic", 500, "Maths class, spring term", "form-uuid-1")
        assert not again.created and again.transaction.id == tx.id
        assert ledger.balance(get("vic")) == 500
        assert len(notes_of("vic")) == 1
        with pytest.raises(Conflict):
            coins.grant(admin, "vic", 50, "Another", "form-uuid-1")
        assert ledger.balance(get("vic")) == 500
        # A very long key still works, and still only once.
        long_key = "k" * 128
        assert coins.grant(admin, "vic", 1, "Bonus", long_key).created
        assert not coins.grant(admin, "vic", 1, "Bonus", long_key).created
        assert ledger.balance(get("vic")) == 501
        assert [(who.username, n) for _, who, n in coins.recent_grants(admin)] == [("vic", 1), ("vic", 500)]


@pytest.mark.parametrize(
    ("username", "amount", "memo", "key", "errors"),
    [
        ("nobody", 10, "Why", "k", {"username": ["No account is called @nobody."]}),
        ("", 10, "Why", "k", {"username": ["Give a username."]}),
        ("gone", 10, "Why", "k", {"username": ["@gone is banned: they cannot have coins."]}),
        (
            "teen",
            10,
            "Why",
            "k",
            {"username": ["@teen cannot use coins: sending gifts needs them to be at least 18."]},
        ),
        ("vic", 0, "Why", "k", {"coins": ["Give a whole number of coins from 1 to 1,000,000."]}),
        ("vic", 1_000_001, "Why", "k", {"coins": ["Give a whole number of coins from 1 to 1,000,000."]}),
        ("vic", "ten", "Why", "k", {"coins": ["Give a whole number of coins from 1 to 1,000,000."]}),
        ("vic", 10, "   ", "k", {"memo": ["Say why: the person reads the reason."]}),
        ("vic", 10, "x" * 201, "k", {"memo": ["The reason is too long: 200 characters at most."]}),
        ("vic", 10, "Why", "", {"idempotency_key": ["Send an idempotency key of 1 to 128 characters."]}),
    ],
)
def test_grant_rules(site, username, amount, memo, key, errors):
    with site.app_context():
        with pytest.raises(ValidationFailed) as caught:
            coins.grant(get("siteadmin"), username, amount, memo, key)
        assert caught.value.errors == errors
        assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0


def test_grant_limits_are_inclusive_and_only_admins_grant(site):
    with site.app_context():
        admin = get("siteadmin")
        coins.grant(admin, "vic", 1, "x", "a")
        coins.grant(admin, "vic", 1_000_000, "y" * 200, "b")
        assert ledger.balance(get("vic")) == 1_000_001
        with pytest.raises(PermissionDenied):
            coins.grant(get("vic"), "vic", 10, "self-service", "c")
        assert ledger.balance(get("vic")) == 1_000_001


# -- the history ------------------------------------------------------------------------------
def test_the_history_explains_each_entry_newest_first(site):
    with site.app_context():
        admin = get("siteadmin")
        row = ask().request
        coins.approve(admin, row)
        coins.grant(admin, "vic", 40, "Community reward", "g1")
        entries = list(db.session.scalars(coins.history_query(get("vic"))).unique())
        items = coins.explain(entries)
        assert [(i.transaction.type, i.kind, i.amount) for i in items] == [
            (TransactionType.GRANT, AccountKind.COINS, 40),
            (TransactionType.PURCHASE, AccountKind.COINS, 350),
        ]
        assert items[0].granted_by.id == admin.id and items[0].type_label == "Coins granted"
        assert items[1].coin_request.id == row.id and items[1].type_label == "Coins bought"
        # Nobody else's entries, and not the platform's.
        assert coins.explain(list(db.session.scalars(coins.history_query(admin)).unique())) == []
