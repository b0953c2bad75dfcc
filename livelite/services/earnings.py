"""A creator's earnings: the diamonds their gifts brought, per live and per gift.

Read from the gifts sent (``GiftSend``: one row per gift or combo, with the coins it
cost and the receiver's diamonds) — the record of *what* was earned, where the ledger
is the record of the balances. A guest's gifts count for the guest, in the host's live.
Months are calendar months in UTC, as every time the server stores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import Gift, GiftSend, Live, User
from livelite.models.base import utcnow


@dataclass(frozen=True)
class Totals:
    diamonds: int  # all time
    diamonds_this_month: int
    gifts: int  # gifts received, combos counted by their quantity
    coins: int  # what the senders spent on them
    lives: int  # lives with at least one gift (a deleted live counts once)


@dataclass(frozen=True)
class LiveEarnings:
    live_id: int | None  # None: the live was deleted
    title: str
    date: datetime  # when it started (or was created); the first gift's time if deleted
    gifts: int
    coins: int
    diamonds: int
    top_gifter: User | None  # who spent the most coins on this person in this live
    top_gifter_coins: int


@dataclass(frozen=True)
class LivesPage:
    items: list[LiveEarnings]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


@dataclass(frozen=True)
class GiftEarnings:
    gift_id: int
    name: str
    icon: str  # a file under static/img/gifts/
    count: int
    coins: int
    diamonds: int


def month_start(now: datetime | None = None) -> datetime:
    now = (now or utcnow()).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def totals(user: User, now: datetime | None = None) -> Totals:
    """Everything the person received, and the diamonds of this calendar month."""
    mine = GiftSend.receiver_id == user.id
    diamonds, gifts, coins, lives = db.session.execute(
        select(
            func.coalesce(func.sum(GiftSend.diamonds), 0),
            func.coalesce(func.sum(GiftSend.quantity), 0),
            func.coalesce(func.sum(GiftSend.coins), 0),
            func.count(func.distinct(func.coalesce(GiftSend.live_id, 0))),
        ).where(mine)
    ).one()
    this_month = db.session.scalar(
        select(func.coalesce(func.sum(GiftSend.diamonds), 0)).where(
            mine, GiftSend.created_at >= month_start(now)
        )
    )
    return Totals(int(diamonds), int(this_month), int(gifts), int(coins), int(lives))


def per_live(user: User, page: int = 1, per_page: int = 20) -> LivesPage:
    """The lives where the person received gifts, the latest first (by when the live
    started; a deleted live by its first gift), with each live's figures and top gifter."""
    page = max(1, int(page))
    mine = GiftSend.receiver_id == user.id
    total = db.session.scalar(
        select(func.count(func.distinct(func.coalesce(GiftSend.live_id, 0)))).where(mine)
    )
    first_gift = func.min(GiftSend.created_at)
    rows = db.session.execute(
        select(
            GiftSend.live_id,
            func.sum(GiftSend.quantity),
            func.sum(GiftSend.coins),
            func.sum(GiftSend.diamonds),
            first_gift,
        )
        .outerjoin(Live, Live.id == GiftSend.live_id)
        .where(mine)
        .group_by(GiftSend.live_id, Live.id, Live.started_at, Live.created_at)
        .order_by(func.coalesce(Live.started_at, Live.created_at, first_gift).desc(), GiftSend.live_id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    live_ids = [r[0] for r in rows if r[0] is not None]
    lives = {live.id: live for live in db.session.scalars(select(Live).where(Live.id.in_(live_ids)))}
    top = _top_gifters(user, [r[0] for r in rows])
    items = []
    for live_id, gifts, coins, diamonds, first_at in rows:
        live = lives.get(live_id)
        gifter, gifter_coins = top.get(live_id, (None, 0))
        items.append(
            LiveEarnings(
                live_id=live_id,
                title=live.title if live else _("A deleted live"),
                date=(live.started_at or live.created_at) if live else first_at,
                gifts=int(gifts),
                coins=int(coins),
                diamonds=int(diamonds),
                top_gifter=gifter,
                top_gifter_coins=gifter_coins,
            )
        )
    return LivesPage(items, page, per_page, int(total or 0))


def _top_gifters(user: User, live_ids: list[int | None]) -> dict[int | None, tuple[User | None, int]]:
    """Per live: the sender who spent the most coins on ``user`` (the first to give
    wins a tie). Gifts from deleted accounts have no sender and rank nobody."""
    if not live_ids:
        return {}
    ids = [i for i in live_ids if i is not None]
    where_live = GiftSend.live_id.in_(ids)
    if None in live_ids:
        where_live = where_live | GiftSend.live_id.is_(None)
    rows = db.session.execute(
        select(GiftSend.live_id, GiftSend.sender_id, func.sum(GiftSend.coins), func.min(GiftSend.id))
        .where(GiftSend.receiver_id == user.id, GiftSend.sender_id.is_not(None), where_live)
        .group_by(GiftSend.live_id, GiftSend.sender_id)
    ).all()
    best: dict[int | None, tuple[int, int, int]] = {}
    for live_id, sender_id, coins, first_id in rows:
        current = best.get(live_id)
        if current is None or (coins, -first_id) > (current[1], -current[2]):
            best[live_id] = (sender_id, int(coins), first_id)
    people = {
        u.id: u for u in db.session.scalars(select(User).where(User.id.in_([b[0] for b in best.values()])))
    }
    return {live_id: (people.get(sender_id), coins) for live_id, (sender_id, coins, _first) in best.items()}


def per_gift(user: User) -> list[GiftEarnings]:
    """Each gift of the catalogue the person received (retired ones too), the one that
    brought the most diamonds first."""
    rows = db.session.execute(
        select(
            Gift.id,
            Gift.name,
            Gift.icon,
            func.sum(GiftSend.quantity),
            func.sum(GiftSend.coins),
            func.sum(GiftSend.diamonds),
        )
        .join(Gift, Gift.id == GiftSend.gift_id)
        .where(GiftSend.receiver_id == user.id)
        .group_by(Gift.id, Gift.name, Gift.icon)
        .order_by(func.sum(GiftSend.diamonds).desc(), Gift.id)
    ).all()
    from livelite.services.gifts import DEFAULT_NAMES

    # A default gift's name in the reader's language (as services.gifts.display_name).
    return [
        GiftEarnings(gift_id, str(DEFAULT_NAMES.get(name, name)), icon, int(count), int(coins), int(diamonds))
        for gift_id, name, icon, count, coins, diamonds in rows
    ]
