"""Gifts in lives: the catalogue, sending a gift, combos, top gifters and the LIVE goal.

A viewer sends a gift from the catalogue to the host or to a guest on stage. The coins
leave the sender's account and the receiver's diamonds come in (``CREATOR_SHARE_PERCENT``
of the coins, rounded down; the rest is the platform's) in ONE ledger transaction,
written by ``services.ledger`` together with the ``GiftSend`` row: either both are kept
or neither. Every rule is checked here so that the socket event (``gift_send``,
blueprints/lives/gift_events.py) and the API (``POST /api/v1/lives/<id>/gifts``) behave
the same; changes are committed first and only then told to the room
(docs/realtime.md, "Gifts").

Idempotency: the client chooses a key for each gift it means to send (a uuid made when
the person clicks) and sends it again on a retry. The ledger key is
``gift:<sender id>:<key>``, so keys are per person and one person cannot replay
another's. A key already used returns the first ``GiftSend``: nothing is charged and
nothing is broadcast twice, even after the live has ended or the receiver has left the
stage (the retry of a gift that went through must not turn into an error).

Combos: the same gift from the same sender to the same receiver, each within
``GIFT_COMBO_SECONDS`` of the one before, makes a streak; ``combo`` is the number of
gifts in it so far (quantities count), read back from the stored sends so it holds
across tabs, processes and restarts. The room draws one animation counting up "×N".
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    Gift,
    GiftAnimation,
    GiftSend,
    GuestStatus,
    LedgerTransaction,
    Live,
    LiveGoal,
    TransactionType,
    User,
    Wallet,
)
from livelite.models.base import is_id, utcnow
from livelite.realtime import emit_to_live, emit_to_member
from livelite.services import guests, ledger, policy, room, webhooks
from livelite.services.admin import require_admin
from livelite.services.errors import ValidationFailed
from livelite.services.settings import get_setting

NAME_MAX = 40
COINS_MIN, COINS_MAX = 1, 100_000
POSITION_MAX = 10_000
MAX_QUANTITY = 99
GOAL_MIN, GOAL_MAX = 1, 10_000_000
GOAL_LABEL_MAX = 80
TOP_GIFTERS = 10
RECENT_LIMIT = 50
# A streak longer than this many sends is counted up to here: enough for any screen.
COMBO_LOOKBACK = 500
ICON_FOLDER = "img/gifts"

# The catalogue a new site starts with: costs spread from a tap to a big moment, the
# dearer the gift the more of the screen it takes. Names are stored in English and
# shown translated while they keep their default name (see ``display_name``).
DEFAULT_NAMES = {
    "Rose": _l("Rose"),
    "Heart": _l("Heart"),
    "Doughnut": _l("Doughnut"),
    "Confetti": _l("Confetti"),
    "Rocket": _l("Rocket"),
    "Lion": _l("Lion"),
    "Universe": _l("Universe"),
}
DEFAULTS = (
    ("Rose", "rose.svg", 1, GiftAnimation.FLOAT),
    ("Heart", "heart.svg", 5, GiftAnimation.FLOAT),
    ("Doughnut", "doughnut.svg", 30, GiftAnimation.BURST),
    ("Confetti", "confetti.svg", 99, GiftAnimation.RAIN),
    ("Rocket", "rocket.svg", 500, GiftAnimation.BURST),
    ("Lion", "lion.svg", 1000, GiftAnimation.FULLSCREEN),
    ("Universe", "universe.svg", 5000, GiftAnimation.FULLSCREEN),
)
ANIMATION_LABELS = {
    GiftAnimation.FLOAT: _l("Float: a few rise from the gift’s banner"),
    GiftAnimation.BURST: _l("Burst: springs up in the middle of the video"),
    GiftAnimation.RAIN: _l("Rain: falls across the video"),
    GiftAnimation.FULLSCREEN: _l("Full screen: fills the player"),
}

_seed_lock = threading.Lock()


class GiftError(room.RoomError):
    """A room refusal with figures the sender's page can use (their balance, what the
    gift costs, where to get coins)."""

    def __init__(self, code: str, message: str, *, status: int = 400, **extra):
        super().__init__(code, message, status=status)
        self.extra = extra

    def payload(self) -> dict:
        return {**super().payload(), **self.extra}


# -- the catalogue -------------------------------------------------------------------------
def _seed_if_empty() -> None:
    """The default catalogue, written by the first read of an empty table.

    Commits (only that once). Retired gifts stay in the table, so a site whose admins
    retired everything is not re-seeded behind their back.
    """
    if db.session.scalar(select(Gift.id).limit(1)) is not None:
        return
    with _seed_lock:
        if db.session.scalar(select(Gift.id).limit(1)) is not None:
            return
        db.session.add_all(
            Gift(name=name, icon=icon, coins=coins, animation=animation, active=True, position=index)
            for index, (name, icon, coins, animation) in enumerate(DEFAULTS)
        )
        db.session.commit()


def catalogue(*, include_retired: bool = False) -> list[Gift]:
    """The gifts people can send (all of them, retired too, for admins), cheapest first
    within the admins' order."""
    _seed_if_empty()
    query = select(Gift).order_by(Gift.position, Gift.coins, Gift.id)
    if not include_retired:
        query = query.where(Gift.active.is_(True))
    return list(db.session.scalars(query))


def get_gift(gift_id: int) -> Gift:
    gift = db.session.get(Gift, gift_id) if is_id(gift_id) else None
    if gift is None:
        raise room.RoomError("not_found", _("This gift does not exist."), status=404)
    return gift


def available_icons() -> list[str]:
    """The icon files admins choose from: the SVGs in static/img/gifts/."""
    folder = Path(current_app.static_folder) / ICON_FOLDER
    return sorted(path.name for path in folder.glob("*.svg"))


def icon_url(icon: str) -> str:
    return f"{current_app.static_url_path}/{ICON_FOLDER}/{icon}"


def display_name(gift: Gift) -> str:
    """The gift's name for the reader: a default name in their language, else as typed."""
    default = DEFAULT_NAMES.get(gift.name)
    return str(default) if default is not None else gift.name


def animation_label(animation: GiftAnimation) -> str:
    return str(ANIMATION_LABELS[animation])


def gift_payload(gift: Gift) -> dict:
    """The ``gift`` object of docs/realtime.md."""
    return {
        "id": gift.id,
        "name": display_name(gift),
        "icon_url": icon_url(gift.icon),
        "coins": gift.coins,
        "animation": gift.animation.value,
    }


def admin_gift_payload(gift: Gift) -> dict:
    return {
        **gift_payload(gift),
        "stored_name": gift.name,
        "icon": gift.icon,
        "active": gift.active,
        "position": gift.position,
        "created_at": gift.created_at,
    }


def _clean_text(text) -> str:
    """Control characters out (line breaks become spaces), the spaces around trimmed."""
    if not isinstance(text, str):
        return ""
    kept = []
    for char in text:
        kind = unicodedata.category(char)
        if kind == "Cc":
            if char.isspace():
                kept.append(" ")
        elif kind != "Cs":
            kept.append(char)
    return "".join(kept).strip()


def _whole(value) -> int | None:
    """An int from a form or JSON (never a bool, which Python counts as one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _checked_gift_fields(fields: dict, *, partial: bool) -> dict:
    """The catalogue's rules for each field given; all fields unless ``partial``."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    if "name" in fields or not partial:
        name = _clean_text(fields.get("name"))
        if not name or len(name) > NAME_MAX:
            errors["name"] = [_("Give the gift a name of 1 to %(max)s characters.", max=NAME_MAX)]
        clean["name"] = name
    if "icon" in fields or not partial:
        icon = fields.get("icon")
        if not isinstance(icon, str) or icon not in available_icons():
            errors["icon"] = [_("Choose one of the icons.")]
        clean["icon"] = icon
    if "coins" in fields or not partial:
        coins = _whole(fields.get("coins"))
        if coins is None or not COINS_MIN <= coins <= COINS_MAX:
            errors["coins"] = [
                _(
                    "A gift costs %(min)s to %(max)s coins.",
                    min=COINS_MIN,
                    max=f"{COINS_MAX:,}".replace(",", " "),
                )
            ]
        clean["coins"] = coins
    if "animation" in fields or not partial:
        value = fields.get("animation")
        try:
            clean["animation"] = GiftAnimation(value)
        except ValueError:
            errors["animation"] = [_("Choose one of the animations.")]
    if "active" in fields:
        if not isinstance(fields["active"], bool):
            errors["active"] = [_("Say whether the gift can be sent.")]
        clean["active"] = fields["active"]
    if "position" in fields and fields["position"] is not None:
        position = _whole(fields["position"])
        if position is None or not 0 <= position <= POSITION_MAX:
            errors["position"] = [_("The position is a number from 0 to %(max)s.", max=POSITION_MAX)]
        clean["position"] = position
    if errors:
        raise ValidationFailed(errors)
    return clean


def create_gift(actor: User, **fields) -> Gift:
    """A new gift of the catalogue (admins). Without a position it goes last."""
    require_admin(actor)
    _seed_if_empty()
    clean = _checked_gift_fields(fields, partial=False)
    if clean.get("position") is None:
        last = db.session.scalar(select(func.max(Gift.position)))
        clean["position"] = (last or 0) + 1
    clean.setdefault("active", True)
    gift = Gift(**clean)
    db.session.add(gift)
    db.session.commit()
    return gift


def update_gift(actor: User, gift_id: int, **fields) -> Gift:
    """Change a gift (admins): any of name, icon, coins, animation, active, position.

    A new cost applies to gifts sent from now on; sends already made keep theirs.
    Retiring (``active=False``) takes it out of every picker; it stays in the
    history of the gifts sent with it.
    """
    require_admin(actor)
    gift = get_gift(gift_id)
    for name, value in _checked_gift_fields(fields, partial=True).items():
        setattr(gift, name, value)
    db.session.commit()
    return gift


# -- who may receive, and wallets ------------------------------------------------------------
def receivers(live: Live) -> list[User]:
    """Who can be sent a gift in this live now: the host, then the guests on stage."""
    people = [live.host]
    people += [
        row.user for row in guests.on_stage(live) if row.user is not None and row.user_id != live.host_id
    ]
    return people


def accepts_gifts(user_id: int) -> bool:
    """Whether this person takes gifts (yes until they turn it off)."""
    value = db.session.scalar(select(Wallet.accepts_gifts).where(Wallet.user_id == user_id))
    return True if value is None else bool(value)


def set_accepts_gifts(user: User, value: bool) -> bool:
    """Turn receiving gifts on or off for this person (Settings → Gifts)."""
    wallet = db.session.get(Wallet, user.id)
    if wallet is None:
        wallet = Wallet(user_id=user.id)
        db.session.add(wallet)
    wallet.accepts_gifts = bool(value)
    db.session.commit()
    return wallet.accepts_gifts


def wallet_url() -> str:
    """Where to get coins (the wallet, services.coins)."""
    try:
        return url_for("wallet.index")
    except (BuildError, RuntimeError):
        return "/wallet"


# -- sending ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sent:
    send: GiftSend
    # False when the key had been used: the first send, nothing charged this time.
    created: bool
    # The ``gift`` event as the room got it, kept so the acknowledgement does not build
    # it again (a replayed key broadcasts nothing: its payload is built on demand).
    broadcast: dict | None = None

    def payload(self) -> dict:
        return self.broadcast if self.broadcast is not None else send_payload(self.send)


def ledger_key(sender_id: int, key: str) -> str:
    """The ledger's key for a client's key: per sender, and short enough for the column
    (a long client key is hashed, which keeps it just as unique)."""
    plain = f"gift:{sender_id}:{key}"
    if len(plain) <= ledger.IDEMPOTENCY_KEY_MAX:
        return plain
    return f"gift:{sender_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _replayed(live: Live, sender: User, key: str, receiver_id, gift_id, quantity) -> GiftSend | None:
    """The send this key already made, if any. The same key for another gift is a client
    bug: it is refused rather than silently answered with a different gift."""
    found = _send_for_key(sender.id, key)
    if found is None:
        return None
    if (found.live_id, found.receiver_id, found.gift_id, found.quantity) != (
        live.id,
        receiver_id,
        gift_id,
        quantity,
    ):
        raise room.RoomError(
            "conflict", _("This idempotency key was already used for a different gift."), status=409
        )
    return found


def _send_for_key(sender_id: int, key: str) -> GiftSend | None:
    return db.session.scalar(
        select(GiftSend)
        .join(LedgerTransaction, LedgerTransaction.id == GiftSend.transaction_id)
        .where(LedgerTransaction.idempotency_key == ledger_key(sender_id, key))
    )


def _quantity(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise room.RoomError("invalid", _("Send 1 to %(max)s gifts at a time.", max=MAX_QUANTITY), status=422)
    return value


def _receiver(live: Live, receiver_id) -> User:
    if is_id(receiver_id):
        for person in receivers(live):
            if person.id == receiver_id:
                return person
    raise room.RoomError("not_found", _("Gifts go to the host or to a guest on stage."), status=404)


def _legs(sender: User, receiver: User, coins: int) -> tuple[list[ledger.Leg], int]:
    """The gift movement: the sender's coins out, the receiver's share in diamonds, the
    rest to the platform. The share is rounded down (a 1-coin gift at 50 % gives no
    diamond); a zero leg is left out, as the ledger takes none."""
    diamonds = coins * int(get_setting("CREATOR_SHARE_PERCENT")) // 100
    legs = [ledger.Leg(ledger.account_id(AccountKind.COINS, sender), -coins)]
    if diamonds:
        legs.append(ledger.Leg(ledger.account_id(AccountKind.DIAMONDS, receiver), diamonds))
    if coins - diamonds:
        legs.append(ledger.Leg(ledger.account_id(AccountKind.PLATFORM_REVENUE), coins - diamonds))
    return legs, diamonds


def send_gift(
    live: Live,
    sender: User | None,
    receiver_id,
    gift_id,
    quantity=1,
    key: str | None = None,
    *,
    now: datetime | None = None,
) -> Sent:
    """Send ``quantity`` of a gift to the host or a guest on stage, paid with the
    sender's coins; then tell the room. See the module docstring for keys and combos.

    Refused (``RoomError`` with the room's codes; nothing charged): not logged in, the
    live is over, the sender was kicked from it or is banned by its host, a bad
    quantity, a retired or unknown gift, a receiver who is not on stage, oneself,
    someone under ``GIFT_MIN_AGE`` on either side, a receiver who turned gifts off
    (``gifts_off``), too few coins (``insufficient_funds`` with ``balance``,
    ``needed`` and ``wallet_url``).
    """
    sender = room.require_member(sender)
    key = ledger.check_key(key)
    first = _replayed(live, sender, key, receiver_id, gift_id, quantity)
    if first is not None:
        return Sent(first, False)
    room.require_live(live)
    room.require_may_join(live, sender)
    quantity = _quantity(quantity)
    gift = get_gift(gift_id)
    if not gift.active:
        raise room.RoomError("not_found", _("This gift is no longer available."), status=404)
    receiver = _receiver(live, receiver_id)
    if receiver.id == sender.id:
        raise room.RoomError("not_allowed", _("You cannot send a gift to yourself."), status=403)
    may_send = policy.may_send_gifts(sender)
    if not may_send:
        raise room.RoomError("not_allowed", may_send.reasons[0], status=403)
    if not policy.may_receive_gifts(receiver):
        raise room.RoomError(
            "not_allowed", _("%(name)s cannot receive gifts.", name=receiver.display_name), status=403
        )
    if not accepts_gifts(receiver.id):
        raise room.RoomError(
            "gifts_off", _("%(name)s does not accept gifts.", name=receiver.display_name), status=403
        )

    now = now or utcnow()
    coins = gift.coins * quantity
    legs, diamonds = _legs(sender, receiver, coins)
    sender_id, live_id = sender.id, live.id
    try:
        posted = ledger.post(
            TransactionType.GIFT,
            legs,
            key=ledger_key(sender_id, key),
            reference=f"gift:live:{live_id}",
            memo=f"{gift.name} x{quantity}",
            created_by=sender,
        )
    except ledger.InsufficientFunds as exc:
        raise GiftError(
            "insufficient_funds",
            _(
                "This gift costs %(needed)s coins and you have %(balance)s. Get coins in your wallet.",
                needed=exc.needed,
                balance=exc.available,
            ),
            status=402,
            balance=exc.available,
            needed=exc.needed,
            wallet_url=wallet_url(),
        ) from None
    if not posted.created:
        # Another request with this key won the race between our look and our post.
        send = _send_for_key(sender_id, key)
        if send is None:  # pragma: no cover - the winner commits its send with its post
            raise room.RoomError("conflict", _("This gift is being sent. Try again."), status=409)
        return Sent(send, False)
    send = GiftSend(
        live_id=live_id,
        gift_id=gift.id,
        sender_id=sender_id,
        receiver_id=receiver.id,
        quantity=quantity,
        coins=coins,
        diamonds=diamonds,
        transaction_id=posted.transaction.id,
        created_at=now,
        offset_ms=room.offset_ms(live, now),
    )
    db.session.add(send)
    db.session.flush()
    posted.transaction.reference = f"gift_send:{send.id}"
    db.session.commit()
    broadcast = _tell_room(live, send)
    _notify_receiver(live, send)
    webhooks.gift_received(send)
    return Sent(send, True, broadcast)


# -- combos ---------------------------------------------------------------------------------
def combo_of(send: GiftSend) -> int:
    """How many of this gift the sender has given this receiver in the streak ending
    with ``send`` (each within GIFT_COMBO_SECONDS of the one before)."""
    rows = db.session.execute(
        select(GiftSend.created_at, GiftSend.quantity)
        .where(
            GiftSend.live_id == send.live_id,
            GiftSend.sender_id == send.sender_id,
            GiftSend.receiver_id == send.receiver_id,
            GiftSend.gift_id == send.gift_id,
            GiftSend.id < send.id,
        )
        .order_by(GiftSend.id.desc())
        .limit(COMBO_LOOKBACK)
    ).all()
    window = timedelta(seconds=int(get_setting("GIFT_COMBO_SECONDS")))
    total, last = send.quantity, send.created_at
    for created_at, quantity in rows:
        if last - created_at > window:
            break
        total += quantity
        last = created_at
    return total


def _combos_within(sends: list[GiftSend]) -> dict[int, int]:
    """Combos of a list of sends (a page of history), counted within the list."""
    window = timedelta(seconds=int(get_setting("GIFT_COMBO_SECONDS")))
    streaks: dict[tuple, tuple[int, datetime]] = {}
    combos: dict[int, int] = {}
    for send in sorted(sends, key=lambda s: s.id):
        streak = (send.live_id, send.sender_id, send.receiver_id, send.gift_id)
        total, last = streaks.get(streak, (0, None))
        if last is None or send.created_at - last > window:
            total = 0
        total += send.quantity
        streaks[streak] = (total, send.created_at)
        combos[send.id] = total
    return combos


def send_payload(send: GiftSend, combo: int | None = None) -> dict:
    """The ``gift`` event of docs/realtime.md (one gift sent)."""
    return {
        "id": send.id,
        "gift": gift_payload(send.gift),
        "sender": room.user_payload(send.sender),
        "receiver": room.user_payload(send.receiver),
        "quantity": send.quantity,
        "coins": send.coins,
        "combo": combo if combo is not None else combo_of(send),
        "animation": send.gift.animation.value,
        "offset_ms": send.offset_ms,
        "at": send.created_at.isoformat(),
    }


def recent_sends(live: Live, limit: int = RECENT_LIMIT) -> list[dict]:
    """The latest gifts of a live, newest first, as ``gift`` payloads."""
    sends = list(
        db.session.scalars(
            select(GiftSend).where(GiftSend.live_id == live.id).order_by(GiftSend.id.desc()).limit(limit)
        )
    )
    combos = _combos_within(sends)
    return [send_payload(send, combos[send.id]) for send in sends]


# -- rankings, goals, earnings --------------------------------------------------------------
def top_gifters(live: Live, limit: int = TOP_GIFTERS) -> list[dict]:
    """Who sent the most coins in gifts in this live: ``[{user, coins}]``, most first;
    at equal coins, who got there first."""
    total = func.sum(GiftSend.coins).label("total")
    rows = db.session.execute(
        select(GiftSend.sender_id, total)
        .where(GiftSend.live_id == live.id, GiftSend.sender_id.is_not(None))
        .group_by(GiftSend.sender_id)
        .order_by(total.desc(), func.min(GiftSend.id))
        .limit(limit)
    ).all()
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_([r[0] for r in rows])))}
    return [{"user": room.user_payload(people.get(uid)), "coins": int(coins)} for uid, coins in rows]


def goal_progress(live: Live) -> int:
    """Coins of every gift received in this live: gifts only ever go to the host and
    the guests on stage, so this is the stage's total."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(GiftSend.coins), 0)).where(GiftSend.live_id == live.id)
        )
    )


def goal_payload(live: Live) -> dict:
    """``{target, label, progress}``; ``target`` null when the host set no goal."""
    goal = db.session.get(LiveGoal, live.id)
    return {
        "target": goal.target_coins if goal is not None else None,
        "label": goal.label if goal is not None else "",
        "progress": goal_progress(live),
    }


def _checked_goal(target_coins, label) -> tuple[int, str]:
    errors: dict[str, list[str]] = {}
    target = _whole(target_coins) if not isinstance(target_coins, str) else None
    if target is None or not GOAL_MIN <= target <= GOAL_MAX:
        errors["target_coins"] = [
            _("A goal is %(min)s to %(max)s coins.", min=GOAL_MIN, max=f"{GOAL_MAX:,}".replace(",", " "))
        ]
    if label is None:
        label = ""
    if not isinstance(label, str):
        errors["label"] = [_("The goal’s label is text.")]
        label = ""
    label = _clean_text(label)
    if len(label) > GOAL_LABEL_MAX:
        errors["label"] = [_("The goal’s label has at most %(n)s characters.", n=GOAL_LABEL_MAX)]
    if errors:
        raise ValidationFailed(errors)
    return target, label


def set_goal(live: Live, actor: User | None, target_coins, label="") -> dict:
    """The host sets (or changes) the LIVE goal bar; everyone sees it at once."""
    room.require_member(actor)
    room.require_host(live, actor)
    room.require_live(live)
    target, label = _checked_goal(target_coins, label)
    goal = db.session.get(LiveGoal, live.id)
    if goal is None:
        goal = LiveGoal(live_id=live.id, target_coins=target, label=label)
        db.session.add(goal)
    else:
        goal.target_coins, goal.label = target, label
    db.session.commit()
    payload = goal_payload(live)
    emit_to_live(live.id, "goal", payload)
    return payload


def clear_goal(live: Live, actor: User | None) -> dict:
    """The host takes the goal bar off every screen (also after the live: a no-op then
    for the room). Clearing when there is none changes nothing."""
    room.require_member(actor)
    room.require_host(live, actor)
    goal = db.session.get(LiveGoal, live.id)
    if goal is not None:
        db.session.delete(goal)
        db.session.commit()
    payload = goal_payload(live)
    if goal is not None:
        emit_to_live(live.id, "goal", payload)
    return payload


def earned(live: Live, user_id: int) -> dict:
    """What one person received in this live: ``{gifts, coins, diamonds}``."""
    gifts_count, coins, diamonds = db.session.execute(
        select(
            func.coalesce(func.sum(GiftSend.quantity), 0),
            func.coalesce(func.sum(GiftSend.coins), 0),
            func.coalesce(func.sum(GiftSend.diamonds), 0),
        ).where(GiftSend.live_id == live.id, GiftSend.receiver_id == user_id)
    ).one()
    return {"gifts": int(gifts_count), "coins": int(coins), "diamonds": int(diamonds)}


# -- what the room is told ------------------------------------------------------------------
def you_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    """``coins``: this person's balance (null for visitors); ``gifts_earned``: what
    they received in this live, for the host and guests on stage (else null)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {"coins": None, "gifts_earned": None}
    on_stage = user.id == live.host_id or guests.status_of(live, user) == GuestStatus.ACTIVE
    return {
        "coins": ledger.balance(user, AccountKind.COINS),
        "gifts_earned": earned(live, user.id) if on_stage else None,
    }


STUDIO_HISTORY = 30


def state_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    """The catalogue, who can be sent gifts, the goal and the top gifters; for the host
    (and admins) the latest gifts too, so a reloaded studio lists what came in."""
    part = {
        "gifts": [gift_payload(g) for g in catalogue()],
        "gift_receivers": [room.user_payload(p) for p in receivers(live)],
        "goal": goal_payload(live),
        "top_gifters": top_gifters(live),
    }
    if role in (room.RoomRole.HOST, room.RoomRole.ADMIN):
        part["recent_gifts"] = recent_sends(live, STUDIO_HISTORY)
    return part


def gift_state(live: Live, user: User | None) -> dict:
    """What the gift picker reads when it opens: fresh catalogue, receivers, balance."""
    role = room.role_of(live, user)
    return {**state_part(live, user, role), "coins": you_part(live, user, role)["coins"]}


def _tell_room(live: Live, send: GiftSend) -> dict:
    """After the commit: the animation for everyone, the new ranking and goal, the
    sender's own balance (their connections only), the receiver's takings. Returns the
    ``gift`` payload sent."""
    payload = send_payload(send)
    emit_to_live(live.id, "gift", payload)
    emit_to_live(live.id, "top_gifters", {"gifters": top_gifters(live)})
    if db.session.get(LiveGoal, live.id) is not None:
        emit_to_live(live.id, "goal", goal_payload(live))
    emit_to_member(live.id, send.sender_id, "balance", {"coins": ledger.balance(send.sender_id)})
    emit_to_member(live.id, send.receiver_id, "gifts_earned", earned(live, send.receiver_id))
    return payload


def _notify_receiver(live: Live, send: GiftSend) -> None:
    """One notification per live and sender, carrying the running total: a combo (or a
    whole evening of gifts from one fan) is one line in the receiver's list."""
    from livelite.services import notifications

    totals = db.session.execute(
        select(func.sum(GiftSend.quantity), func.sum(GiftSend.coins), func.sum(GiftSend.diamonds)).where(
            GiftSend.live_id == live.id,
            GiftSend.sender_id == send.sender_id,
            GiftSend.receiver_id == send.receiver_id,
        )
    ).one()
    gifts_count, coins, diamonds = (int(x or 0) for x in totals)
    notifications.notify_or_update(
        send.receiver_id,
        "gift_received",
        f"gift:{live.id}:{send.sender_id}",
        actor=send.sender,
        live=live,
        data={"title": live.title, "gifts": gifts_count, "coins": coins, "diamonds": diamonds},
    )
