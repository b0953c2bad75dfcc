"""Gifts in lives (services.gifts): the catalogue, every rule of sending, the ledger's
movement and its rounding, idempotency, combos, top gifters, the LIVE goal and the
receiver's notification. The books must balance after each test (``ledger.check()``).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from factories import birth_date_just_under, make_admin, make_user
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import (
    AccountKind,
    Gift,
    GiftAnimation,
    GiftSend,
    GuestStatus,
    HostBan,
    LedgerAccount,
    LedgerTransaction,
    LiveGuest,
    LiveSanction,
    Notification,
    Role,
    SanctionKind,
    TransactionType,
)
from livelite.models.base import utcnow
from livelite.services import accounts, gifts, ledger, lives, notifications, room
from livelite.services.errors import PermissionDenied, ValidationFailed
from livelite.services.settings import set_setting

STATIC = Path(__file__).resolve().parents[1] / "static"


# -- helpers -------------------------------------------------------------------------
def give_coins(user, coins: int, key: str | None = None) -> None:
    """Coins for a test, granted the way an admin's grant moves them."""
    ledger.post(
        TransactionType.GRANT,
        [
            ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -coins),
            ledger.Leg(ledger.account_id(AccountKind.COINS, user), coins),
        ],
        key=key or f"test-grant:{user.id}:{coins}:{utcnow().timestamp()}",
        reference="test",
    )
    db.session.commit()


def gift_named(name: str) -> Gift:
    return next(g for g in gifts.catalogue() if g.name == name)


def platform_revenue() -> int:
    return int(
        db.session.scalar(
            select(LedgerAccount.balance).where(LedgerAccount.kind == AccountKind.PLATFORM_REVENUE)
        )
        or 0
    )


def refusal(excinfo) -> tuple[str, str]:
    exc = excinfo.value
    return getattr(exc, "code", None), exc.message


class Site:
    """An admin, a host (maker) live now, viewers (vera, victor), a guest, a minor."""

    def __init__(self):
        self.admin = make_admin()
        self.host = make_user("maker", role=Role.CREATOR, display_name="Maker")
        self.vera = make_user("vera", display_name="Vera")
        self.victor = make_user("victor", display_name="Victor")
        self.guest = make_user("gina", display_name="Gina")
        self.minor = make_user("kid", display_name="Kid", birth_date=birth_date_just_under(18))
        self.live = lives.start_live(self.host, title="Lesson")

    def on_stage(self, user, status=GuestStatus.ACTIVE):
        db.session.add(LiveGuest(live_id=self.live.id, user_id=user.id, status=status))
        db.session.commit()

    def send(self, sender, gift="Rose", quantity=1, key=None, receiver=None, **kw):
        receiver = receiver or self.host
        gift_id = gift_named(gift).id if isinstance(gift, str) else gift
        key = key or f"k-{utcnow().timestamp()}-{gift_id}-{quantity}"
        return gifts.send_gift(self.live, sender, receiver.id, gift_id, quantity, key, **kw)


@pytest.fixture
def site(app):
    with app.app_context():
        yield Site()
        assert ledger.check() == []


# -- the catalogue ---------------------------------------------------------------------
def test_the_first_read_of_an_empty_catalogue_seeds_spread_out_defaults_with_drawn_icons(site):
    assert db.session.scalar(select(func.count()).select_from(Gift)) == 0
    listed = gifts.catalogue()
    assert [(g.name, g.coins, g.animation) for g in listed] == [
        ("Rose", 1, GiftAnimation.FLOAT),
        ("Heart", 5, GiftAnimation.FLOAT),
        ("Doughnut", 30, GiftAnimation.BURST),
        ("Confetti", 99, GiftAnimation.RAIN),
        ("Rocket", 500, GiftAnimation.BURST),
        ("Lion", 1000, GiftAnimation.FULLSCREEN),
        ("Universe", 5000, GiftAnimation.FULLSCREEN),
    ]
    for gift in listed:
        svg = (STATIC / "img" / "gifts" / gift.icon).read_text()
        assert svg.lstrip().startswith("<svg") and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
        assert gifts.gift_payload(gift)["icon_url"] == f"/static/img/gifts/{gift.icon}"
    assert {"rose.svg", "lion.svg", "universe.svg"} <= set(gifts.available_icons())
    # A second read does not seed again.
    gifts.catalogue()
    assert db.session.scalar(select(func.count()).select_from(Gift)) == len(gifts.DEFAULTS)


def test_a_catalogue_whose_gifts_are_all_retired_is_not_seeded_again(site):
    for gift in gifts.catalogue():
        gifts.update_gift(site.admin, gift.id, active=False)
    assert gifts.catalogue() == []
    assert len(gifts.catalogue(include_retired=True)) == len(gifts.DEFAULTS)


def test_admins_add_edit_and_retire_gifts_with_every_field_checked(site):
    gift = gifts.create_gift(site.admin, name="  Star  ", icon="star.svg", coins="250", animation="rain")
    assert (gift.name, gift.icon, gift.coins, gift.animation, gift.active) == (
        "Star",
        "star.svg",
        250,
        GiftAnimation.RAIN,
        True,
    )
    assert gift.position == len(gifts.DEFAULTS)  # after the seeded ones
    assert gifts.catalogue()[-1].id == gift.id

    gifts.update_gift(site.admin, gift.id, coins=300, position=0, name="Super star")
    # Same position as the Rose (0): the cheaper first, then before the Heart (1).
    assert [(g.name, g.coins) for g in gifts.catalogue()[:3]] == [
        ("Rose", 1),
        ("Super star", 300),
        ("Heart", 5),
    ]
    gifts.update_gift(site.admin, gift.id, active=False)
    assert gift.id not in [g.id for g in gifts.catalogue()]

    bad = {"name": "x" * 41, "icon": "../../secret.svg", "coins": 0, "animation": "spin"}
    with pytest.raises(ValidationFailed) as excinfo:
        gifts.create_gift(site.admin, **bad)
    assert set(excinfo.value.errors) == {"name", "icon", "coins", "animation"}
    for coins in (100_001, -5, True, "ten", 2.5):
        with pytest.raises(ValidationFailed):
            gifts.create_gift(site.admin, name="X", icon="star.svg", coins=coins, animation="float")
    assert (
        gifts.create_gift(site.admin, name="Y", icon="star.svg", coins=100_000, animation="float").coins
        == 100_000
    )
    with pytest.raises(ValidationFailed):
        gifts.update_gift(site.admin, gift.id, name="   ")
    with pytest.raises(PermissionDenied):
        gifts.create_gift(site.vera, name="Mine", icon="star.svg", coins=1, animation="float")
    with pytest.raises(PermissionDenied):
        gifts.update_gift(site.host, gift.id, coins=1)


# -- sending: the movement -------------------------------------------------------------
def test_a_gift_moves_coins_to_the_receivers_diamonds_and_the_platform_in_one_transaction(site):
    give_coins(site.vera, 200)
    sent = site.send(site.vera, "Doughnut", quantity=3)
    assert sent.created
    send = sent.send
    assert (send.coins, send.diamonds, send.quantity) == (90, 45, 3)
    assert ledger.balance(site.vera) == 110
    assert ledger.balance(site.host, AccountKind.DIAMONDS) == 45
    assert platform_revenue() == 45
    tx = db.session.get(LedgerTransaction, send.transaction_id)
    assert tx.type == TransactionType.GIFT and tx.reference == f"gift_send:{send.id}"
    assert sorted(e.amount for e in tx.entries) == [-90, 45, 45]
    assert (
        send.live_id == site.live.id and send.sender_id == site.vera.id and send.receiver_id == site.host.id
    )
    assert 0 <= send.offset_ms < 60_000


@pytest.mark.parametrize(
    ("share", "gift", "quantity", "diamonds", "platform"),
    [
        (50, "Rose", 1, 0, 1),  # half of one coin rounds down: no diamond leg at all
        (50, "Heart", 1, 2, 3),
        (33, "Doughnut", 1, 9, 21),
        (33, "Confetti", 1, 32, 67),
        (100, "Heart", 2, 10, 0),  # everything to the creator: no platform leg
        (0, "Heart", 1, 0, 5),
    ],
)
def test_the_creator_share_is_rounded_down_and_zero_legs_are_left_out(
    site, share, gift, quantity, diamonds, platform
):
    set_setting("CREATOR_SHARE_PERCENT", share)
    give_coins(site.vera, 1000)
    send = site.send(site.vera, gift, quantity=quantity).send
    assert send.diamonds == diamonds
    assert ledger.balance(site.host, AccountKind.DIAMONDS) == diamonds
    assert platform_revenue() == platform
    entries = db.session.get(LedgerTransaction, send.transaction_id).entries
    assert all(e.amount != 0 for e in entries)
    assert len(entries) == 1 + (diamonds > 0) + (platform > 0)


def test_not_enough_coins_is_a_clear_refusal_with_the_balance_and_nothing_is_kept(site):
    give_coins(site.vera, 40)
    with pytest.raises(gifts.GiftError) as excinfo:
        site.send(site.vera, "Doughnut", quantity=2)
    body = excinfo.value.payload()
    assert body["code"] == "insufficient_funds"
    assert (body["balance"], body["needed"]) == (40, 60)
    assert body["wallet_url"] == "/wallet"
    assert "60" in body["error"] and "40" in body["error"] and "wallet" in body["error"]
    assert ledger.balance(site.vera) == 40
    assert db.session.scalar(select(func.count()).select_from(GiftSend)) == 0
    # Exactly the balance is enough.
    assert site.send(site.vera, "Doughnut", quantity=1).created
    assert ledger.balance(site.vera) == 10


# -- idempotency -------------------------------------------------------------------------
def test_the_same_key_returns_the_first_send_and_charges_once_even_after_the_live(site, monkeypatch):
    told = []
    monkeypatch.setattr(gifts, "emit_to_live", lambda live_id, event, payload: told.append(event))
    give_coins(site.vera, 100)
    first = site.send(site.vera, "Heart", key="click-1")
    again = site.send(site.vera, "Heart", key="click-1")
    assert again.created is False and again.send.id == first.send.id
    assert ledger.balance(site.vera) == 95
    assert told.count("gift") == 1
    # A retry that arrives after the live ended still gets its answer, not an error.
    lives.end_live(site.live, "host")
    late = site.send(site.vera, "Heart", key="click-1")
    assert late.send.id == first.send.id and ledger.balance(site.vera) == 95


def test_a_key_reused_for_another_gift_is_a_conflict_and_keys_are_per_person(site):
    give_coins(site.vera, 100)
    give_coins(site.victor, 100)
    site.send(site.vera, "Heart", key="same")
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.vera, "Rose", key="same")
    assert excinfo.value.code == "conflict"
    # Victor's "same" is his own key: he is charged for his gift.
    assert site.send(site.victor, "Heart", key="same").created
    assert (ledger.balance(site.vera), ledger.balance(site.victor)) == (95, 95)


def test_keys_are_checked_and_a_long_key_still_identifies_one_send(site):
    give_coins(site.vera, 100)
    for key in ("", "   ", "x" * 129, "bad\nkey", None):
        with pytest.raises(ValidationFailed):
            gifts.send_gift(site.live, site.vera, site.host.id, gift_named("Rose").id, 1, key)
    long_key = "k" * 128
    first = site.send(site.vera, "Rose", key=long_key)
    assert site.send(site.vera, "Rose", key=long_key).send.id == first.send.id
    assert len(gifts.ledger_key(site.vera.id, long_key)) <= ledger.IDEMPOTENCY_KEY_MAX
    assert ledger.balance(site.vera) == 99


# -- who may send, to whom ------------------------------------------------------------------
def test_gifts_go_to_the_host_or_a_guest_on_stage_and_never_to_oneself(site):
    give_coins(site.vera, 100)
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.vera, receiver=site.guest)
    assert refusal(excinfo) == ("not_found", "Gifts go to the host or to a guest on stage.")
    site.on_stage(site.victor, GuestStatus.REQUESTED)
    with pytest.raises(room.RoomError):
        site.send(site.vera, receiver=site.victor)
    site.on_stage(site.guest)
    send = site.send(site.vera, "Heart", receiver=site.guest).send
    assert send.receiver_id == site.guest.id
    assert ledger.balance(site.guest, AccountKind.DIAMONDS) == 2
    assert [u.id for u in gifts.receivers(site.live)] == [site.host.id, site.guest.id]
    # A guest on stage may send to the host, not to themselves.
    give_coins(site.guest, 10)
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.guest, receiver=site.guest)
    assert refusal(excinfo) == ("not_allowed", "You cannot send a gift to yourself.")
    assert site.send(site.guest, "Heart").created
    give_coins(site.host, 10)
    with pytest.raises(room.RoomError):
        site.send(site.host, receiver=site.host)
    # Off the stage again: no more gifts to them.
    row = db.session.scalar(select(LiveGuest).where(LiveGuest.user_id == site.guest.id))
    row.status = GuestStatus.LEFT
    db.session.commit()
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.vera, receiver=site.guest)
    assert excinfo.value.code == "not_found"


def test_sender_and_receiver_must_be_old_enough_and_the_age_is_a_setting(site):
    give_coins(site.minor, 10)
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.minor)
    assert refusal(excinfo) == ("not_allowed", "You must be at least 18 to send gifts.")
    site.on_stage(site.minor)
    give_coins(site.vera, 10)
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.vera, receiver=site.minor)
    # The sender is told the receiver cannot, never the receiver's age.
    assert refusal(excinfo) == ("not_allowed", "Kid cannot receive gifts.")
    assert ledger.balance(site.vera) == 10 and ledger.balance(site.minor) == 10
    set_setting("GIFT_MIN_AGE", 16)
    assert site.send(site.minor, "Heart").created
    assert site.send(site.vera, "Heart", receiver=site.minor).created


def test_a_receiver_who_turned_gifts_off_gets_none_until_they_turn_them_on(site):
    give_coins(site.vera, 10)
    assert gifts.accepts_gifts(site.host.id) is True
    gifts.set_accepts_gifts(site.host, False)
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.vera)
    assert refusal(excinfo) == ("gifts_off", "Maker does not accept gifts.")
    assert ledger.balance(site.vera) == 10
    gifts.set_accepts_gifts(site.host, True)
    assert site.send(site.vera).created


def test_kicked_banned_and_logged_out_senders_and_ended_lives_are_refused(site):
    give_coins(site.vera, 10)
    give_coins(site.victor, 10)
    with pytest.raises(room.RoomError) as excinfo:
        gifts.send_gift(site.live, None, site.host.id, gift_named("Rose").id, 1, "k")
    assert excinfo.value.code == "login_required"
    db.session.add(LiveSanction(live_id=site.live.id, user_id=site.vera.id, kind=SanctionKind.KICK))
    db.session.add(HostBan(host_id=site.host.id, user_id=site.victor.id))
    db.session.commit()
    with pytest.raises(PermissionDenied, match="removed from this live"):
        site.send(site.vera)
    with pytest.raises(PermissionDenied, match="banned you"):
        site.send(site.victor)
    # A guest banned from the site can no longer be sent anything.
    accounts.set_banned(site.guest, True)
    site.on_stage(site.guest)
    fred = make_user("fred")
    give_coins(fred, 10)
    with pytest.raises(room.RoomError) as excinfo:
        site.send(fred, receiver=site.guest)
    assert refusal(excinfo) == ("not_allowed", "Gina cannot receive gifts.")
    lives.end_live(site.live, "host")
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.vera)
    assert excinfo.value.code == "live_ended"
    assert [ledger.balance(p) for p in (site.vera, site.victor, fred)] == [10, 10, 10]


def test_quantity_and_gift_are_checked_and_retired_gifts_cannot_be_sent(site):
    give_coins(site.vera, 1000)
    for quantity in (0, 100, -1, True, "2", 1.5, None):
        with pytest.raises(room.RoomError) as excinfo:
            site.send(site.vera, quantity=quantity)
        assert excinfo.value.code == "invalid"
    assert site.send(site.vera, quantity=99).send.coins == 99
    for gift_id in (999, "1", None, True):
        with pytest.raises(room.RoomError) as excinfo:
            gifts.send_gift(site.live, site.vera, site.host.id, gift_id, 1, "kk")
        assert excinfo.value.code == "not_found"
    heart = gift_named("Heart")
    gifts.update_gift(site.admin, heart.id, active=False)
    with pytest.raises(room.RoomError) as excinfo:
        site.send(site.vera, heart.id)
    assert refusal(excinfo) == ("not_found", "This gift is no longer available.")
    assert ledger.balance(site.vera) == 901


def test_a_new_price_applies_to_gifts_sent_afterwards_only(site):
    give_coins(site.vera, 1000)
    first = site.send(site.vera, "Heart").send
    gifts.update_gift(site.admin, gift_named("Heart").id, coins=50)
    second = site.send(site.vera, "Heart").send
    assert (first.coins, second.coins) == (5, 50)
    assert ledger.balance(site.vera) == 945


# -- combos --------------------------------------------------------------------------------
def test_repeats_within_the_combo_window_count_up_and_a_pause_starts_again(site):
    set_setting("GIFT_COMBO_SECONDS", 5)
    give_coins(site.vera, 1000)
    t0 = utcnow()
    combos = []
    for seconds, quantity in ((0, 1), (3, 1), (7, 2), (11.9, 1), (20, 1), (24, 1)):
        send = site.send(site.vera, "Rose", quantity=quantity, now=t0 + timedelta(seconds=seconds)).send
        combos.append(gifts.combo_of(send))
    assert combos == [1, 2, 4, 5, 1, 2]
    # Another gift, another receiver or another sender each start their own streak.
    heart = site.send(site.vera, "Heart", now=t0 + timedelta(seconds=25)).send
    assert gifts.combo_of(heart) == 1
    give_coins(site.victor, 10)
    theirs = site.send(site.victor, "Rose", now=t0 + timedelta(seconds=25)).send
    assert gifts.combo_of(theirs) == 1
    assert gifts.send_payload(theirs)["combo"] == 1
    # The history counts the same streaks.
    recent = gifts.recent_sends(site.live)
    assert [g["combo"] for g in recent] == [1, 1, 2, 1, 5, 4, 2, 1]
    assert recent[0]["sender"]["username"] == "victor"


# -- top gifters and goal ------------------------------------------------------------------
def test_top_gifters_rank_coins_sent_in_this_live_and_keep_ten(site):
    give_coins(site.vera, 1000)
    give_coins(site.victor, 1000)
    site.send(site.vera, "Doughnut")
    site.send(site.victor, "Heart")
    site.send(site.victor, "Doughnut")
    assert [(t["user"]["username"], t["coins"]) for t in gifts.top_gifters(site.live)] == [
        ("victor", 35),
        ("vera", 30),
    ]
    site.send(site.vera, "Heart")  # a tie at 35: who got there first leads
    assert [t["user"]["username"] for t in gifts.top_gifters(site.live)] == ["vera", "victor"]
    fans = [make_user(f"fan{i}") for i in range(11)]
    for index, fan in enumerate(fans):
        give_coins(fan, 100)
        for _ in range(index + 1):
            site.send(fan, "Rose")
    top = gifts.top_gifters(site.live)
    assert len(top) == 10 and top[0]["coins"] == 35 and top[-1]["user"]["username"] == "fan3"
    # Another live of the same host starts from nothing.
    lives.end_live(site.live, "host")
    other = lives.start_live(site.host, title="Next")
    assert gifts.top_gifters(other) == []


def test_the_host_sets_a_goal_its_progress_counts_gifts_to_everyone_on_stage(site, monkeypatch):
    told = []
    monkeypatch.setattr(gifts, "emit_to_live", lambda live_id, event, payload: told.append((event, payload)))
    assert gifts.goal_payload(site.live) == {"target": None, "label": "", "progress": 0}
    goal = gifts.set_goal(site.live, site.host, 100, "  New microphone\n ")
    assert goal == {"target": 100, "label": "New microphone", "progress": 0}
    assert told[-1] == ("goal", goal)
    site.on_stage(site.guest)
    give_coins(site.vera, 1000)
    site.send(site.vera, "Doughnut")
    site.send(site.vera, "Doughnut", receiver=site.guest)
    assert gifts.goal_payload(site.live)["progress"] == 60
    assert ("goal", {"target": 100, "label": "New microphone", "progress": 60}) in told
    gifts.set_goal(site.live, site.admin, 500, "")  # an admin may act for the host
    assert gifts.goal_payload(site.live)["target"] == 500
    for bad in (0, 10_000_001, "100", True, None, 2.5):
        with pytest.raises(ValidationFailed):
            gifts.set_goal(site.live, site.host, bad, "x")
    with pytest.raises(ValidationFailed):
        gifts.set_goal(site.live, site.host, 10, "x" * 81)
    assert gifts.set_goal(site.live, site.host, 10_000_000, "y" * 80)["target"] == 10_000_000
    for someone in (site.vera, site.guest, None):
        with pytest.raises(room.RoomError):
            gifts.set_goal(site.live, someone, 10, "mine")
        with pytest.raises(room.RoomError):
            gifts.clear_goal(site.live, someone)
    cleared = gifts.clear_goal(site.live, site.host)
    assert cleared == {"target": None, "label": "", "progress": 60}
    assert told[-1] == ("goal", cleared)
    lives.end_live(site.live, "host")
    with pytest.raises(room.RoomError) as excinfo:
        gifts.set_goal(site.live, site.host, 10, "late")
    assert excinfo.value.code == "live_ended"


def test_what_each_person_received_in_the_live_and_the_join_state(site):
    site.on_stage(site.guest)
    give_coins(site.vera, 1000)
    site.send(site.vera, "Doughnut", quantity=2)
    site.send(site.vera, "Heart", receiver=site.guest)
    assert gifts.earned(site.live, site.host.id) == {"gifts": 2, "coins": 60, "diamonds": 30}
    assert gifts.earned(site.live, site.guest.id) == {"gifts": 1, "coins": 5, "diamonds": 2}
    state = room.state_payload(site.live, site.vera, 1)
    assert [g["name"] for g in state["gifts"]][:2] == ["Rose", "Heart"]
    assert [u["username"] for u in state["gift_receivers"]] == ["maker", "gina"]
    assert state["top_gifters"][0] == {"user": room.user_payload(site.vera), "coins": 65}
    assert state["goal"]["progress"] == 65
    assert state["you"]["coins"] == 935 and state["you"]["gifts_earned"] is None
    host_you = room.you_payload(site.live, site.host)
    assert host_you["gifts_earned"] == {"gifts": 2, "coins": 60, "diamonds": 30}
    assert room.you_payload(site.live, site.guest)["gifts_earned"]["diamonds"] == 2
    visitor = room.state_payload(site.live, None, 1)
    assert visitor["you"]["coins"] is None and visitor["gifts"]


# -- the receiver's notification ---------------------------------------------------------------
def test_the_receiver_gets_one_notification_per_sender_and_live_with_the_running_total(site):
    give_coins(site.vera, 1000)
    give_coins(site.victor, 1000)
    site.send(site.vera, "Rose")
    site.send(site.vera, "Rose", quantity=3)

    def rows():
        return list(
            db.session.scalars(
                select(Notification).where(
                    Notification.user_id == site.host.id, Notification.kind == "gift_received"
                )
            )
        )

    (row,) = rows()
    assert json.loads(row.data)["gifts"] == 4
    assert notifications.describe(row) == "Vera sent you 4 gifts in your live “Lesson”."
    notifications.mark_read(site.host)
    site.send(site.vera, "Heart")
    (row,) = rows()
    db.session.refresh(row)
    assert row.read_at is None and json.loads(row.data)["gifts"] == 5
    site.send(site.victor, "Heart")
    assert len(rows()) == 2
    one = next(r for r in rows() if r.actor_id == site.victor.id)
    assert notifications.describe(one) == "Victor sent you 1 gift in your live “Lesson”."
    assert notifications.unread_count_of(site.host.id) == 2


# -- races -----------------------------------------------------------------------------------
def test_threads_racing_with_repeated_keys_never_charge_twice_nor_overdraw(app):
    """Eight OS threads, each its own session, send the same handful of keys for one
    sender who can afford only some of them: every key is charged at most once, the
    balance never goes below zero, and the books balance."""
    import threading

    with app.app_context():
        site = Site()
        give_coins(site.vera, 100)
        live_id, vera_id, host_id = site.live.id, site.vera.id, site.host.id
        doughnut = gift_named("Doughnut").id  # 30 coins: three fit in 100, not four

    keys = [f"race-{n}" for n in range(6)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with app.app_context():
            for index in range(len(keys)):
                key = keys[(index + offset) % len(keys)]
                live = db.session.get(type(site.live), live_id)
                sender = db.session.get(type(site.vera), vera_id)
                try:
                    sent = gifts.send_gift(live, sender, host_id, doughnut, 1, key)
                    result = "sent" if sent.created else "replayed"
                except gifts.GiftError as exc:
                    result = exc.code
                except Exception as exc:  # noqa: BLE001 - any other failure fails the test below
                    result = f"error: {exc!r}"
                finally:
                    db.session.remove()
                with lock:
                    outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [o for o in outcomes if o.startswith("error")], outcomes
    with app.app_context():
        sends = db.session.scalar(select(func.count()).select_from(GiftSend))
        assert outcomes.count("sent") == sends == 3
        assert ledger.balance(vera_id) == 10
        assert ledger.balance(host_id, AccountKind.DIAMONDS) == 45
        keys_used = db.session.scalars(
            select(LedgerTransaction.idempotency_key).where(LedgerTransaction.type == TransactionType.GIFT)
        ).all()
        assert len(keys_used) == len(set(keys_used)) == 3
        assert ledger.check() == []
