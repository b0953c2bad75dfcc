"""Cash-outs (services.cashouts): asking holds the diamonds, the minimum and the balance,
one pending request, the client's key, cancelling, the admins' decisions and their
races, the amount's rounding, the notifications — and the ledger adds up after each."""

from __future__ import annotations

import threading

import pytest
from earnings_support import earn
from factories import make_admin, make_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    CashoutRequest,
    CashoutStatus,
    LedgerAccount,
    LedgerTransaction,
    Notification,
    Role,
    TransactionType,
    User,
)
from livelite.services import accounts, cashouts, ledger, notifications, settings
from livelite.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

IBAN = "FR76 3000 6000 0112 3456 7890 189"


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def site(app):
    """Two admins (@siteadmin, @ada); @cora, a creator with 2,500 diamonds earned from
    @fan's gifts; @fan; @kid (17) and @gone (banned), who both hold diamonds too."""
    with app.app_context():
        make_admin(display_name="Site Admin")
        accounts.set_role(make_user("ada", display_name="Ada Admin"), Role.ADMIN)
        cora = make_user("cora", display_name="Cora Creator", role=Role.CREATOR)
        fan = make_user("fan", display_name="Fan")
        kid = make_user("kid", age=17, role=Role.CREATOR)
        gone = make_user("gone", role=Role.CREATOR)
        for person in (cora, kid, gone):
            earn(person, 2500, fan)
        accounts.set_banned(gone, True)
        assert ledger.check() == []
    return app


def balances(username: str) -> dict[str, int]:
    return ledger.balances(get(username))


def platform(kind: AccountKind) -> int:
    return int(
        db.session.scalar(
            select(LedgerAccount.balance).where(LedgerAccount.kind == kind, LedgerAccount.user_id.is_(None))
        )
        or 0
    )


def ask(diamonds: int = 1500, key: str = "k1", username: str = "cora", details: str = IBAN):
    return cashouts.request_cashout(get(username), diamonds, details, key)


def notes(username: str, kind: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == get(username).id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return list(db.session.scalars(stmt))


# -- asking ----------------------------------------------------------------------------------
def test_asking_holds_the_diamonds_at_todays_rate_and_tells_every_admin(site):
    with site.app_context():
        row, created = ask(1500)
        assert created
        assert (row.status, row.diamonds, row.amount_cents, row.currency) == (
            CashoutStatus.PENDING,
            1500,
            750,  # 1,500 diamonds at 50 cents per 100
            "EUR",
        )
        assert row.payout_details == IBAN
        assert balances("cora") == {"coins": 0, "diamonds": 1000, "diamonds_held": 1500}
        hold = db.session.get(LedgerTransaction, row.hold_transaction_id)
        assert hold.type == TransactionType.CASHOUT_HOLD
        assert hold.idempotency_key == f"cashout:{row.id}:hold"
        assert sorted(e.amount for e in hold.entries) == [-1500, 1500]
        for admin in ("siteadmin", "ada"):
            [note] = notes(admin, "cashout_requested")
            assert notifications.describe(note) == "Cora Creator asks to cash out 1,500 diamonds (€7.50)."
        assert notes("cora") == []
        assert ledger.check() == []


@pytest.mark.parametrize(
    ("diamonds", "details", "field", "message"),
    [
        (999, IBAN, "diamonds", "A cash-out is 1,000 diamonds at least."),
        (0, IBAN, "diamonds", "A cash-out is 1,000 diamonds at least."),
        (-5000, IBAN, "diamonds", "A cash-out is 1,000 diamonds at least."),
        (2501, IBAN, "diamonds", "You have 2,500 diamonds: ask for that many at most."),
        ("1500", IBAN, "diamonds", "Enter a whole number of diamonds."),
        (True, IBAN, "diamonds", "Enter a whole number of diamonds."),
        (1500, "ab", "payout_details", None),
        (1500, "   ab   ", "payout_details", None),
        (1500, "x" * 201, "payout_details", None),
        (1500, "FR76 3000\nmore", "payout_details", None),
    ],
)
def test_minimum_balance_and_payout_details_are_checked_and_nothing_is_held(
    site, diamonds, details, field, message
):
    with site.app_context():
        with pytest.raises(ValidationFailed) as caught:
            ask(diamonds, details=details)
        assert field in caught.value.errors
        if message:
            assert caught.value.errors[field] == [message]
        else:
            assert "3 to 200 characters" in caught.value.errors[field][0]
        assert balances("cora") == {"coins": 0, "diamonds": 2500, "diamonds_held": 0}
        assert db.session.scalar(select(CashoutRequest)) is None
        assert notes("siteadmin", "cashout_requested") == []
        assert ledger.check() == []


def test_the_whole_balance_and_the_longest_details_are_accepted(site):
    with site.app_context():
        row, _ = ask(2500, details="  " + "p" * 200 + "  ")
        assert row.payout_details == "p" * 200
        assert balances("cora") == {"coins": 0, "diamonds": 0, "diamonds_held": 2500}
        assert ledger.check() == []


@pytest.mark.parametrize(
    ("rate", "diamonds", "cents"),
    [
        (50, 1999, 999),  # 999.5 cents, rounded down
        (33, 1001, 330),  # 330.33
        (33, 1003, 330),  # 330.99, still down
        (100, 1234, 1234),
        (0, 1500, 0),
    ],
)
def test_the_amount_is_fixed_at_the_days_rate_rounded_down_to_the_cent(site, rate, diamonds, cents):
    with site.app_context():
        settings.set_setting("CASHOUT_CENTS_PER_100_DIAMONDS", rate)
        row, _ = ask(diamonds)
        assert row.amount_cents == cents
        # A later change of rate does not alter a request already made.
        settings.set_setting("CASHOUT_CENTS_PER_100_DIAMONDS", rate + 7)
        db.session.refresh(row)
        assert row.amount_cents == cents


def test_the_minimum_is_a_setting(site):
    with site.app_context():
        settings.set_setting("CASHOUT_MIN_DIAMONDS", 2000)
        with pytest.raises(ValidationFailed, match="2,000 diamonds at least"):
            ask(1999)
        assert ask(2000)[1]


def test_one_pending_request_at_a_time(site):
    with site.app_context():
        first, _ = ask(1000, key="a")
        with pytest.raises(Conflict, match="already have a cash-out waiting"):
            ask(1000, key="b")
        assert balances("cora") == {"coins": 0, "diamonds": 1500, "diamonds_held": 1000}
        cashouts.cancel(get("cora"), first)
        second, created = ask(1000, key="b")
        assert created and second.id != first.id
        assert ledger.check() == []


def test_the_database_holds_one_pending_request_per_person_too(site):
    """Two requests racing with different keys can both pass the look-up; the partial
    unique index then refuses the second insert."""
    with site.app_context():
        ask(1000, key="a")
        db.session.add(
            CashoutRequest(
                user_id=get("cora").id, diamonds=1000, amount_cents=500, currency="EUR", payout_details=IBAN
            )
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_racing_requests_with_different_keys_hold_once(site):
    """Two threads (two sessions) ask at the same moment with different keys: one is
    kept, the other is refused, and the diamonds are held once."""
    app = site
    barrier = threading.Barrier(2)
    results: list[object] = []

    def request(key):
        with app.app_context():
            cora = get("cora")
            barrier.wait()
            try:
                results.append(cashouts.request_cashout(cora, 1000, IBAN, key)[0].id)
            except Conflict as exc:
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=request, args=(key,)) for key in ("x1", "x2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with app.app_context():
        assert len(results) == 2
        assert sum(isinstance(r, int) for r in results) == 1
        assert sum(isinstance(r, Conflict) for r in results) == 1
        assert balances("cora") == {"coins": 0, "diamonds": 1500, "diamonds_held": 1000}
        assert ledger.check() == []


def test_the_same_key_twice_is_the_same_request(site):
    with site.app_context():
        first, created = ask(1200, key="same")
        again, created_again = ask(1200, key="same")
        assert created and not created_again
        assert again.id == first.id
        assert balances("cora") == {"coins": 0, "diamonds": 1300, "diamonds_held": 1200}
        assert db.session.scalar(select(db.func.count()).select_from(CashoutRequest)) == 1
        assert len(notes("siteadmin", "cashout_requested")) == 1
        # After it was decided, the key still names that request.
        cashouts.approve(get("siteadmin"), first)
        assert ask(1200, key="same") == (first, False)
        # The key for another amount or another address is a mistake, not a new request.
        with pytest.raises(Conflict, match="already used for another cash-out"):
            ask(1300, key="same")
        with pytest.raises(Conflict, match="already used for another cash-out"):
            ask(1200, key="same", details="paypal: cora@example.com")
        # Keys are per person: someone else may use the same one.
        earn(make_user("ben", role=Role.CREATOR), 1000, get("fan"))
        assert ask(1000, key="same", username="ben")[1]
        assert ledger.check() == []


def test_keys_are_checked(site):
    with site.app_context():
        for key in ("", "   ", "k" * 129, "bad\nkey"):
            with pytest.raises(ValidationFailed) as caught:
                ask(1000, key=key)
            assert "idempotency_key" in caught.value.errors
        assert db.session.scalar(select(CashoutRequest)) is None


@pytest.mark.parametrize(
    ("username", "message"),
    [("kid", "You must be at least 18 to receive gifts."), ("gone", "Your account is banned.")],
)
def test_people_who_may_not_receive_gifts_may_not_cash_out(site, username, message):
    with site.app_context():
        with pytest.raises(PermissionDenied, match=message):
            ask(1000, username=username)
        assert isinstance(cashouts.refusal(get(username)), PermissionDenied)
        assert balances(username)["diamonds_held"] == 0


def test_refusal_says_why_the_form_is_not_offered(site):
    with site.app_context():
        assert cashouts.refusal(get("cora")) is None
        assert str(cashouts.refusal(get("fan"))) == "A cash-out is 1,000 diamonds at least; you have 0."
        ask(1000)
        assert isinstance(cashouts.refusal(get("cora")), Conflict)


# -- cancelling -------------------------------------------------------------------------------
def test_the_creator_cancels_a_pending_request_and_the_diamonds_come_back(site):
    with site.app_context():
        row, _ = ask(1500)
        cashouts.cancel(get("cora"), row)
        assert row.status == CashoutStatus.CANCELLED
        assert row.decided_at is not None
        assert balances("cora") == {"coins": 0, "diamonds": 2500, "diamonds_held": 0}
        release = db.session.get(LedgerTransaction, row.settle_transaction_id)
        assert (release.type, release.idempotency_key) == (
            TransactionType.CASHOUT_RELEASE,
            f"cashout:{row.id}:release",
        )
        with pytest.raises(Conflict, match="cancelled by the creator"):
            cashouts.cancel(get("cora"), row)
        assert balances("cora")["diamonds"] == 2500
        assert ledger.check() == []


def test_nobody_else_cancels_it_and_a_decided_one_cannot_be_cancelled(site):
    with site.app_context():
        row, _ = ask(1500)
        with pytest.raises(NotFound):
            cashouts.cancel(get("fan"), row)
        with pytest.raises(NotFound):
            cashouts.get_own(get("fan"), row.id)
        cashouts.approve(get("siteadmin"), row)
        with pytest.raises(Conflict, match="already approved"):
            cashouts.cancel(get("cora"), row)
        assert balances("cora") == {"coins": 0, "diamonds": 1000, "diamonds_held": 0}
        assert ledger.check() == []


# -- admins ------------------------------------------------------------------------------------
def test_approve_pays_the_held_diamonds_out_then_mark_paid_with_a_reference(site):
    with site.app_context():
        row, _ = ask(1500)
        payouts_before = platform(AccountKind.PLATFORM_PAYOUTS)
        cashouts.approve(get("siteadmin"), row, "Thanks for the great lives!")
        assert row.status == CashoutStatus.APPROVED
        assert row.decided_by_id == get("siteadmin").id and row.decided_at is not None
        assert row.paid_at is None
        assert balances("cora") == {"coins": 0, "diamonds": 1000, "diamonds_held": 0}
        assert platform(AccountKind.PLATFORM_PAYOUTS) == payouts_before + 1500
        payout = db.session.get(LedgerTransaction, row.settle_transaction_id)
        assert (payout.type, payout.idempotency_key) == (
            TransactionType.CASHOUT_PAYOUT,
            f"cashout:{row.id}:payout",
        )
        [approved] = notes("cora", "cashout_approved")
        assert notifications.describe(approved) == (
            "Your cash-out of 1,500 diamonds was approved: €7.50 is on its way. "
            "The admin wrote: “Thanks for the great lives!”"
        )
        assert ledger.check() == []

        cashouts.mark_paid(get("ada"), row, "  SEPA 2024-118  ")
        assert row.status == CashoutStatus.PAID and row.paid_at is not None
        assert row.note == "Thanks for the great lives!\nSEPA 2024-118"
        [paid] = notes("cora", "cashout_paid")
        assert notifications.describe(paid) == "Your cash-out of €7.50 was paid. Reference: SEPA 2024-118"
        # Paying moved no value: the ledger's part ended with the approval.
        assert platform(AccountKind.PLATFORM_PAYOUTS) == payouts_before + 1500
        with pytest.raises(Conflict, match="already paid"):
            cashouts.mark_paid(get("siteadmin"), row)
        assert len(notes("cora", "cashout_paid")) == 1
        assert ledger.check() == []


def test_mark_paid_without_a_reference_keeps_the_note_and_says_paid(site):
    with site.app_context():
        row, _ = ask(1000)
        cashouts.approve(get("siteadmin"), row)
        cashouts.mark_paid(get("siteadmin"), row)
        assert row.note == ""
        [paid] = notes("cora", "cashout_paid")
        assert notifications.describe(paid) == "Your cash-out of €5.00 was paid."


def test_only_an_approved_request_is_marked_paid(site):
    with site.app_context():
        row, _ = ask(1000)
        with pytest.raises(Conflict, match="approve it before marking it paid"):
            cashouts.mark_paid(get("siteadmin"), row)
        cashouts.reject(get("siteadmin"), row, "Your IBAN is incomplete.")
        with pytest.raises(Conflict, match="already rejected"):
            cashouts.mark_paid(get("siteadmin"), row)
        assert row.paid_at is None


def test_reject_needs_a_note_and_gives_the_diamonds_back(site):
    with site.app_context():
        row, _ = ask(2000)
        for note in ("", "   "):
            with pytest.raises(ValidationFailed) as caught:
                cashouts.reject(get("siteadmin"), row, note)
            assert caught.value.errors == {"note": ["Say why you reject it: the creator reads your note."]}
        with pytest.raises(ValidationFailed, match="too long"):
            cashouts.reject(get("siteadmin"), row, "n" * 501)
        db.session.refresh(row)
        assert row.status == CashoutStatus.PENDING
        assert balances("cora")["diamonds_held"] == 2000

        cashouts.reject(get("siteadmin"), row, "This IBAN is not in your name.")
        assert row.status == CashoutStatus.REJECTED and row.note == "This IBAN is not in your name."
        assert balances("cora") == {"coins": 0, "diamonds": 2500, "diamonds_held": 0}
        [rejected] = notes("cora", "cashout_rejected")
        assert notifications.describe(rejected) == (
            "Your cash-out of 2,000 diamonds was rejected and the diamonds are back. "
            "The admin wrote: “This IBAN is not in your name.”"
        )
        assert ledger.check() == []


def test_a_second_decision_is_a_conflict_and_moves_nothing(site):
    with site.app_context():
        row, _ = ask(1500)
        cashouts.approve(get("siteadmin"), row)
        snapshot = (balances("cora"), platform(AccountKind.PLATFORM_PAYOUTS))
        with pytest.raises(Conflict, match="This cash-out was already approved"):
            cashouts.reject(get("ada"), row, "Too late")
        with pytest.raises(Conflict, match="This cash-out was already approved"):
            cashouts.approve(get("ada"), row)
        assert (balances("cora"), platform(AccountKind.PLATFORM_PAYOUTS)) == snapshot
        db.session.refresh(row)
        assert row.status == CashoutStatus.APPROVED and row.note == ""
        assert len(notes("cora", "cashout_approved")) == 1
        assert notes("cora", "cashout_rejected") == []

        other, _ = ask(1000, key="k2")
        cashouts.reject(get("ada"), other, "Not now")
        with pytest.raises(Conflict, match="already rejected"):
            cashouts.approve(get("siteadmin"), other)
        assert balances("cora") == {"coins": 0, "diamonds": 1000, "diamonds_held": 0}
        assert ledger.check() == []


def test_two_admins_deciding_at_once_decide_once(site):
    """Two threads, two sessions: one approves while the other rejects the same request."""
    app = site
    with app.app_context():
        row_id = ask(1500)[0].id
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def decide(username, decision):
        with app.app_context():
            admin = get(username)
            row = cashouts.get_request(row_id)
            barrier.wait()
            try:
                cashouts.decide(admin, row, decision, "Decided by " + username)
                outcomes[username] = "done"
            except Conflict as exc:
                outcomes[username] = exc.message
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=decide, args=("siteadmin", "approve")),
        threading.Thread(target=decide, args=("ada", "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with app.app_context():
        assert sorted(outcomes) == ["ada", "siteadmin"]
        assert list(outcomes.values()).count("done") == 1
        row = cashouts.get_request(row_id)
        loser = next(name for name, result in outcomes.items() if result != "done")
        expected = {
            CashoutStatus.APPROVED: "This cash-out was already approved.",
            CashoutStatus.REJECTED: "This cash-out was already rejected.",
        }[row.status]
        assert outcomes[loser] == expected
        held = balances("cora")
        if row.status == CashoutStatus.APPROVED:
            assert held == {"coins": 0, "diamonds": 1000, "diamonds_held": 0}
        else:
            assert held == {"coins": 0, "diamonds": 2500, "diamonds_held": 0}
        assert len(notes("cora", "cashout_approved")) + len(notes("cora", "cashout_rejected")) == 1
        assert ledger.check() == []


def test_only_admins_decide(site):
    with site.app_context():
        row, _ = ask(1500)
        for decision in ("approve", "reject", "paid"):
            with pytest.raises(PermissionDenied):
                cashouts.decide(get("cora"), row, decision, "note")
        with pytest.raises(PermissionDenied):
            cashouts.export_csv(get("cora"))
        with pytest.raises(ValidationFailed):
            cashouts.decide(get("siteadmin"), row, "maybe")
        db.session.refresh(row)
        assert row.status == CashoutStatus.PENDING


def test_a_deleted_account_s_request_can_still_be_rejected_and_the_books_balance(site):
    with site.app_context():
        row, _ = ask(1500)
        accounts.delete_account(get("cora"), "correct horse battery")
        db.session.refresh(row)
        assert row.user_id is None
        cashouts.reject(get("siteadmin"), row, "The account was deleted.")
        orphan = db.session.scalars(
            select(LedgerAccount).where(
                LedgerAccount.user_id.is_(None), LedgerAccount.kind == AccountKind.DIAMONDS
            )
        ).all()
        assert [a.balance for a in orphan] == [2500]
        assert ledger.check() == []


def test_lists_counts_and_ordering_for_admins(site):
    with site.app_context():
        a, _ = ask(1000, key="a")
        cashouts.approve(get("siteadmin"), a)
        b, _ = ask(1000, key="b")
        assert cashouts.counts() == {"pending": 1, "approved": 1, "paid": 0, "rejected": 0, "cancelled": 0}
        assert cashouts.waiting_count() == 2
        pending = db.session.scalars(cashouts.admin_query(get("ada"), CashoutStatus.PENDING)).all()
        assert [r.id for r in pending] == [b.id]
        assert [r.id for r in cashouts.requests_of(get("cora"))] == [b.id, a.id]
        with pytest.raises(PermissionDenied):
            cashouts.admin_query(get("cora"))


def test_the_money_is_written_for_the_reader(site):
    with site.app_context():
        assert cashouts.money(750) == "€7.50"
        assert cashouts.money(123456, "USD") == "$1,234.56"
        assert cashouts.amount_cents(1999, 50) == 999
