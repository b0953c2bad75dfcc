"""Who may go live and who may send or receive gifts (livelite.services.policy)."""

from __future__ import annotations

from datetime import date

import pytest
from factories import (
    birth_date_for_age,
    birth_date_just_under,
    make_admin,
    make_followers,
    make_token,
    make_user,
)

from livelite.models import Role
from livelite.services import accounts
from livelite.services.policy import age_on, may_go_live, may_receive_gifts, may_send_gifts
from livelite.services.settings import set_setting

TODAY = date(2026, 6, 15)
TOO_YOUNG_LIVE = "You must be at least 16 to go live."


def followers_reason(needed, have):
    return (
        f"Going live needs {needed} followers (you have {have}) or live access granted by an admin."
    )


@pytest.fixture
def ctx(app):
    with app.app_context():
        make_admin()
        yield app


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (date(2010, 6, 15), date(2026, 6, 14), 15),  # the day before the birthday
        (date(2010, 6, 15), date(2026, 6, 15), 16),  # on the birthday
        (date(2010, 6, 15), date(2026, 12, 31), 16),
        (date(2010, 12, 31), date(2027, 1, 1), 16),
        (date(2008, 2, 29), date(2024, 2, 28), 15),
        (date(2008, 2, 29), date(2024, 2, 29), 16),  # a leap year: the real birthday
        (date(2008, 2, 29), date(2025, 2, 28), 16),  # not a leap year: still 16 on the 28th...
        (date(2008, 2, 29), date(2025, 3, 1), 17),  # ...and 17 on 1 March
        (date(2000, 1, 1), date(2000, 1, 1), 0),
    ],
)
def test_age_on(born, today, age):
    assert age_on(born, today) == age


def test_under_age_may_not_go_live_even_as_creator(ctx):
    user = make_user("young", birth_date=birth_date_just_under(16, TODAY), role=Role.CREATOR)
    decision = may_go_live(user, TODAY)
    assert not decision
    assert decision.reasons == [TOO_YOUNG_LIVE]


def test_age_at_threshold_with_creator_role_may_go_live(ctx):
    user = make_user("sixteen", birth_date=birth_date_for_age(16, TODAY), role=Role.CREATOR)
    decision = may_go_live(user, TODAY)
    assert decision.allowed and decision.reasons == []


def test_members_need_followers_with_the_default_threshold(ctx):
    user = make_user("member", birth_date=birth_date_for_age(30, TODAY))
    decision = may_go_live(user, TODAY)
    assert not decision
    assert decision.reasons == [followers_reason(1000, 0)]


def test_young_member_gets_both_reasons(ctx):
    user = make_user("kid", birth_date=birth_date_for_age(14, TODAY))
    assert may_go_live(user, TODAY).reasons == [TOO_YOUNG_LIVE, followers_reason(1000, 0)]


def test_follower_threshold_below_and_at(ctx):
    set_setting("LIVE_MIN_FOLLOWERS", 3)
    user = make_user("rising", birth_date=birth_date_for_age(20, TODAY))
    make_followers(user, 2)
    decision = may_go_live(user, TODAY)
    assert not decision
    assert decision.reasons == [followers_reason(3, 2)]

    make_followers(user, 1)
    assert may_go_live(user, TODAY).allowed


def test_losing_a_follower_below_the_threshold_takes_it_back(ctx):
    set_setting("LIVE_MIN_FOLLOWERS", 2)
    user = make_user("fickle", birth_date=birth_date_for_age(20, TODAY))
    fans = make_followers(user, 2)
    assert may_go_live(user, TODAY)
    accounts.unfollow(fans[0], user)
    assert not may_go_live(user, TODAY)


def test_thresholds_follow_settings(ctx):
    user = make_user("fifteen", birth_date=birth_date_for_age(15, TODAY), role=Role.CREATOR)
    assert not may_go_live(user, TODAY)
    set_setting("LIVE_MIN_AGE", 15)
    assert may_go_live(user, TODAY)
    set_setting("LIVE_MIN_AGE", 18)
    assert may_go_live(user, TODAY).reasons == ["You must be at least 18 to go live."]

    member = make_user("plain", birth_date=birth_date_for_age(40, TODAY))
    set_setting("LIVE_MIN_FOLLOWERS", 0)
    assert may_go_live(member, TODAY)


@pytest.mark.parametrize("role", [Role.CREATOR, Role.ADMIN])
def test_creator_and_admin_need_no_followers(ctx, role):
    user = make_user(f"r_{role.value}", birth_date=birth_date_for_age(25, TODAY), role=role)
    assert user.follower_count == 0
    assert may_go_live(user, TODAY).allowed


def test_moderator_role_alone_does_not_grant_live(ctx):
    user = make_user("mod", birth_date=birth_date_for_age(25, TODAY), role=Role.MODERATOR)
    assert may_go_live(user, TODAY).reasons == [followers_reason(1000, 0)]


def test_banned_may_do_nothing(ctx):
    user = make_user("outlaw", birth_date=birth_date_for_age(30, TODAY), role=Role.CREATOR, banned=True)
    for decision in (may_go_live(user, TODAY), may_send_gifts(user, TODAY), may_receive_gifts(user, TODAY)):
        assert not decision
        assert decision.reasons == ["Your account is banned."]


@pytest.mark.parametrize(
    ("birth", "allowed"),
    [
        (birth_date_just_under(18, TODAY), False),
        (birth_date_for_age(17, TODAY), False),
        (birth_date_for_age(18, TODAY), True),
        (birth_date_for_age(60, TODAY), True),
    ],
)
def test_gifts_need_18(ctx, birth, allowed):
    user = make_user("giver", birth_date=birth)
    send, receive = may_send_gifts(user, TODAY), may_receive_gifts(user, TODAY)
    assert send.allowed is allowed and receive.allowed is allowed
    if not allowed:
        assert send.reasons == ["You must be at least 18 to send gifts."]
        assert receive.reasons == ["You must be at least 18 to receive gifts."]


def test_gift_age_follows_the_setting(ctx):
    user = make_user("seventeen", birth_date=birth_date_for_age(17, TODAY))
    set_setting("GIFT_MIN_AGE", 17)
    assert may_send_gifts(user, TODAY) and may_receive_gifts(user, TODAY)
    set_setting("GIFT_MIN_AGE", 21)
    assert may_send_gifts(user, TODAY).reasons == ["You must be at least 21 to send gifts."]


def test_leap_day_birthdays_count_on_29_february_or_1_march(ctx):
    creator = make_user("leap", birth_date=date(2008, 2, 29), role=Role.CREATOR)
    # 2024 is a leap year: 16 on 29 February.
    assert not may_go_live(creator, date(2024, 2, 28))
    assert may_go_live(creator, date(2024, 2, 29))
    # 2026 is not: 18 on 1 March, not on 28 February.
    assert not may_send_gifts(creator, date(2026, 2, 28))
    assert may_send_gifts(creator, date(2026, 3, 1))


# --- /api/v1/me -------------------------------------------------------------------


def test_me_reports_may_go_live_with_reasons(app, client):
    with app.app_context():
        make_admin()
        kid = make_user("kid", birth_date=birth_date_for_age(15))
        secret = make_token(kid)
    body = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert body["username"] == "kid"
    assert body["may_go_live"] == {
        "allowed": False,
        "reasons": [TOO_YOUNG_LIVE, followers_reason(1000, 0)],
    }
    assert body["may_send_gifts"] == {"allowed": False, "reasons": ["You must be at least 18 to send gifts."]}


def test_me_reports_allowed_for_a_creator(app, client, auth):
    with app.app_context():
        make_admin()
        make_user("star", role=Role.CREATOR, age=30)
    auth.login("star")
    body = client.get("/api/v1/me").get_json()
    assert body["role"] == "creator"
    assert body["may_go_live"] == {"allowed": True, "reasons": []}
    assert body["may_send_gifts"] == {"allowed": True, "reasons": []}
