"""Coins: the packages on sale, buying them through a payment provider, admins' grants,
and what a person's wallet shows.

A purchase is a ``CoinRequest``. Its payment provider decides what happens next: the
built-in "manual" provider leaves it pending until an admin approves it (the person
paid them some other way: cash, a transfer, a class fee) or rejects it with a note; the
"test" provider, offered only when the site runs in demo mode, approves it at once and
charges nothing. An approval is one ledger movement, ``purchase``: the platform's sales
account −n, the person's coins +n, under the key ``coin_request:<id>``, so whatever
retries it credits once. Admins may also grant coins outright (class credits, community
rewards): a ``grant`` movement from the platform's grants account.

Coins buy gifts and nothing else, so only people who may send gifts (policy:
GIFT_MIN_AGE, not banned) may buy them or be granted them.

Every change a double click could repeat carries a key: a request's key from the
client (the same key is the same request), a grant's key from the admin's form. Admins'
decisions are conditional updates: two admins deciding at once decide once, and the
second is told it was already decided.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from flask import current_app
from flask_babel import format_currency, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    CashoutRequest,
    CoinPackage,
    CoinRequest,
    CoinRequestStatus,
    GiftSend,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Live,
    TransactionType,
    User,
)
from livelite.models.base import utcnow
from livelite.services import ledger, notifications, policy
from livelite.services.access import admin_ids
from livelite.services.admin import require_admin
from livelite.services.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from livelite.services.ledger import Leg
from livelite.services.settings import get_setting

COINS_MIN = 1
COINS_MAX = 1_000_000
PRICE_MIN_CENTS = 0
PRICE_MAX_CENTS = 1_000_000
# Requests waiting for an admin, per person: enough for a change of mind, not a flood.
MAX_PENDING = 5
NOTE_MAX = 500
MEMO_MAX = 200  # LedgerTransaction.memo

# What an empty table of packages becomes on its first read (coins, price in cents).
DEFAULT_PACKAGES = ((70, 99), (350, 499), (700, 999), (1400, 1999), (3500, 4999))

TYPE_LABELS = {
    TransactionType.PURCHASE: _l("Coins bought"),
    TransactionType.GRANT: _l("Coins granted"),
    TransactionType.GIFT: _l("Gift"),
    TransactionType.CASHOUT_HOLD: _l("Cash-out requested"),
    TransactionType.CASHOUT_RELEASE: _l("Cash-out returned"),
    TransactionType.CASHOUT_PAYOUT: _l("Cash-out paid"),
}
ACCOUNT_LABELS = {
    AccountKind.COINS: _l("Coins"),
    AccountKind.DIAMONDS: _l("Diamonds"),
    AccountKind.DIAMONDS_HELD: _l("Held diamonds"),
}


def money(cents: int, currency: str | None = None) -> str:
    """A price in the reader's language, e.g. "€4.99" or "4,99 €"."""
    return format_currency(Decimal(cents) / 100, currency or current_app.config["CURRENCY"])


# -- payment providers --------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What a provider made of a new request."""

    status: Literal["pending", "approved", "rejected"]
    # The provider's own reference (a payment id), stored on the request.
    reference: str | None = None
    # A pending request that an admin must decide (the admins are told).
    needs_admin: bool = False
    # Stored as the request's note on an approval or rejection by the provider.
    note: str = ""


@runtime_checkable
class PaymentProvider(Protocol):
    """A way to pay for coins. ``start`` is called once per new request, after the
    pending request is committed (so it may talk to the network)."""

    name: str  # stored on CoinRequest.provider (16 characters at most)

    @property
    def label(self) -> str:
        """What the person chooses, in their language."""

    def available(self) -> bool:
        """Whether the site offers it now."""

    def start(self, request: CoinRequest) -> Outcome: ...


class ManualProvider:
    """The built-in provider: an admin approves once paid in some other way."""

    name = "manual"

    @property
    def label(self) -> str:
        return _("Ask an admin (they approve once you have paid them)")

    def available(self) -> bool:
        return True

    def start(self, request: CoinRequest) -> Outcome:
        return Outcome("pending", needs_admin=True)


class TestProvider:
    """Demo mode only: a test card that is "charged" at once; no money moves."""

    name = "test"

    @property
    def label(self) -> str:
        return _("Test payment (demo mode: nothing is charged)")

    def available(self) -> bool:
        return bool(current_app.config.get("DEMO_MODE"))

    def start(self, request: CoinRequest) -> Outcome:
        return Outcome("approved", reference=f"test-{request.id}", note=_("Test payment (demo mode)."))


PROVIDERS: tuple[PaymentProvider, ...] = (ManualProvider(), TestProvider())


def providers() -> list[PaymentProvider]:
    """The providers a person may choose now, the default first."""
    return [p for p in PROVIDERS if p.available()]


def get_provider(name: str | None) -> PaymentProvider:
    name = (name or "manual").strip()
    for provider in PROVIDERS:
        if provider.name == name:
            if not provider.available():
                if name == "test":
                    raise ValidationFailed(
                        {"provider": [_("Test payments are only possible when the site runs in demo mode.")]}
                    )
                raise ValidationFailed({"provider": [_("This payment method is not offered now.")]})
            return provider
    raise ValidationFailed({"provider": [_("Unknown payment method.")]})


# -- packages ---------------------------------------------------------------------
def _seed_packages() -> None:
    """Fill an empty table with DEFAULT_PACKAGES, once even if two first reads race.

    Packages are retired, never deleted, so an empty table was never seeded. The rows
    get ids 1..n: a second seeder's rows collide with the first's and are ignored.
    """
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    currency = current_app.config["CURRENCY"]
    now = utcnow()
    rows = [
        {"id": i, "coins": c, "price_cents": p, "currency": currency, "active": True, "created_at": now}
        for i, (c, p) in enumerate(DEFAULT_PACKAGES, start=1)
    ]
    db.session.execute(dialect_insert(CoinPackage).values(rows).on_conflict_do_nothing())
    if dialect == "postgresql":
        # Explicit ids do not move the sequence; the next package must not reuse one.
        db.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('coin_packages', 'id'), (SELECT max(id) FROM coin_packages))"
            )
        )
    db.session.commit()


def _ensure_packages() -> None:
    if db.session.scalar(select(CoinPackage.id).limit(1)) is None:
        _seed_packages()


def active_packages() -> list[CoinPackage]:
    """The packages on sale, fewest coins first (seeded on the very first read)."""
    _ensure_packages()
    return list(
        db.session.scalars(
            select(CoinPackage)
            .where(CoinPackage.active.is_(True))
            .order_by(CoinPackage.coins, CoinPackage.id)
        )
    )


def all_packages(admin: User) -> list[CoinPackage]:
    """Every package for admins: on sale first, then retired ones."""
    require_admin(admin)
    _ensure_packages()
    return list(
        db.session.scalars(
            select(CoinPackage).order_by(CoinPackage.active.desc(), CoinPackage.coins, CoinPackage.id)
        )
    )


def get_package(package_id: int) -> CoinPackage:
    row = db.session.get(CoinPackage, package_id)
    if row is None:
        raise NotFound(_("No such coin package."))
    return row


def _whole(value, low: int, high: int, name: str, message: str) -> int:
    """A whole number from an int or a form's digits, within [low, high]."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
        number = int(value.strip())
    if number is None or not (low <= number <= high):
        raise ValidationFailed({name: [message]})
    return number


def _check_coins(value, name: str = "coins") -> int:
    return _whole(
        value,
        COINS_MIN,
        COINS_MAX,
        name,
        _(
            "Give a whole number of coins from %(low)s to %(high)s.",
            low=COINS_MIN,
            high=format_decimal(COINS_MAX),
        ),
    )


def _check_price(value) -> int:
    return _whole(
        value,
        PRICE_MIN_CENTS,
        PRICE_MAX_CENTS,
        "price_cents",
        _("Give a price from %(low)s to %(high)s.", low=money(PRICE_MIN_CENTS), high=money(PRICE_MAX_CENTS)),
    )


def package_errors(coins=None, price_cents=None) -> dict[str, list[str]]:
    """What is wrong with these values (those given), by field; empty if nothing."""
    errors: dict[str, list[str]] = {}
    for check, value in ((_check_coins, coins), (_check_price, price_cents)):
        if value is None:
            continue
        try:
            check(value)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    return errors


def create_package(admin: User, coins, price_cents) -> CoinPackage:
    """A new package on sale, in the site's currency."""
    require_admin(admin)
    _ensure_packages()
    errors = package_errors(
        coins if coins is not None else "", price_cents if price_cents is not None else ""
    )
    if errors:
        raise ValidationFailed(errors)
    row = CoinPackage(
        coins=_check_coins(coins),
        price_cents=_check_price(price_cents),
        currency=current_app.config["CURRENCY"],
        active=True,
    )
    db.session.add(row)
    db.session.commit()
    return row


def update_package(
    admin: User, package: CoinPackage, *, coins=None, price_cents=None, active: bool | None = None
) -> CoinPackage:
    """Change a package's coins or price, retire it or put it back on sale.

    Requests already made keep the coins and price they were made with.
    """
    require_admin(admin)
    errors = package_errors(coins, price_cents)
    if errors:
        raise ValidationFailed(errors)
    if coins is not None:
        package.coins = _check_coins(coins)
    if price_cents is not None:
        package.price_cents = _check_price(price_cents)
    if active is not None:
        package.active = bool(active)
    db.session.commit()
    return package


# -- who may buy --------------------------------------------------------------------
def purchase_refusal(user: User) -> DomainError | None:
    """Why this person may not buy coins (nor be granted any), or None if they may.

    Coins only buy gifts, so the rule is policy.may_send_gifts: not banned, at least
    GIFT_MIN_AGE.
    """
    decision = policy.may_send_gifts(user)
    if decision:
        return None
    if user.is_banned:
        return PermissionDenied(_("Your account is banned: you cannot buy coins."))
    return PermissionDenied(
        _(
            "Coins are only for sending gifts, which needs you to be at least %(age)s.",
            age=get_setting("GIFT_MIN_AGE"),
        )
    )


# -- requests -----------------------------------------------------------------------
def _by_key(user: User, key: str) -> CoinRequest | None:
    return db.session.scalar(
        select(CoinRequest).where(CoinRequest.user_id == user.id, CoinRequest.idempotency_key == key)
    )


def _pending_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(CoinRequest)
        .where(CoinRequest.user_id == user_id, CoinRequest.status == CoinRequestStatus.PENDING)
    )


def _too_many() -> Conflict:
    return Conflict(
        _(
            "You already have %(n)s requests waiting for an admin. Cancel one or wait for an answer.",
            n=MAX_PENDING,
        )
    )


@dataclass(frozen=True)
class Requested:
    request: CoinRequest
    # False when the key had been used: this is the first request, unchanged.
    created: bool


def request_coins(
    user: User, package_id: int, provider: str | None = "manual", idempotency_key: str | None = None
) -> Requested:
    """Ask for a package through a payment provider; the same key twice is the same request.

    The pending request is committed first, then the provider starts: the manual one
    leaves it for the admins (each is told), the test one approves it at once.
    """
    key = ledger.check_key(idempotency_key)
    provider_name = (provider or "manual").strip()
    first = _by_key(user, key)
    if first is not None:
        return _same_request(first, package_id, provider_name)
    problem = purchase_refusal(user)
    if problem is not None:
        raise problem
    chosen = get_provider(provider_name)
    package = db.session.get(CoinPackage, package_id) if isinstance(package_id, int) else None
    if package is None or not package.active:
        raise ValidationFailed({"package_id": [_("This package is not on sale. Choose another one.")]})
    if _pending_count(user.id) >= MAX_PENDING:
        raise _too_many()
    row = CoinRequest(
        user_id=user.id,
        package_id=package.id,
        coins=package.coins,
        price_cents=package.price_cents,
        currency=package.currency,
        provider=chosen.name,
        status=CoinRequestStatus.PENDING,
        idempotency_key=key,
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        # The same key, sent twice at once: the other one made the request.
        db.session.rollback()
        first = _by_key(user, key)
        if first is None:
            raise
        return _same_request(first, package_id, provider_name)
    # Counted again with ours in: two requests racing past the first count stop here.
    if _pending_count(user.id) > MAX_PENDING:
        db.session.rollback()
        raise _too_many()
    db.session.commit()

    outcome = chosen.start(row)
    if outcome.reference:
        row.provider_reference = outcome.reference[:128]
        db.session.commit()
    if outcome.status == "approved":
        _approve(row, None, outcome.note)
    elif outcome.status == "rejected":
        _reject(row, None, outcome.note or _("The payment was refused."))
    elif outcome.needs_admin:
        notifications.notify(
            admin_ids(),
            "coin_request",
            f"coin-req:{row.id}",
            actor=user,
            data={"coins": row.coins, "price_cents": row.price_cents, "currency": row.currency},
        )
    return Requested(row, True)


def _same_request(first: CoinRequest, package_id, provider_name: str) -> Requested:
    if first.package_id != package_id or first.provider != provider_name:
        raise Conflict(_("This idempotency key was already used for a different request."))
    return Requested(first, False)


def get_request(request_id: int) -> CoinRequest:
    row = db.session.get(CoinRequest, request_id)
    if row is None:
        raise NotFound(_("No such coin request."))
    return row


def get_own_request(user: User, request_id: int) -> CoinRequest:
    row = db.session.get(CoinRequest, request_id)
    if row is None or row.user_id != user.id:
        raise NotFound(_("No such coin request."))
    return row


def _already(row: CoinRequest) -> Conflict:
    """The Conflict for a request that is no longer pending, saying what it became."""
    db.session.refresh(row)
    messages = {
        CoinRequestStatus.APPROVED: _("This coin request was already approved."),
        CoinRequestStatus.REJECTED: _("This coin request was already rejected."),
        CoinRequestStatus.CANCELLED: _("This coin request was cancelled."),
    }
    return Conflict(messages.get(row.status, _("This coin request was already decided.")))


def _decide(row: CoinRequest, status: CoinRequestStatus, admin: User | None, note: str) -> bool:
    """Move a pending request to ``status``; False when someone else moved it first."""
    changed = db.session.execute(
        update(CoinRequest)
        .where(CoinRequest.id == row.id, CoinRequest.status == CoinRequestStatus.PENDING)
        .values(status=status, note=note, decided_by_id=admin.id if admin else None, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return changed == 1


def _approve(row: CoinRequest, admin: User | None, note: str = "") -> CoinRequest:
    if not _decide(row, CoinRequestStatus.APPROVED, admin, note):
        db.session.rollback()
        raise _already(row)
    posted = ledger.post(
        TransactionType.PURCHASE,
        [
            Leg(ledger.account_id(AccountKind.PLATFORM_SALES), -row.coins),
            Leg(ledger.account_id(AccountKind.COINS, row.user_id), row.coins),
        ],
        key=f"coin_request:{row.id}",
        reference=f"coin_request:{row.id}",
        memo=note,
        created_by=admin,
    )
    db.session.execute(
        update(CoinRequest)
        .where(CoinRequest.id == row.id)
        .values(transaction_id=posted.transaction.id)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(row)
    return row


def _reject(row: CoinRequest, admin: User | None, note: str) -> CoinRequest:
    if not _decide(row, CoinRequestStatus.REJECTED, admin, note):
        db.session.rollback()
        raise _already(row)
    db.session.commit()
    db.session.refresh(row)
    return row


def _clean_note(note: str | None, *, required: bool) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [_("The note is too long: %(n)s characters at most.", n=NOTE_MAX)]})
    if required and not note:
        raise ValidationFailed({"note": [_("Say why you reject it: the person reads your note.")]})
    return note


def approve(admin: User, row: CoinRequest, note: str = "") -> CoinRequest:
    """Approve a pending request: the coins are credited once, the person is told.

    A second approval (another admin, a retry, a double click) is a Conflict and moves
    nothing.
    """
    require_admin(admin)
    note = _clean_note(note, required=False)
    if row.status != CoinRequestStatus.PENDING:
        raise _already(row)
    person = row.user
    if person is None:
        raise Conflict(_("This account was deleted: reject the request instead."))
    if person.is_banned:
        raise Conflict(_("@%(u)s is banned: reject the request instead.", u=person.username))
    _approve(row, admin, note)
    notifications.notify(
        [row.user_id],
        "coins_approved",
        f"coin-req:{row.id}:decided",
        actor=admin,
        data={"coins": row.coins, "note": note},
    )
    return row


def reject(admin: User, row: CoinRequest, note: str) -> CoinRequest:
    """Reject a pending request with a note the person reads; nothing is credited."""
    require_admin(admin)
    note = _clean_note(note, required=True)
    if row.status != CoinRequestStatus.PENDING:
        raise _already(row)
    _reject(row, admin, note)
    notifications.notify(
        [row.user_id],
        "coins_rejected",
        f"coin-req:{row.id}:decided",
        actor=admin,
        data={"coins": row.coins, "note": note},
    )
    return row


def decide(admin: User, row: CoinRequest, decision: str, note: str = "") -> CoinRequest:
    if decision == "approve":
        return approve(admin, row, note)
    if decision == "reject":
        return reject(admin, row, note)
    raise ValidationFailed({"decision": [_("Choose Approve or Reject.")]})


def cancel(user: User, row: CoinRequest) -> CoinRequest:
    """The person takes back their own pending request."""
    if row.user_id != user.id:
        raise NotFound(_("No such coin request."))
    changed = db.session.execute(
        update(CoinRequest)
        .where(
            CoinRequest.id == row.id,
            CoinRequest.user_id == user.id,
            CoinRequest.status == CoinRequestStatus.PENDING,
        )
        .values(status=CoinRequestStatus.CANCELLED, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        db.session.rollback()
        raise _already(row)
    db.session.commit()
    db.session.refresh(row)
    return row


# -- grants -------------------------------------------------------------------------
@dataclass(frozen=True)
class Granted:
    transaction: LedgerTransaction
    user: User
    coins: int
    # False when the key had been used: nothing moved this time.
    created: bool


def _grant_key(key: str) -> str:
    full = f"grant:{key}"
    if len(full) <= ledger.IDEMPOTENCY_KEY_MAX:
        return full
    return "grant:" + hashlib.sha256(key.encode()).hexdigest()


def grant(admin: User, username: str, coins, memo: str, idempotency_key: str | None) -> Granted:
    """Give coins to a person (class credits, community rewards), with a reason they read.

    The key makes a resubmitted form or a retried call grant once.
    """
    require_admin(admin)
    errors: dict[str, list[str]] = {}
    name = (username or "").strip().lstrip("@").lower()
    person = db.session.scalar(select(User).where(User.username == name)) if name else None
    if person is None:
        errors["username"] = [_("No account is called @%(u)s.", u=name) if name else _("Give a username.")]
    else:
        problem = purchase_refusal(person)
        if problem is not None:
            errors["username"] = [
                _("@%(u)s is banned: they cannot have coins.", u=person.username)
                if person.is_banned
                else _(
                    "@%(u)s cannot use coins: sending gifts needs them to be at least %(age)s.",
                    u=person.username,
                    age=get_setting("GIFT_MIN_AGE"),
                )
            ]
    try:
        coins = _check_coins(coins)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    memo = " ".join((memo or "").split())
    if not memo:
        errors["memo"] = [_("Say why: the person reads the reason.")]
    elif len(memo) > MEMO_MAX:
        errors["memo"] = [_("The reason is too long: %(n)s characters at most.", n=MEMO_MAX)]
    try:
        key = ledger.check_key(idempotency_key)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    ledger_key = _grant_key(key)
    posted = ledger.post(
        TransactionType.GRANT,
        [
            Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -coins),
            Leg(ledger.account_id(AccountKind.COINS, person), coins),
        ],
        key=ledger_key,
        reference=f"grant:{person.id}",
        memo=memo,
        created_by=admin,
    )
    db.session.commit()
    tx = posted.transaction
    if posted.created:
        notifications.notify(
            [person.id], "coins_granted", f"grant:{tx.id}", actor=admin, data={"coins": coins, "memo": memo}
        )
    return Granted(tx, person, coins, posted.created)


def recent_grants(admin: User, limit: int = 10) -> list[tuple[LedgerTransaction, User | None, int]]:
    """The latest grants: the transaction, who got it, how many coins."""
    require_admin(admin)
    rows = db.session.execute(
        select(LedgerTransaction, LedgerAccount.user_id, LedgerEntry.amount)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerTransaction.type == TransactionType.GRANT, LedgerAccount.kind == AccountKind.COINS)
        .order_by(LedgerTransaction.id.desc())
        .limit(limit)
    ).all()
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({r[1] for r in rows})))}
    return [(tx, people.get(uid), int(amount)) for tx, uid, amount in rows]


# -- reading requests -----------------------------------------------------------------
def requests_of(user: User, limit: int = 20) -> list[CoinRequest]:
    """The person's own requests: pending ones first, then the latest."""
    is_pending = CoinRequest.status == CoinRequestStatus.PENDING
    return list(
        db.session.scalars(
            select(CoinRequest)
            .where(CoinRequest.user_id == user.id)
            .order_by(is_pending.desc(), CoinRequest.created_at.desc(), CoinRequest.id.desc())
            .limit(limit)
        )
    )


def requests_of_query(user: User):
    """The person's requests newest first (a statement, for db.paginate)."""
    return (
        select(CoinRequest)
        .where(CoinRequest.user_id == user.id)
        .order_by(CoinRequest.created_at.desc(), CoinRequest.id.desc())
    )


def pending_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(CoinRequest).where(CoinRequest.status == CoinRequestStatus.PENDING)
    )


def queue_query(admin: User, status: CoinRequestStatus | None = None):
    """Requests for admins: pending ones oldest first (whoever waited longest is answered
    first), decided ones latest decision first; ``None``: pending first, then the rest."""
    require_admin(admin)
    stmt = select(CoinRequest).options(joinedload(CoinRequest.user), joinedload(CoinRequest.decided_by))
    if status is None:
        is_pending = CoinRequest.status == CoinRequestStatus.PENDING
        return stmt.order_by(
            is_pending.desc(),
            case((is_pending, CoinRequest.created_at)).asc(),
            CoinRequest.decided_at.desc(),
            CoinRequest.id.desc(),
        )
    stmt = stmt.where(CoinRequest.status == status)
    if status == CoinRequestStatus.PENDING:
        return stmt.order_by(CoinRequest.created_at, CoinRequest.id)
    return stmt.order_by(CoinRequest.decided_at.desc(), CoinRequest.id.desc())


def pending_requests(admin: User) -> list[CoinRequest]:
    return list(db.session.scalars(queue_query(admin, CoinRequestStatus.PENDING)).unique())


def decided_query(admin: User):
    """Approved and rejected requests, the latest decision first (cancelled ones are the
    person's business)."""
    require_admin(admin)
    return (
        select(CoinRequest)
        .options(joinedload(CoinRequest.user), joinedload(CoinRequest.decided_by))
        .where(CoinRequest.status.in_([CoinRequestStatus.APPROVED, CoinRequestStatus.REJECTED]))
        .order_by(CoinRequest.decided_at.desc(), CoinRequest.id.desc())
    )


# -- the wallet's history ------------------------------------------------------------
@dataclass
class HistoryItem:
    """One entry of one of the person's accounts, with what it was about."""

    entry: LedgerEntry
    transaction: LedgerTransaction
    kind: AccountKind
    amount: int
    gift_send: GiftSend | None = None
    coin_request: CoinRequest | None = None
    cashout: CashoutRequest | None = None
    granted_by: User | None = None
    live: Live | None = None

    @property
    def type_label(self) -> str:
        return str(TYPE_LABELS.get(self.transaction.type, self.transaction.type.value))

    @property
    def account_label(self) -> str:
        return str(ACCOUNT_LABELS.get(self.kind, self.kind.value))


def history_query(user: User):
    """Entries of the person's accounts, newest first (a statement, for db.paginate)."""
    return (
        select(LedgerEntry)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.user_id == user.id)
        .options(joinedload(LedgerEntry.transaction), joinedload(LedgerEntry.account))
        .order_by(LedgerEntry.id.desc())
    )


def explain(entries: list[LedgerEntry]) -> list[HistoryItem]:
    """Attach to each entry the gift, request, cash-out or admin it came from."""
    tx_ids = {e.transaction_id for e in entries}
    if not tx_ids:
        return []
    sends = {
        s.transaction_id: s
        for s in db.session.scalars(
            select(GiftSend)
            .where(GiftSend.transaction_id.in_(tx_ids))
            .options(joinedload(GiftSend.gift), joinedload(GiftSend.sender), joinedload(GiftSend.receiver))
        )
    }
    requests = {
        r.transaction_id: r
        for r in db.session.scalars(select(CoinRequest).where(CoinRequest.transaction_id.in_(tx_ids)))
    }
    cashouts = {}
    for row in db.session.scalars(
        select(CashoutRequest).where(
            CashoutRequest.hold_transaction_id.in_(tx_ids) | CashoutRequest.settle_transaction_id.in_(tx_ids)
        )
    ):
        for tx_id in (row.hold_transaction_id, row.settle_transaction_id):
            if tx_id is not None:
                cashouts[tx_id] = row
    admins_ids = {
        e.transaction.created_by_id
        for e in entries
        if e.transaction.type == TransactionType.GRANT and e.transaction.created_by_id
    }
    admins = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(admins_ids)))}
    live_ids = {s.live_id for s in sends.values() if s.live_id}
    lives = {live.id: live for live in db.session.scalars(select(Live).where(Live.id.in_(live_ids)))}
    return [
        HistoryItem(
            entry=e,
            transaction=e.transaction,
            kind=e.account.kind,
            amount=int(e.amount),
            gift_send=sends.get(e.transaction_id),
            coin_request=requests.get(e.transaction_id),
            cashout=cashouts.get(e.transaction_id),
            granted_by=admins.get(e.transaction.created_by_id),
            live=lives.get(sends[e.transaction_id].live_id) if e.transaction_id in sends else None,
        )
        for e in entries
    ]


def wallet_summary(user: User) -> dict:
    """Balances plus whether the person may buy, for the page and the API."""
    figures = ledger.balances(user)
    refusal = purchase_refusal(user)
    return {
        **figures,
        "currency": current_app.config["CURRENCY"],
        "may_buy": refusal is None,
        "why_not": refusal.message if refusal else None,
        "pending_requests": _pending_count(user.id),
    }
