"""The gifts economy: a double-entry ledger, coin purchases, the gift catalogue, gifts
sent in lives, LIVE goals and cash-outs.

Every movement of value is a ``LedgerTransaction`` whose ``LedgerEntry`` amounts sum to
zero. Coins and diamonds are counted in the same unit (one diamond is worth what one
coin cost), so a gift of 100 coins is three entries in one transaction: the sender's
coins −100, the creator's diamonds +50, the platform's revenue +50. Balances are cached
on ``LedgerAccount.balance`` and changed only by ``services.ledger`` in the same database
transaction as the entries; ``flask --app app ledger-check`` proves the two agree.

Ledger rows are never deleted: accounts outlive the people who held them (``user_id``
becomes NULL when an account is deleted) so the books still balance.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livelite.extensions import db
from livelite.models.accounts import User
from livelite.models.base import UTCDateTime, utcnow


def _enum(cls, length: int = 24):
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class AccountKind(str, enum.Enum):
    """What an account holds. User accounts have a ``user_id``; platform ones do not."""

    COINS = "coins"  # a person's coins, spent on gifts
    DIAMONDS = "diamonds"  # a creator's diamonds, earned from gifts
    DIAMONDS_HELD = "diamonds_held"  # diamonds in a pending cash-out
    # Platform accounts (one each). Their balances are the other side of every movement:
    # coins sold (negative: what the platform issued for money), coins granted (issued
    # for nothing), the platform's share of gifts, and diamonds paid out as money.
    PLATFORM_SALES = "platform_sales"
    PLATFORM_GRANTS = "platform_grants"
    PLATFORM_REVENUE = "platform_revenue"
    PLATFORM_PAYOUTS = "platform_payouts"


USER_KINDS = (AccountKind.COINS, AccountKind.DIAMONDS, AccountKind.DIAMONDS_HELD)


class LedgerAccount(db.Model):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[AccountKind] = mapped_column(_enum(AccountKind))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The sum of this account's entries, kept in step by services.ledger. User accounts
    # can never go below zero: debits are conditional updates, and the check constraint
    # is the last line of defence.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "kind"),
        CheckConstraint(
            "balance >= 0 OR kind IN ('platform_sales', 'platform_grants', 'platform_revenue', "
            "'platform_payouts')",
            name="balance_not_negative",
        ),
    )


class TransactionType(str, enum.Enum):
    PURCHASE = "purchase"  # coins bought (a coin request approved or paid)
    GRANT = "grant"  # coins granted by an admin
    GIFT = "gift"  # coins → the receiver's diamonds + the platform's share
    CASHOUT_HOLD = "cashout_hold"  # diamonds → held, when a cash-out is requested
    CASHOUT_RELEASE = "cashout_release"  # held → diamonds, when it is rejected
    CASHOUT_PAYOUT = "cashout_payout"  # held → paid out, when it is approved


class LedgerTransaction(db.Model):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[TransactionType] = mapped_column(_enum(TransactionType))
    # What caused it, e.g. "gift_send:12", "coin_request:3", "cashout:7".
    reference: Mapped[str] = mapped_column(String(64))
    # Unique: a retry with the same key finds the first transaction instead of
    # moving the value twice.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    entries: Mapped[list[LedgerEntry]] = relationship(back_populates="transaction", order_by="LedgerEntry.id")


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    # Positive: value comes in; negative: value goes out.
    amount: Mapped[int] = mapped_column(BigInteger)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship()

    __table_args__ = (Index("ix_ledger_entries_account", "account_id", "id"),)


class Wallet(db.Model):
    """A person's gift preferences (created on first use)."""

    __tablename__ = "wallets"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # Creators may turn receiving gifts off.
    accepts_gifts: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CoinPackage(db.Model):
    """Coins for a price, as admins set them."""

    __tablename__ = "coin_packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    coins: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CoinRequestStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class CoinRequest(db.Model):
    """A purchase of coins through a payment provider.

    With the built-in provider ("manual") an admin approves or rejects it; the coins and
    price are copied from the package so a later price change does not alter it.
    """

    __tablename__ = "coin_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("coin_packages.id", ondelete="SET NULL"))
    coins: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str] = mapped_column(String(16), default="manual")
    # The provider's own reference (e.g. a payment id), when it has one.
    provider_reference: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[CoinRequestStatus] = mapped_column(
        _enum(CoinRequestStatus), default=CoinRequestStatus.PENDING, index=True
    )
    # The client's key: the same key twice is the same request.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(String(500), default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)


class GiftAnimation(str, enum.Enum):
    FLOAT = "float"  # rises beside the chat
    BURST = "burst"  # bursts over the video
    RAIN = "rain"  # falls across the video
    FULLSCREEN = "fullscreen"  # fills the player for a few seconds


class Gift(db.Model):
    """A gift of the catalogue. Retired gifts stay (old sends point at them)."""

    __tablename__ = "gifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    # A file under static/img/gifts/ (e.g. "rose.svg").
    icon: Mapped[str] = mapped_column(String(64))
    coins: Mapped[int] = mapped_column(Integer)
    animation: Mapped[GiftAnimation] = mapped_column(_enum(GiftAnimation, 16), default=GiftAnimation.FLOAT)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GiftSend(db.Model):
    """One gift sent in a live: who, to whom, for how much, and its ledger transaction."""

    __tablename__ = "gift_sends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    live_id: Mapped[int | None] = mapped_column(ForeignKey("lives.id", ondelete="SET NULL"))
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    receiver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    coins: Mapped[int] = mapped_column(Integer)  # quantity × the gift's cost at the time
    diamonds: Mapped[int] = mapped_column(Integer)  # the receiver's share
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offset_ms: Mapped[int] = mapped_column(Integer, default=0)

    gift: Mapped[Gift] = relationship()
    sender: Mapped[User | None] = relationship(foreign_keys=[sender_id])
    receiver: Mapped[User | None] = relationship(foreign_keys=[receiver_id])

    __table_args__ = (
        Index("ix_gift_sends_live", "live_id", "id"),
        Index("ix_gift_sends_receiver", "receiver_id", "id"),
        Index("ix_gift_sends_sender", "sender_id", "id"),
    )


class LiveGoal(db.Model):
    """The host's LIVE goal bar: coins of gifts received in this live toward a target."""

    __tablename__ = "live_goals"

    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id", ondelete="CASCADE"), primary_key=True)
    target_coins: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CashoutStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"  # the diamonds are paid out of the ledger; money still to send
    PAID = "paid"  # the money has been sent
    REJECTED = "rejected"  # the held diamonds went back
    CANCELLED = "cancelled"  # the creator took it back while pending; the diamonds went back


class CashoutRequest(db.Model):
    """A creator turning diamonds into money; the diamonds are held while it is pending."""

    __tablename__ = "cashout_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    diamonds: Mapped[int] = mapped_column(Integer)
    # The value at the rate of the day it was asked for.
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # Where to send the money (e.g. an IBAN or a PayPal address), as the creator typed it.
    payout_details: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[CashoutStatus] = mapped_column(
        _enum(CashoutStatus), default=CashoutStatus.PENDING, index=True
    )
    note: Mapped[str] = mapped_column(String(500), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    settle_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        # One pending request per person, held by the database too: two requests
        # with different keys racing each other cannot both wait.
        Index(
            "uq_cashout_requests_one_pending",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )
