"""The ledger core (services.ledger): balanced posts, idempotency, no overdraft, check."""

from __future__ import annotations

import pytest
from factories import make_admin, make_user
from sqlalchemy import select, update

from livelite.extensions import db
from livelite.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction, TransactionType
from livelite.services import ledger
from livelite.services.errors import Conflict
from livelite.services.ledger import InsufficientFunds, Leg


def _grant(user, coins, key):
    return ledger.post(
        TransactionType.GRANT,
        [
            Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -coins),
            Leg(ledger.account_id(AccountKind.COINS, user), coins),
        ],
        key=key,
        reference=f"test:{key}",
    )


def _spend(user, creator, coins, key):
    share = coins // 2
    return ledger.post(
        TransactionType.GIFT,
        [
            Leg(ledger.account_id(AccountKind.COINS, user), -coins),
            Leg(ledger.account_id(AccountKind.DIAMONDS, creator), share),
            Leg(ledger.account_id(AccountKind.PLATFORM_REVENUE), coins - share),
        ],
        key=key,
        reference=f"test:{key}",
    )


def test_balanced_posts_move_cached_balances_and_check_is_clean(app):
    with app.app_context():
        make_admin()
        viewer, creator = make_user(), make_user()
        assert _grant(viewer, 100, "g1").created
        db.session.commit()
        assert _spend(viewer, creator, 30, "s1").created
        db.session.commit()
        assert ledger.balances(viewer) == {"coins": 70, "diamonds": 0, "diamonds_held": 0}
        assert ledger.balances(creator)["diamonds"] == 15
        platform = db.session.scalar(
            select(LedgerAccount.balance).where(LedgerAccount.kind == AccountKind.PLATFORM_REVENUE)
        )
        assert platform == 15
        assert ledger.check() == []


def test_same_key_moves_nothing_twice_and_a_different_movement_is_a_conflict(app):
    with app.app_context():
        make_admin()
        viewer, creator = make_user(), make_user()
        _grant(viewer, 100, "g1")
        db.session.commit()
        first = _spend(viewer, creator, 40, "same")
        db.session.commit()
        again = _spend(viewer, creator, 40, "same")
        db.session.commit()
        assert not again.created and again.transaction.id == first.transaction.id
        assert ledger.balance(viewer) == 60
        with pytest.raises(Conflict):
            _spend(viewer, creator, 10, "same")
        assert ledger.balance(viewer) == 60
        assert db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == "same"))
        assert ledger.check() == []


def test_overdraft_is_refused_and_leaves_nothing_behind(app):
    with app.app_context():
        make_admin()
        viewer, creator = make_user(), make_user()
        _grant(viewer, 10, "g1")
        db.session.commit()
        entries_before = db.session.query(LedgerEntry).count()
        with pytest.raises(InsufficientFunds) as refused:
            _spend(viewer, creator, 11, "s1")
        assert refused.value.needed == 11 and refused.value.available == 10
        db.session.commit()
        assert ledger.balance(viewer) == 10
        assert ledger.balance(creator, AccountKind.DIAMONDS) == 0
        assert db.session.query(LedgerEntry).count() == entries_before
        assert db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == "s1")) is None
        # The key was not burnt by the refusal: it works once there is enough.
        _grant(viewer, 1, "g2")
        assert _spend(viewer, creator, 11, "s1").created
        db.session.commit()
        assert ledger.balance(viewer) == 0
        assert ledger.check() == []


def test_unbalanced_or_empty_legs_are_programming_errors(app):
    with app.app_context():
        make_admin()
        viewer = make_user()
        coins = ledger.account_id(AccountKind.COINS, viewer)
        with pytest.raises(ValueError, match="unbalanced"):
            ledger.post(TransactionType.GRANT, [Leg(coins, 5)], key="k", reference="r")
        with pytest.raises(ValueError):
            ledger.post(TransactionType.GRANT, [], key="k", reference="r")


def test_check_finds_a_tampered_balance_and_a_one_sided_entry(app):
    with app.app_context():
        make_admin()
        viewer = make_user()
        _grant(viewer, 50, "g1")
        db.session.commit()
        account = ledger.account_id(AccountKind.COINS, viewer)
        db.session.execute(update(LedgerAccount).where(LedgerAccount.id == account).values(balance=51))
        db.session.commit()
        problems = ledger.check()
        assert [p.what for p in problems] == ["balance"]
        assert "cached 51, entries sum to 50" in problems[0].detail
        tx = db.session.scalar(select(LedgerTransaction))
        db.session.add(LedgerEntry(transaction_id=tx.id, account_id=account, amount=1))
        db.session.commit()
        kinds = sorted(p.what for p in ledger.check())
        assert kinds == ["total", "unbalanced"]


def test_account_ids_are_stable_per_person_and_platform(app):
    with app.app_context():
        make_admin()
        viewer = make_user()
        assert ledger.account_id(AccountKind.COINS, viewer) == ledger.account_id(AccountKind.COINS, viewer.id)
        assert ledger.account_id(AccountKind.COINS, viewer) != ledger.account_id(AccountKind.DIAMONDS, viewer)
        assert ledger.account_id(AccountKind.PLATFORM_SALES) == ledger.account_id(AccountKind.PLATFORM_SALES)
        with pytest.raises(ValueError):
            ledger.account_id(AccountKind.COINS)
        with pytest.raises(ValueError):
            ledger.account_id(AccountKind.PLATFORM_SALES, viewer)
