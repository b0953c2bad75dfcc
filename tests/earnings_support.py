"""Gifts received, for the earnings and cash-out tests: real ledger movements
(services.ledger.post, the same legs as a gift) with their GiftSend rows, so balances,
the ledger check and the earnings figures all agree. Needs an app context."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

from livelite.extensions import db
from livelite.models import AccountKind, Gift, GiftSend, Live, LiveStatus, TransactionType, User
from livelite.services import ledger
from livelite.services.ledger import Leg

_keys = itertools.count(1)


def make_gift(name: str = "Rose", coins: int = 10, icon: str = "rose.svg") -> Gift:
    gift = Gift(name=name, icon=icon, coins=coins)
    db.session.add(gift)
    db.session.commit()
    return gift


def make_live(host: User, title: str = "A live", started_at: datetime | None = None) -> Live:
    """An ended live of ``host`` (lives here only carry gifts)."""
    started_at = started_at or datetime.now(UTC)
    live = Live(
        host_id=host.id, title=title, status=LiveStatus.ENDED, started_at=started_at, ended_at=started_at
    )
    db.session.add(live)
    db.session.commit()
    return live


def grant(user: User, coins: int) -> None:
    ledger.post(
        TransactionType.GRANT,
        [
            Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -coins),
            Leg(ledger.account_id(AccountKind.COINS, user), coins),
        ],
        key=f"test-grant:{uuid.uuid4().hex}",
        reference="test",
    )
    db.session.commit()


def give(
    sender: User,
    receiver: User,
    gift: Gift,
    live: Live | None,
    quantity: int = 1,
    at: datetime | None = None,
    share_percent: int = 50,
) -> GiftSend:
    """``sender`` gets the coins and sends ``quantity`` × ``gift`` to ``receiver``: the
    coins leave, the receiver's share arrives as diamonds, the rest is the platform's."""
    coins = gift.coins * quantity
    grant(sender, coins)
    diamonds = coins * share_percent // 100
    legs = [Leg(ledger.account_id(AccountKind.COINS, sender), -coins)]
    if diamonds:
        legs.append(Leg(ledger.account_id(AccountKind.DIAMONDS, receiver), diamonds))
    if coins - diamonds:
        legs.append(Leg(ledger.account_id(AccountKind.PLATFORM_REVENUE), coins - diamonds))
    n = next(_keys)
    posted = ledger.post(
        TransactionType.GIFT, legs, key=f"test-gift:{uuid.uuid4().hex}", reference=f"test-gift:{n}"
    )
    send = GiftSend(
        live_id=live.id if live else None,
        gift_id=gift.id,
        sender_id=sender.id,
        receiver_id=receiver.id,
        quantity=quantity,
        coins=coins,
        diamonds=diamonds,
        transaction_id=posted.transaction.id,
    )
    if at is not None:
        send.created_at = at
    db.session.add(send)
    db.session.commit()
    return send


def earn(creator: User, diamonds: int, sender: User) -> None:
    """Give ``creator`` exactly ``diamonds`` more diamonds through one gift."""
    gift = make_gift("Bundle", coins=diamonds * 2, icon="rocket.svg")
    give(sender, creator, gift, None)
