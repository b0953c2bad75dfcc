"""Gifts over the live room's socket (docs/realtime.md, "Gifts"): gift_send and its
acknowledgement, the broadcasts to the room (gift, top_gifters, goal), the balance sent
to the sender's own connections only, the host's goal events, the join state, a retry
with the same key, and the rate limit.
"""

from __future__ import annotations

import pytest
from room_chat_support import (
    Clock,
    drain,
    join,
    login,
    make_site,
    put_on_stage,
    received,
    send,
    start,
    user_id,
)
from sqlalchemy import func, select

from livelite.extensions import db, socketio
from livelite.models import AccountKind, GiftSend, TransactionType
from livelite.services import accounts, gifts, ledger
from livelite.services.room import RateLimiter


@pytest.fixture
def site(app):
    with app.app_context():
        make_site()
    yield
    with app.app_context():
        assert ledger.check() == []


def give_coins(app, username: str, coins: int) -> None:
    with app.app_context():
        user = accounts.get_by_username(username)
        ledger.post(
            TransactionType.GRANT,
            [
                ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -coins),
                ledger.Leg(ledger.account_id(AccountKind.COINS, user), coins),
            ],
            key=f"test-grant:{username}:{coins}",
            reference="test",
        )
        db.session.commit()


def gift_id(app, name: str) -> int:
    with app.app_context():
        return next(g.id for g in gifts.catalogue() if g.name == name)


def coins_of(app, username: str, kind=AccountKind.COINS) -> int:
    with app.app_context():
        return ledger.balance(accounts.get_by_username(username), kind)


def sends(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(GiftSend))


def gift_send(client, receiver_id, gift, quantity=1, key="key-1") -> dict:
    return send(
        client,
        "gift_send",
        {"receiver_id": receiver_id, "gift_id": gift, "quantity": quantity, "idempotency_key": key},
    )


def test_a_gift_is_acknowledged_with_the_new_balance_and_the_room_sees_it(app, site):
    live_id = start(app)
    give_coins(app, "stranger", 100)
    host = join(app, live_id, "maker")
    viewer = join(app, live_id, "stranger")
    other = join(app, live_id, "third")
    visitor = join(app, live_id)
    drain(host, viewer, other, visitor)
    maker_id, doughnut = user_id(app, "maker"), gift_id(app, "Doughnut")

    ack = gift_send(viewer, maker_id, doughnut, quantity=2)
    assert ack["ok"] is True and ack["balance"] == 40 and ack["replayed"] is False
    sent = ack["gift_send"]
    assert sent["gift"]["name"] == "Doughnut" and sent["gift"]["icon_url"] == "/static/img/gifts/doughnut.svg"
    assert (sent["quantity"], sent["coins"], sent["combo"], sent["animation"]) == (2, 60, 2, "burst")
    assert sent["sender"]["username"] == "stranger" and sent["receiver"]["username"] == "maker"

    for client in (host, other, visitor, viewer):
        got = client.get_received("/live")
        assert [m["args"][0] for m in got if m["name"] == "gift"] == [sent]
        # Another person's balance is theirs alone.
        assert ("balance" in [m["name"] for m in got]) == (client is viewer)
    assert coins_of(app, "maker", AccountKind.DIAMONDS) == 30


def test_the_room_gets_the_ranking_and_goal_and_only_the_senders_tabs_get_the_balance(app, site):
    live_id = start(app)
    give_coins(app, "stranger", 100)
    host = join(app, live_id, "maker")
    browser = login(app, "stranger")
    tab1 = join(app, live_id, browser=browser)
    tab2 = join(app, live_id, browser=browser)
    other = join(app, live_id, "third")
    assert send(host, "goal_set", {"target_coins": 50, "label": "New lights"}) == {
        "ok": True,
        "goal": {"target": 50, "label": "New lights", "progress": 0},
    }
    drain(host, tab1, tab2, other)

    assert gift_send(tab1, user_id(app, "maker"), gift_id(app, "Doughnut"))["ok"] is True
    for client in (host, other, tab2):
        got = client.get_received("/live")
        by_name = {m["name"]: m["args"][0] for m in got}
        assert by_name["top_gifters"] == {"gifters": [{"user": by_name["gift"]["sender"], "coins": 30}]}
        assert by_name["goal"] == {"target": 50, "label": "New lights", "progress": 30}
        assert by_name.get("balance") == ({"coins": 70} if client is tab2 else None)
        # The host's takings go to the host alone.
        assert by_name.get("gifts_earned") == (
            {"gifts": 1, "coins": 30, "diamonds": 15} if client is host else None
        )


def test_the_host_is_told_their_takings_in_this_live(app, site):
    live_id = start(app)
    give_coins(app, "stranger", 100)
    host = join(app, live_id, "maker")
    viewer = join(app, live_id, "stranger")
    state = received(host, "room_state")[0]
    assert state["you"]["gifts_earned"] == {"gifts": 0, "coins": 0, "diamonds": 0}
    drain(viewer)
    gift_send(viewer, user_id(app, "maker"), gift_id(app, "Heart"), quantity=3)
    assert received(host, "gifts_earned") == [{"gifts": 3, "coins": 15, "diamonds": 7}]
    assert received(viewer, "gifts_earned") == []
    # A reloaded studio lists what came in; viewers get no such list.
    assert state["recent_gifts"] == []
    assert [g["quantity"] for g in send(host, "gift_state")["recent_gifts"]] == [3]
    assert "recent_gifts" not in send(viewer, "gift_state")


def test_join_state_has_the_catalogue_the_receivers_goal_ranking_and_your_coins(app, site):
    live_id = start(app)
    give_coins(app, "stranger", 77)
    put_on_stage(app, live_id, "onstage")
    viewer = join(app, live_id, "stranger")
    (state,) = received(viewer, "room_state")
    assert [g["name"] for g in state["gifts"]] == [name for name, *_ in gifts.DEFAULTS]
    assert [u["username"] for u in state["gift_receivers"]] == ["maker", "onstage"]
    assert state["goal"] == {"target": None, "label": "", "progress": 0}
    assert state["top_gifters"] == []
    assert state["you"]["coins"] == 77
    visitor = join(app, live_id)
    assert received(visitor, "room_state")[0]["you"]["coins"] is None
    # The picker's refresh, for visitors too (no coins).
    fresh = send(visitor, "gift_state")
    assert fresh["ok"] is True and fresh["coins"] is None and len(fresh["gifts"]) == 7
    assert send(viewer, "gift_state")["coins"] == 77


def test_a_retry_with_the_same_key_charges_once_and_is_broadcast_once(app, site):
    live_id = start(app)
    give_coins(app, "stranger", 100)
    viewer = join(app, live_id, "stranger")
    other = join(app, live_id, "third")
    drain(viewer, other)
    maker_id, heart = user_id(app, "maker"), gift_id(app, "Heart")
    first = gift_send(viewer, maker_id, heart, key="dbl-click")
    second = gift_send(viewer, maker_id, heart, key="dbl-click")
    assert second["ok"] is True and second["replayed"] is True
    assert second["gift_send"]["id"] == first["gift_send"]["id"] and second["balance"] == 95
    assert coins_of(app, "stranger") == 95 and sends(app) == 1
    assert len(received(other, "gift")) == 1
    # Another tab of the same person retrying gets the same answer.
    tab = join(app, live_id, "stranger")
    assert gift_send(tab, maker_id, heart, key="dbl-click")["gift_send"]["id"] == first["gift_send"]["id"]
    assert coins_of(app, "stranger") == 95
    # The key for another gift is refused.
    clash = gift_send(viewer, maker_id, gift_id(app, "Rose"), key="dbl-click")
    assert clash["ok"] is False and clash["code"] == "conflict"


def test_refusals_come_back_in_the_room_error_shape_and_charge_nothing(app, site):
    live_id = start(app)
    give_coins(app, "stranger", 10)
    viewer = join(app, live_id, "stranger")
    visitor = join(app, live_id)
    drain(viewer, visitor)
    maker_id = user_id(app, "maker")

    poor = gift_send(viewer, maker_id, gift_id(app, "Doughnut"))
    assert poor["ok"] is False and poor["code"] == "insufficient_funds"
    assert (poor["balance"], poor["needed"], poor["wallet_url"]) == (10, 30, "/wallet")
    assert received(viewer, "room_error") == [poor]

    assert gift_send(visitor, maker_id, gift_id(app, "Rose"))["code"] == "login_required"
    assert gift_send(viewer, user_id(app, "third"), gift_id(app, "Rose"))["code"] == "not_found"
    assert gift_send(viewer, maker_id, gift_id(app, "Rose"), key="")["code"] == "invalid"
    assert gift_send(viewer, maker_id, gift_id(app, "Rose"), quantity=0)["code"] == "invalid"
    assert send(viewer, "gift_send", "not a dict")["code"] == "invalid"
    assert coins_of(app, "stranger") == 10 and sends(app) == 0


def test_a_viewer_forging_goal_events_is_refused_and_nothing_reaches_the_room(app, site):
    live_id = start(app)
    host = join(app, live_id, "maker")
    mod = join(app, live_id, "mod")
    viewer = join(app, live_id, "stranger")
    drain(host, mod, viewer)
    forged = send(viewer, "goal_set", {"target_coins": 1, "label": "hacked"})
    assert forged["ok"] is False and forged["code"] == "not_allowed"
    # Moderators run the chat; the goal is the host's.
    assert send(mod, "goal_set", {"target_coins": 1, "label": "x"})["code"] == "not_allowed"
    assert send(viewer, "goal_clear")["code"] == "not_allowed"
    assert received(host, "goal") == []
    bad = send(host, "goal_set", {"target_coins": 0})
    assert bad["ok"] is False and bad["code"] == "invalid"
    assert send(host, "goal_set", {"target_coins": 200})["goal"] == {
        "target": 200,
        "label": "",
        "progress": 0,
    }
    assert received(viewer, "goal") == [{"target": 200, "label": "", "progress": 0}]
    assert send(host, "goal_clear")["goal"]["target"] is None
    assert received(viewer, "goal") == [{"target": None, "label": "", "progress": 0}]


def test_gift_send_is_rate_limited_per_person_with_retry_after(app, site):
    clock = Clock()
    app.extensions["livelite.room_limits"] = RateLimiter(clock=clock.monotonic)
    live_id = start(app)
    give_coins(app, "stranger", 100)
    give_coins(app, "third", 100)
    viewer = join(app, live_id, "stranger")
    other = join(app, live_id, "third")
    maker_id, rose = user_id(app, "maker"), gift_id(app, "Rose")
    for n in range(10):
        assert gift_send(viewer, maker_id, rose, key=f"r{n}")["ok"] is True
    limited = gift_send(viewer, maker_id, rose, key="r10")
    assert limited["ok"] is False and limited["code"] == "rate_limited" and limited["retry_after"] == 1
    assert gift_send(other, maker_id, rose, key="r0")["ok"] is True  # someone else is not slowed
    clock.advance(1)
    assert gift_send(viewer, maker_id, rose, key="r10")["ok"] is True
    assert coins_of(app, "stranger") == 89


def test_combos_count_up_over_the_socket(app, site):
    live_id = start(app)
    give_coins(app, "stranger", 100)
    viewer = join(app, live_id, "stranger")
    other = join(app, live_id, "third")
    drain(viewer, other)
    maker_id, rose = user_id(app, "maker"), gift_id(app, "Rose")
    combos = [gift_send(viewer, maker_id, rose, key=f"c{n}")["gift_send"]["combo"] for n in range(3)]
    assert combos == [1, 2, 3]
    assert [g["combo"] for g in received(other, "gift")] == [1, 2, 3]


def test_a_gift_to_a_guest_on_stage_reaches_them(app, site):
    live_id = start(app)
    put_on_stage(app, live_id, "onstage")
    give_coins(app, "stranger", 100)
    guest = join(app, live_id, "onstage")
    viewer = join(app, live_id, "stranger")
    drain(guest, viewer)
    ack = gift_send(viewer, user_id(app, "onstage"), gift_id(app, "Heart"))
    assert ack["gift_send"]["receiver"]["username"] == "onstage"
    assert received(guest, "gifts_earned") == [{"gifts": 1, "coins": 5, "diamonds": 2}]


def test_a_read_only_token_connection_cannot_send(app, site):
    live_id = start(app)
    with app.app_context():
        from factories import make_token

        secret = make_token(accounts.get_by_username("stranger"), scopes=("read",))
    client = socketio.test_client(app, namespace="/live", auth={"live_id": live_id, "token": secret})
    drain(client)
    assert gift_send(client, user_id(app, "maker"), gift_id(app, "Rose"))["code"] == "login_required"
