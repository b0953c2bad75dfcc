"""Cash-outs: a creator turns diamonds into money; admins approve, reject or mark paid.

The creator asks for N diamonds (at least ``CASHOUT_MIN_DIAMONDS``, at most what they
hold) and says where to send the money. The diamonds are **held** at once, in the same
database transaction as the request (ledger: diamonds −N, held +N), so they cannot be
asked for twice nor spent while an admin looks. The money is fixed on that day:
``amount_cents = N × CASHOUT_CENTS_PER_100_DIAMONDS // 100`` (rounded down), in the
site's ``CURRENCY``.

Then one of:

* an admin **approves**: the held diamonds leave the ledger to the platform's payouts
  account (``approved`` means the money is still to send), and later **marks it
  paid** once the transfer is made, optionally with the payment's reference;
* an admin **rejects** it with a note the creator reads, or the creator **cancels** it
  while pending: the held diamonds go back.

Every decision is a conditional update (``… WHERE status = 'pending'``): two admins
clicking at once decide once, the other gets a Conflict saying what happened; and each
ledger movement has its own key (``cashout:<id>:hold|release|payout``), so a retry
never moves value twice. One pending request per person (a partial unique index holds
it when two requests race); the client's idempotency key makes a double submit return
the first request.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    CashoutRequest,
    CashoutStatus,
    LedgerEntry,
    TransactionType,
    User,
)
from livelite.models.base import utcnow
from livelite.services import coins, ledger, notifications, policy
from livelite.services.access import admin_ids
from livelite.services.admin import require_admin
from livelite.services.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from livelite.services.ledger import InsufficientFunds, Leg
from livelite.services.settings import get_setting
from livelite.services.spreadsheets import cell

PAYOUT_DETAILS_MIN = 3
PAYOUT_DETAILS_MAX = 200  # the column's size
NOTE_MAX = 500  # the column's size

STATUS_LABELS = {
    CashoutStatus.PENDING: _l("Pending"),
    CashoutStatus.APPROVED: _l("Approved, money to send"),
    CashoutStatus.PAID: _l("Paid"),
    CashoutStatus.REJECTED: _l("Rejected"),
    CashoutStatus.CANCELLED: _l("Cancelled"),
}


def status_label(status: CashoutStatus) -> str:
    return str(STATUS_LABELS[CashoutStatus(status)])


# -- the rate ---------------------------------------------------------------------------
def minimum() -> int:
    """The fewest diamonds a cash-out may ask for (site setting)."""
    return int(get_setting("CASHOUT_MIN_DIAMONDS"))


def rate() -> int:
    """What 100 diamonds are paid today, in cents of ``currency()`` (site setting)."""
    return int(get_setting("CASHOUT_CENTS_PER_100_DIAMONDS"))


def currency() -> str:
    return current_app.config["CURRENCY"]


def amount_cents(diamonds: int, cents_per_100: int | None = None) -> int:
    """The money for ``diamonds`` at today's rate (or the one given), rounded down to
    a whole cent: the platform never pays a fraction it does not have."""
    cents_per_100 = rate() if cents_per_100 is None else cents_per_100
    return max(0, int(diamonds)) * cents_per_100 // 100


def money(cents: int, currency_code: str | None = None) -> str:
    """Cents written as money in the reader's language (``€12.34``, ``12,34 €``)."""
    return coins.money(int(cents), currency_code or currency())


def diamonds_text(n: int) -> str:
    return format_decimal(int(n))


@dataclass(frozen=True)
class Quote:
    """What a page or the API tells a creator before they ask."""

    minimum: int
    cents_per_100: int
    currency: str
    diamonds: int  # available now
    held: int  # in a pending request

    @property
    def available_cents(self) -> int:
        return amount_cents(self.diamonds, self.cents_per_100)

    @property
    def held_cents(self) -> int:
        return amount_cents(self.held, self.cents_per_100)


def quote(user: User) -> Quote:
    balances = ledger.balances(user)
    return Quote(
        minimum=minimum(),
        cents_per_100=rate(),
        currency=currency(),
        diamonds=balances[AccountKind.DIAMONDS.value],
        held=balances[AccountKind.DIAMONDS_HELD.value],
    )


# -- asking -----------------------------------------------------------------------------
def pending_of(user: User) -> CashoutRequest | None:
    return db.session.scalar(
        select(CashoutRequest).where(
            CashoutRequest.user_id == user.id, CashoutRequest.status == CashoutStatus.PENDING
        )
    )


def _pending_conflict() -> Conflict:
    return Conflict(
        _(
            "You already have a cash-out waiting for an admin. You can have one at a time: "
            "cancel it to ask for another amount."
        )
    )


def refusal(user: User, today=None) -> DomainError | None:
    """Why this person may not ask for a cash-out now, or None if they may.

    Pages call it to choose between the form and an explanation. Too few diamonds is
    a refusal too (a ValidationFailed on ``diamonds``)."""
    decision = policy.may_receive_gifts(user, today)
    if not decision:
        return PermissionDenied(decision.reasons[0])
    if pending_of(user) is not None:
        return _pending_conflict()
    have = ledger.balance(user, AccountKind.DIAMONDS)
    if have < minimum():
        return ValidationFailed(
            {
                "diamonds": [
                    _(
                        "A cash-out is %(min)s diamonds at least; you have %(have)s.",
                        min=diamonds_text(minimum()),
                        have=diamonds_text(have),
                    )
                ]
            }
        )
    return None


def _by_key(user: User, key: str) -> CashoutRequest | None:
    return db.session.scalar(
        select(CashoutRequest).where(CashoutRequest.user_id == user.id, CashoutRequest.idempotency_key == key)
    )


def _replay(found: CashoutRequest, diamonds, payout_details) -> CashoutRequest:
    """The request a key already made, if this is the same request again."""
    if found.diamonds != diamonds or found.payout_details != (payout_details or "").strip():
        raise Conflict(_("This idempotency key was already used for another cash-out request."))
    return found


def _check_fields(user: User, diamonds, payout_details) -> tuple[int, str]:
    errors: dict[str, list[str]] = {}
    if isinstance(diamonds, bool) or not isinstance(diamonds, int):
        errors["diamonds"] = [_("Enter a whole number of diamonds.")]
    elif diamonds < minimum():
        errors["diamonds"] = [
            _("A cash-out is %(min)s diamonds at least.", min=diamonds_text(minimum())),
        ]
    else:
        have = ledger.balance(user, AccountKind.DIAMONDS)
        if diamonds > have:
            errors["diamonds"] = [
                _("You have %(have)s diamonds: ask for that many at most.", have=diamonds_text(have))
            ]
    details = (payout_details or "").strip() if isinstance(payout_details, str) else ""
    if not PAYOUT_DETAILS_MIN <= len(details) <= PAYOUT_DETAILS_MAX or not details.isprintable():
        errors["payout_details"] = [
            _(
                "Say where to send the money (an IBAN or a PayPal address, say) in %(min)s to %(max)s characters on one line.",
                min=PAYOUT_DETAILS_MIN,
                max=PAYOUT_DETAILS_MAX,
            )
        ]
    if errors:
        raise ValidationFailed(errors)
    return diamonds, details


def request_cashout(
    user: User,
    diamonds: int,
    payout_details: str,
    idempotency_key: str,
    now: datetime | None = None,
    today=None,
) -> tuple[CashoutRequest, bool]:
    """Ask for ``diamonds`` to be paid out; they are held at once. Returns the request
    and whether it is new: the same key again returns the first request (a double
    click, a retry after a lost answer) without holding anything twice.

    Raises PermissionDenied (banned, too young to receive gifts), Conflict (a request
    already pending, or the key used for another request), ValidationFailed
    (``diamonds`` below the minimum or above the balance, ``payout_details``).
    """
    key = ledger.check_key(idempotency_key)
    found = _by_key(user, key)
    if found is not None:
        return _replay(found, diamonds, payout_details), False
    decision = policy.may_receive_gifts(user, today)
    if not decision:
        raise PermissionDenied(decision.reasons[0])
    if pending_of(user) is not None:
        raise _pending_conflict()
    diamonds, details = _check_fields(user, diamonds, payout_details)

    row = CashoutRequest(
        user_id=user.id,
        diamonds=diamonds,
        amount_cents=amount_cents(diamonds),
        currency=currency(),
        payout_details=details,
        status=CashoutStatus.PENDING,
        note="",
        idempotency_key=key,
        created_at=now or utcnow(),
    )
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        # A request racing this one won: the same key (a double submit) or another
        # pending request (the one-pending index).
        db.session.rollback()
        found = _by_key(user, key)
        if found is not None:
            return _replay(found, diamonds, payout_details), False
        raise _pending_conflict() from None
    try:
        posted = ledger.post(
            TransactionType.CASHOUT_HOLD,
            [
                Leg(ledger.account_id(AccountKind.DIAMONDS, user), -diamonds),
                Leg(ledger.account_id(AccountKind.DIAMONDS_HELD, user), diamonds),
            ],
            key=f"cashout:{row.id}:hold",
            reference=f"cashout:{row.id}",
            memo=f"cash-out of {diamonds} diamonds",
            created_by=user,
        )
    except InsufficientFunds as exc:
        # Spent or held between the check and the hold; post rolled the request back.
        raise ValidationFailed(
            {
                "diamonds": [
                    _(
                        "You have %(have)s diamonds: ask for that many at most.",
                        have=diamonds_text(exc.available),
                    )
                ]
            }
        ) from None
    row.hold_transaction_id = posted.transaction.id
    db.session.commit()
    notifications.notify(
        admin_ids(),
        "cashout_requested",
        f"cashout:{row.id}:requested",
        actor=user,
        data=_news(row),
    )
    return row, True


def _news(row: CashoutRequest, note: str = "") -> dict:
    data = {
        "cashout_id": row.id,
        "diamonds": row.diamonds,
        "amount_cents": row.amount_cents,
        "currency": row.currency,
    }
    if note:
        data["note"] = note
    return data


# -- moving the held diamonds --------------------------------------------------------------
def _hold_accounts(row: CashoutRequest) -> tuple[int, int]:
    """(diamonds account, held account) of the request, read from its hold: they stay
    right when the person's account was deleted since (user_id then is NULL)."""
    if row.hold_transaction_id is not None:
        entries = db.session.execute(
            select(LedgerEntry.account_id, LedgerEntry.amount).where(
                LedgerEntry.transaction_id == row.hold_transaction_id
            )
        ).all()
        out = [a for a, amount in entries if amount < 0]
        into = [a for a, amount in entries if amount > 0]
        if len(out) == 1 and len(into) == 1:
            return out[0], into[0]
    return (
        ledger.account_id(AccountKind.DIAMONDS, row.user_id),
        ledger.account_id(AccountKind.DIAMONDS_HELD, row.user_id),
    )


def _release(row: CashoutRequest, actor: User) -> None:
    diamonds_account, held_account = _hold_accounts(row)
    posted = ledger.post(
        TransactionType.CASHOUT_RELEASE,
        [Leg(held_account, -row.diamonds), Leg(diamonds_account, row.diamonds)],
        key=f"cashout:{row.id}:release",
        reference=f"cashout:{row.id}",
        memo=f"cash-out {row.id} {row.status.value}",
        created_by=actor,
    )
    row.settle_transaction_id = posted.transaction.id


def _payout(row: CashoutRequest, actor: User) -> None:
    _diamonds_account, held_account = _hold_accounts(row)
    posted = ledger.post(
        TransactionType.CASHOUT_PAYOUT,
        [
            Leg(held_account, -row.diamonds),
            Leg(ledger.account_id(AccountKind.PLATFORM_PAYOUTS), row.diamonds),
        ],
        key=f"cashout:{row.id}:payout",
        reference=f"cashout:{row.id}",
        memo=f"cash-out {row.id} approved",
        created_by=actor,
    )
    row.settle_transaction_id = posted.transaction.id


def _already(row: CashoutRequest) -> Conflict:
    """What the loser of a race (or a second click) is told, from the fresh status."""
    db.session.refresh(row)
    messages = {
        CashoutStatus.PENDING: _("This cash-out is still pending: approve it before marking it paid."),
        CashoutStatus.APPROVED: _("This cash-out was already approved."),
        CashoutStatus.PAID: _("This cash-out was already paid."),
        CashoutStatus.REJECTED: _("This cash-out was already rejected."),
        CashoutStatus.CANCELLED: _("This cash-out was cancelled by the creator."),
    }
    return Conflict(messages[row.status])


def _settle(row: CashoutRequest, actor: User, status: CashoutStatus, note: str, now: datetime | None) -> None:
    """Move a pending request to ``status`` if it is still pending, then move its
    diamonds; both in one transaction, or a Conflict and nothing."""
    changed = db.session.execute(
        update(CashoutRequest)
        .where(CashoutRequest.id == row.id, CashoutRequest.status == CashoutStatus.PENDING)
        .values(status=status, note=note, decided_by_id=actor.id, decided_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        db.session.rollback()
        raise _already(row)
    db.session.refresh(row)
    if status == CashoutStatus.APPROVED:
        _payout(row, actor)
    else:
        _release(row, actor)
    db.session.commit()


def _check_note(note: str | None, *, required: str | None = None) -> str:
    note = (note or "").strip() if isinstance(note, str) else ""
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [_("The note is too long: %(n)s characters at most.", n=NOTE_MAX)]})
    if required and not note:
        raise ValidationFailed({"note": [required]})
    return note


def cancel(user: User, row: CashoutRequest, now: datetime | None = None) -> CashoutRequest:
    """The creator takes back their own pending request; the diamonds come back."""
    if row.user_id != user.id:
        raise NotFound(_("No such cash-out request."))
    _settle(row, user, CashoutStatus.CANCELLED, "", now)
    return row


# -- admins -----------------------------------------------------------------------------------
def approve(admin: User, row: CashoutRequest, note: str = "", now: datetime | None = None) -> CashoutRequest:
    """The held diamonds are paid out of the ledger; the money is still to send."""
    require_admin(admin)
    note = _check_note(note)
    _settle(row, admin, CashoutStatus.APPROVED, note, now)
    _tell(row, "cashout_approved", admin, note)
    return row


def reject(admin: User, row: CashoutRequest, note: str, now: datetime | None = None) -> CashoutRequest:
    """The held diamonds go back; the note (required) tells the creator why."""
    require_admin(admin)
    note = _check_note(note, required=_("Say why you reject it: the creator reads your note."))
    _settle(row, admin, CashoutStatus.REJECTED, note, now)
    _tell(row, "cashout_rejected", admin, note)
    return row


def mark_paid(
    admin: User, row: CashoutRequest, reference: str = "", now: datetime | None = None
) -> CashoutRequest:
    """An approved request whose money was sent; ``reference`` (the transfer's id,
    say) is added to the note."""
    require_admin(admin)
    reference = _check_note(reference)
    current = db.session.scalar(select(CashoutRequest.note).where(CashoutRequest.id == row.id)) or ""
    note = f"{current}\n{reference}" if current and reference else (reference or current)
    if len(note) > NOTE_MAX:
        raise ValidationFailed(
            {"note": [_("The note is too long: %(n)s characters at most.", n=NOTE_MAX - len(current) - 1)]}
        )
    changed = db.session.execute(
        update(CashoutRequest)
        .where(CashoutRequest.id == row.id, CashoutRequest.status == CashoutStatus.APPROVED)
        .values(status=CashoutStatus.PAID, paid_at=now or utcnow(), note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        db.session.rollback()
        raise _already(row)
    db.session.commit()
    db.session.refresh(row)
    _tell(row, "cashout_paid", admin, reference)
    return row


DECISIONS = ("approve", "reject", "paid")


def decide(admin: User, row: CashoutRequest, decision: str, note: str = "", now: datetime | None = None):
    """One of ``approve``, ``reject`` (note required) or ``paid`` (note: the payment's reference)."""
    require_admin(admin)
    if decision == "approve":
        return approve(admin, row, note, now)
    if decision == "reject":
        return reject(admin, row, note, now)
    if decision == "paid":
        return mark_paid(admin, row, note, now)
    raise ValidationFailed({"decision": [_("Choose Approve, Reject or Mark paid.")]})


def _tell(row: CashoutRequest, kind: str, admin: User, note: str = "") -> None:
    if row.user_id is None:
        return
    notifications.notify(
        [row.user_id],
        kind,
        f"cashout:{row.id}:{kind.removeprefix('cashout_')}",
        actor=admin,
        data=_news(row, note),
    )


# -- reading ------------------------------------------------------------------------------------
def get_request(request_id: int) -> CashoutRequest:
    row = db.session.get(CashoutRequest, request_id)
    if row is None:
        raise NotFound(_("No such cash-out request."))
    return row


def get_own(user: User, request_id: int) -> CashoutRequest:
    """The person's own request; anyone else's is as if it did not exist."""
    row = db.session.get(CashoutRequest, request_id)
    if row is None or row.user_id != user.id:
        raise NotFound(_("No such cash-out request."))
    return row


def requests_of(user: User, limit: int = 50) -> list[CashoutRequest]:
    """The person's own requests, newest first."""
    return list(
        db.session.scalars(
            select(CashoutRequest)
            .where(CashoutRequest.user_id == user.id)
            .order_by(CashoutRequest.created_at.desc(), CashoutRequest.id.desc())
            .limit(limit)
        )
    )


def admin_query(admin: User, status: CashoutStatus | None = None):
    """Requests for admins (a statement, for db.paginate). Pending ones oldest first
    and approved ones oldest decision first (both are work, longest wait first); the
    others latest first."""
    require_admin(admin)
    stmt = select(CashoutRequest).options(
        selectinload(CashoutRequest.user), selectinload(CashoutRequest.decided_by)
    )
    if status is None:
        return stmt.order_by(CashoutRequest.created_at.desc(), CashoutRequest.id.desc())
    stmt = stmt.where(CashoutRequest.status == status)
    if status == CashoutStatus.PENDING:
        return stmt.order_by(CashoutRequest.created_at, CashoutRequest.id)
    if status == CashoutStatus.APPROVED:
        return stmt.order_by(CashoutRequest.decided_at, CashoutRequest.id)
    if status == CashoutStatus.PAID:
        return stmt.order_by(CashoutRequest.paid_at.desc(), CashoutRequest.id.desc())
    return stmt.order_by(CashoutRequest.decided_at.desc(), CashoutRequest.id.desc())


def counts() -> dict[str, int]:
    """How many requests of each status, by the status's value (the admin tabs)."""
    rows = dict(
        db.session.execute(select(CashoutRequest.status, func.count()).group_by(CashoutRequest.status)).all()
    )
    return {status.value: int(rows.get(status, 0)) for status in CashoutStatus}


def waiting_count() -> int:
    """Requests that need an admin: pending ones, and approved ones whose money is still to send."""
    return db.session.scalar(
        select(func.count())
        .select_from(CashoutRequest)
        .where(CashoutRequest.status.in_([CashoutStatus.PENDING, CashoutStatus.APPROVED]))
    )


# -- export --------------------------------------------------------------------------------------
def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def export_csv(admin: User, status: CashoutStatus | None = None) -> str:
    """Cash-outs (all, or those with ``status``) as CSV for admins: who, how much, where
    to send it, and when it was asked, decided and paid. The amount is a plain number
    (``12.34``) for spreadsheets; every text cell is guarded against formulas."""
    stmt = admin_query(admin, status)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Id"),
            _("Username"),
            _("Email"),
            _("Diamonds"),
            _("Amount"),
            _("Currency"),
            _("Payout details"),
            _("Status"),
            _("Requested (UTC)"),
            _("Decided (UTC)"),
            _("Paid (UTC)"),
            _("Note"),
        ]
    )
    for row in db.session.scalars(stmt):
        writer.writerow(
            [
                row.id,
                cell(row.user.username if row.user else ""),
                cell(row.user.email if row.user else ""),
                row.diamonds,
                f"{row.amount_cents // 100}.{row.amount_cents % 100:02d}",
                cell(row.currency),
                cell(row.payout_details),
                cell(status_label(row.status)),
                _stamp(row.created_at),
                _stamp(row.decided_at),
                _stamp(row.paid_at),
                cell(row.note),
            ]
        )
    return out.getvalue()
