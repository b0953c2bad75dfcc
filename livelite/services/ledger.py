"""The double-entry ledger: the only code that moves value or changes a balance.

``post`` writes one balanced transaction (its entries sum to zero) and moves the cached
balances in the same database transaction. Three rules make money safe without locks
held across requests:

* **Idempotency**: every transaction has a unique key chosen by the caller (a client's
  key for a gift, ``coin_request:<id>`` for an approval). Posting a key that exists
  returns the first transaction and moves nothing, even when two requests race: the
  unique index decides, and the loser reads the winner's row.
* **No overdraft**: a debit of a person's account is one conditional statement,
  ``UPDATE … SET balance = balance - n WHERE id = … AND balance >= n``. The database
  applies it atomically, so two gifts racing for the same coins cannot both pass; the
  loser gets ``InsufficientFunds`` and nothing of its transaction is kept. A check
  constraint on the table is the last line of defence.
* **Balanced**: ``post`` refuses legs that do not sum to zero, and ``check`` (the
  ``ledger-check`` command) recomputes every balance from the entries.

``post`` flushes and does not commit: the caller commits it together with its own rows
(the gift sent, the request approved), so either all of it is kept or none. When it
refuses (not enough funds) or finds its key already used, it has **rolled the session
back** — everything the caller wrote before is undone too, as a unit of work wants (no
savepoints: pysqlite's are unreliable). Callers must commit before anything that can yield to other green threads (an
emit, a network call): with SQLite a green thread that yields while holding the write
lock would make the others wait on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionType,
    User,
)
from livelite.models.base import utcnow
from livelite.models.economy import USER_KINDS
from livelite.services.errors import Conflict, DomainError, ValidationFailed

IDEMPOTENCY_KEY_MAX = 128


class InsufficientFunds(DomainError):
    """The account does not hold enough; nothing was moved."""

    status = 409

    def __init__(self, message: str, *, kind: AccountKind, needed: int, available: int):
        super().__init__(message)
        self.kind = kind
        self.needed = needed
        self.available = available


# -- accounts -----------------------------------------------------------------------
def _insert_ignore(values: dict) -> None:
    """Create an account row unless it exists (two first gifts may race to create it)."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(LedgerAccount).values(**values).on_conflict_do_nothing())


def account_id(kind: AccountKind, user: User | int | None = None) -> int:
    """The id of a person's account of this kind, or of the platform's, created if new.

    Platform accounts have no user; a unique index on (user_id, kind) does not stop two
    NULL user rows, so the platform's are looked up first and created once, ordered by id
    (the first one wins should two ever be made).
    """
    user_id = user.id if isinstance(user, User) else user
    if kind in USER_KINDS:
        if user_id is None:
            raise ValueError(f"{kind} needs a person")
        where = (LedgerAccount.user_id == user_id) & (LedgerAccount.kind == kind)
    else:
        if user_id is not None:
            raise ValueError(f"{kind} is a platform account")
        where = LedgerAccount.user_id.is_(None) & (LedgerAccount.kind == kind)
    found = db.session.scalar(select(LedgerAccount.id).where(where).order_by(LedgerAccount.id).limit(1))
    if found is not None:
        return found
    if kind in USER_KINDS:
        _insert_ignore({"kind": kind.value, "user_id": user_id, "balance": 0, "created_at": utcnow()})
    else:
        db.session.add(LedgerAccount(kind=kind, user_id=None, balance=0))
        db.session.flush()
    return db.session.scalar(select(LedgerAccount.id).where(where).order_by(LedgerAccount.id).limit(1))


def balance(user: User | int, kind: AccountKind = AccountKind.COINS) -> int:
    """A person's cached balance (0 when they have no account yet)."""
    user_id = user.id if isinstance(user, User) else user
    value = db.session.scalar(
        select(LedgerAccount.balance).where(LedgerAccount.user_id == user_id, LedgerAccount.kind == kind)
    )
    return int(value or 0)


def balances(user: User | int) -> dict[str, int]:
    """Coins, diamonds and held diamonds of one person."""
    user_id = user.id if isinstance(user, User) else user
    rows = db.session.execute(
        select(LedgerAccount.kind, LedgerAccount.balance).where(LedgerAccount.user_id == user_id)
    ).all()
    out = {kind.value: 0 for kind in USER_KINDS}
    for kind, value in rows:
        out[AccountKind(kind).value] = int(value)
    return out


# -- posting ------------------------------------------------------------------------
@dataclass(frozen=True)
class Leg:
    account_id: int
    amount: int


@dataclass(frozen=True)
class Posted:
    transaction: LedgerTransaction
    # False when the idempotency key had been used: nothing moved this time.
    created: bool


def _existing(key: str) -> LedgerTransaction | None:
    return db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))


def _same(tx: LedgerTransaction, type_: TransactionType, legs: list[Leg]) -> bool:
    theirs = sorted((e.account_id, e.amount) for e in tx.entries)
    return tx.type == type_ and theirs == sorted((leg.account_id, leg.amount) for leg in legs)


def check_key(key: str | None) -> str:
    """A client's idempotency key, checked: 1–128 printable characters."""
    # Whatever a client sent: only a string can be a key (a JSON true or 5 is not).
    text = key.strip() if isinstance(key, str) else ""
    if not text or len(text) > IDEMPOTENCY_KEY_MAX or not text.isprintable():
        raise ValidationFailed(
            {
                "idempotency_key": [
                    _("Send an idempotency key of 1 to %(max)d characters.", max=IDEMPOTENCY_KEY_MAX)
                ]
            }
        )
    return text


def post(
    type_: TransactionType,
    legs: list[Leg],
    *,
    key: str,
    reference: str,
    memo: str = "",
    created_by: User | None = None,
) -> Posted:
    """Write one balanced transaction and move the balances; see the module docstring.

    Raises ``InsufficientFunds`` if a person's account would go below zero, and
    ``Conflict`` if the key was already used for a different movement (a client reusing
    a key for another gift); both after rolling the session back. Does not commit.
    """
    if not legs or any(not isinstance(leg.amount, int) or leg.amount == 0 for leg in legs):
        raise ValueError("every leg needs a non-zero whole amount")
    if sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"unbalanced transaction: {legs}")
    key = check_key(key)

    existing = _existing(key)
    if existing is not None:
        if not _same(existing, type_, legs):
            db.session.rollback()
            raise Conflict(_("This idempotency key was already used for a different operation."))
        return Posted(existing, False)

    tx = LedgerTransaction(
        type=type_,
        reference=reference[:64],
        idempotency_key=key,
        memo=memo[:200],
        created_by_id=created_by.id if created_by is not None else None,
    )
    db.session.add(tx)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request posted the same key between our look and our insert.
        db.session.rollback()
        existing = _existing(key)
        if existing is None:
            raise
        if not _same(existing, type_, legs):
            raise Conflict(_("This idempotency key was already used for a different operation.")) from None
        return Posted(existing, False)
    try:
        # In account order: on PostgreSQL each update locks its row until the commit,
        # and two postings sharing accounts (two gifts to one host, split differently
        # between the host and the platform) must take those locks in the same order,
        # or each waits for the other until the server aborts one as a deadlock.
        for leg in sorted(legs, key=lambda leg: leg.account_id):
            _move(leg)
    except InsufficientFunds:
        db.session.rollback()
        raise
    db.session.add_all(
        LedgerEntry(transaction_id=tx.id, account_id=leg.account_id, amount=leg.amount) for leg in legs
    )
    db.session.flush()
    return Posted(tx, True)


def _move(leg: Leg) -> None:
    """Change one cached balance; a person's account never goes below zero."""
    stmt = update(LedgerAccount).where(LedgerAccount.id == leg.account_id)
    if leg.amount < 0:
        stmt = stmt.where(
            (LedgerAccount.balance >= -leg.amount) | LedgerAccount.kind.notin_([k.value for k in USER_KINDS])
        )
    result = db.session.execute(
        stmt.values(balance=LedgerAccount.balance + leg.amount).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        account = db.session.get(LedgerAccount, leg.account_id)
        if account is None:
            raise ValueError(f"no ledger account {leg.account_id}")
        db.session.refresh(account)
        raise InsufficientFunds(
            _("Not enough coins.") if account.kind == AccountKind.COINS else _("Not enough diamonds."),
            kind=account.kind,
            needed=-leg.amount,
            available=int(account.balance),
        )
    # Objects already loaded in this session must not show the old balance.
    account = db.session.identity_map.get(identity_key(LedgerAccount, leg.account_id))
    if account is not None:
        db.session.expire(account, ["balance"])


# -- reconciling --------------------------------------------------------------------
@dataclass(frozen=True)
class Mismatch:
    what: str
    detail: str


def check() -> list[Mismatch]:
    """Everything that does not add up: unbalanced transactions, balances that differ
    from their entries, negative balances of people. Empty means the books are right."""
    problems: list[Mismatch] = []
    unbalanced = db.session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount) != 0)
    ).all()
    for tx_id, total in unbalanced:
        problems.append(Mismatch("unbalanced", f"transaction {tx_id} sums to {total}"))
    empty = db.session.scalars(select(LedgerTransaction.id).where(~LedgerTransaction.entries.any())).all()
    for tx_id in empty:
        problems.append(Mismatch("empty", f"transaction {tx_id} has no entries"))

    sums = dict(
        db.session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.account_id)
        ).all()
    )
    for account in db.session.scalars(select(LedgerAccount).order_by(LedgerAccount.id)):
        expected = int(sums.get(account.id) or 0)
        who = f"user {account.user_id}" if account.user_id is not None else "platform"
        if int(account.balance) != expected:
            problems.append(
                Mismatch(
                    "balance",
                    f"account {account.id} ({who}, {account.kind.value}): cached {account.balance}, "
                    f"entries sum to {expected}",
                )
            )
        if account.kind in USER_KINDS and expected < 0:
            problems.append(
                Mismatch("negative", f"account {account.id} ({who}, {account.kind.value}): {expected}")
            )
    total = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))
    if int(total) != 0:
        problems.append(Mismatch("total", f"all entries sum to {total}"))
    return problems
