"""Property tests: any sequence of purchases, grants, gifts and cash-outs keeps the books.

Hypothesis drives the real services (coins, gifts, cash-outs) on a real SQLite database
with random sequences of operations — including retries with a used idempotency key,
decisions on requests already decided, gifts nobody can pay for — beside a plain model
of what every balance should be. After every step each person's balances equal the
model's, none is negative, and ``ledger.check()`` finds nothing.
"""

from __future__ import annotations

import pytest
from factories import make_admin, make_user
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule
from sqlalchemy import delete

from livelite.extensions import db
from livelite.models import (
    CashoutRequest,
    CoinRequest,
    GiftSend,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Live,
    Notification,
    Role,
    User,
)
from livelite.services import cashouts, coins, gifts, ledger, lives
from livelite.services.errors import DomainError
from livelite.services.settings import set_setting

VIEWERS = ("ann", "bob", "cat")
CREATORS = ("host1", "host2")
SHARE = 50
CASHOUT_MIN = 10


@pytest.fixture
def economy(app):
    with app.app_context():
        make_admin("boss")
        for name in VIEWERS:
            make_user(name)
        live_ids = []
        for name in CREATORS:
            host = make_user(name, role=Role.CREATOR)
            live_ids.append(lives.start_live(host, title=f"{name} live", visibility="public").id)
        set_setting("CREATOR_SHARE_PERCENT", SHARE)
        set_setting("CASHOUT_MIN_DIAMONDS", CASHOUT_MIN)
        catalogue = [(g.id, g.coins) for g in gifts.catalogue()][:4]
        packages = [(p.id, p.coins) for p in coins.active_packages()][:2]
    yield app, live_ids, catalogue, packages
    app.extensions["livelite.media"].shutdown()


def _user(name: str) -> User:
    return db.session.scalar(db.select(User).where(User.username == name))


def test_any_sequence_keeps_balances_and_ledger_right(economy):
    app, live_ids, catalogue, packages = economy

    class Books(RuleBasedStateMachine):
        coin_requests = Bundle("coin_requests")
        cashout_requests = Bundle("cashout_requests")
        gift_keys = Bundle("gift_keys")

        def __init__(self):
            super().__init__()
            self.ctx = app.app_context()
            self.ctx.push()
            for table in (GiftSend, CoinRequest, CashoutRequest, Notification, LedgerEntry):
                db.session.execute(delete(table))
            db.session.execute(delete(LedgerTransaction))
            db.session.execute(delete(LedgerAccount))
            db.session.commit()
            self.coins = dict.fromkeys(VIEWERS, 0)
            self.diamonds = dict.fromkeys(CREATORS, 0)
            self.held = dict.fromkeys(CREATORS, 0)
            self.keys = 0
            # Key → what the first send did, to check a retry changes nothing.
            self.sent: dict[str, tuple[str, int]] = {}

        def teardown(self):
            db.session.remove()
            self.ctx.pop()

        def _key(self) -> str:
            self.keys += 1
            return f"k{self.keys}"

        # -- coins ---------------------------------------------------------------------
        @rule(target=coin_requests, who=st.sampled_from(VIEWERS), package=st.sampled_from(packages))
        def request_coins(self, who, package):
            try:
                done = coins.request_coins(_user(who), package[0], "manual", self._key())
            except DomainError:  # too many pending
                db.session.rollback()
                return None
            return (done.request.id, who, package[1])

        @rule(request=consumes(coin_requests), approve=st.booleans(), twice=st.booleans())
        def decide_coins(self, request, approve, twice):
            if request is None:
                return
            request_id, who, amount = request
            admin = _user("boss")
            for attempt in range(2 if twice else 1):
                row = coins.get_request(request_id)
                try:
                    if approve:
                        coins.approve(admin, row)
                    else:
                        coins.reject(admin, row, "no")
                except DomainError:
                    db.session.rollback()
                    assert attempt == 1  # only the repeat may be refused
                    continue
                if approve:
                    self.coins[who] += amount

        @rule(who=st.sampled_from(VIEWERS), amount=st.integers(1, 400), repeat=st.booleans())
        def grant(self, who, amount, repeat):
            key = self._key()
            for _ in range(2 if repeat else 1):
                coins.grant(_user("boss"), who, amount, "class credits", key)
            self.coins[who] += amount

        # -- gifts ---------------------------------------------------------------------
        @rule(
            target=gift_keys,
            who=st.sampled_from(VIEWERS),
            live=st.sampled_from([0, 1]),
            gift=st.sampled_from(catalogue),
            quantity=st.integers(1, 5),
        )
        def send_gift(self, who, live, gift, quantity):
            key = self._key()
            host = CREATORS[live]
            cost = gift[1] * quantity
            try:
                gifts.send_gift(
                    db.session.get(Live, live_ids[live]), _user(who), _user(host).id, gift[0], quantity, key
                )
            except DomainError as exc:
                db.session.rollback()
                assert exc.code == "insufficient_funds" and self.coins[who] < cost
                return None
            assert self.coins[who] >= cost
            self.coins[who] -= cost
            self.diamonds[host] += cost * SHARE // 100
            self.sent[key] = (who, cost)
            return (key, who, live, gift, quantity)

        @rule(sent=gift_keys)
        def retry_gift(self, sent):
            if sent is None:
                return
            key, who, live, gift, quantity = sent
            again = gifts.send_gift(
                db.session.get(Live, live_ids[live]),
                _user(who),
                _user(CREATORS[live]).id,
                gift[0],
                quantity,
                key,
            )
            assert not again.created

        # -- cash-outs -----------------------------------------------------------------
        @rule(
            target=cashout_requests,
            who=st.sampled_from(CREATORS),
            share=st.integers(1, 100),
            retry=st.booleans(),
        )
        def request_cashout(self, who, share, retry):
            amount = max(CASHOUT_MIN, self.diamonds[who] * share // 100)
            key = self._key()
            try:
                row, created = cashouts.request_cashout(
                    _user(who), amount, "FR76 3000 6000 0112 3456 7890 189", key
                )
            except DomainError:
                db.session.rollback()
                # Refused: below the minimum, more than they have, or one is pending.
                assert amount > self.diamonds[who] or self.held[who] > 0
                return None
            assert created
            if retry:
                again, created_again = cashouts.request_cashout(
                    _user(who), amount, "FR76 3000 6000 0112 3456 7890 189", key
                )
                assert again.id == row.id and not created_again
            self.diamonds[who] -= amount
            self.held[who] += amount
            return (row.id, who, amount)

        @rule(
            request=consumes(cashout_requests),
            decision=st.sampled_from(["approve", "reject", "cancel"]),
            paid=st.booleans(),
        )
        def decide_cashout(self, request, decision, paid):
            if request is None:
                return
            request_id, who, amount = request
            admin = _user("boss")
            row = cashouts.get_request(request_id)
            if decision == "approve":
                cashouts.approve(admin, row)
                self.held[who] -= amount
                if paid:
                    cashouts.mark_paid(admin, cashouts.get_request(request_id), "transfer 42")
            elif decision == "reject":
                cashouts.reject(admin, row, "details do not match")
                self.held[who] -= amount
                self.diamonds[who] += amount
            else:
                cashouts.cancel(_user(who), row)
                self.held[who] -= amount
                self.diamonds[who] += amount
            # A second decision on a decided request moves nothing.
            with pytest.raises(DomainError):
                cashouts.reject(admin, cashouts.get_request(request_id), "again")
            db.session.rollback()

        # -- what must always hold -----------------------------------------------------
        @invariant()
        def balances_match_the_model(self):
            for name in VIEWERS:
                assert ledger.balance(_user(name)) == self.coins[name] >= 0
            for name in CREATORS:
                found = ledger.balances(_user(name))
                assert found["diamonds"] == self.diamonds[name] >= 0
                assert found["diamonds_held"] == self.held[name] >= 0

        @invariant()
        def ledger_is_balanced(self):
            assert ledger.check() == []

    Books.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    Books.TestCase().runTest()
