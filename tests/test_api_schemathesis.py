"""Every operation of the app's own OpenAPI document (/api/v1/openapi.json), fuzzed by
schemathesis in-process (WSGI): no answer is a 5xx, every status code is documented,
and every body has the documented content type and matches the documented schema.

The caller is the site admin with a read-and-write token, so most operations get past
401. A site is seeded first through the API itself (a live on air, an ended live with
a real recording and its replay, events, a story, groups, a webhook and a delivery,
coin packages and requests, a report, an access request, a cash-out, a push
subscription...), and every path id is drawn either by schemathesis or from the ids of
those rows, so generated requests reach real rows — the admin's own and other people's.
Bodies and queries are the generated ones, or for the writes whose rules random data
hardly meets a body that can succeed (``valid_bodies``), and either with every number
made too large for a database integer (``huge``: how the 500s fixed in
test_errors_pages were found, and what a short run would hardly ever send).

Two operations are left out because they would end the run's own credentials:
``DELETE /api/v1/tokens/{token_id}`` (revoke the token) and ``DELETE /api/v1/me``
(delete the account). Promoting someone to admin and then demoting the run's own
account is also kept from happening (``keep_the_admin``).

DELETE operations run in a test of their own, on a freshly seeded site, so that
deleting the seeded rows early does not leave the other operations with nothing
but 404s.

Examples per operation: ``LIVELITE_SCHEMATHESIS_EXAMPLES`` (default 8: about two
minutes on two idle CPUs, most of it schemathesis's own boundary cases, which do not
depend on that number); the seed is fixed, so a run is the same each time. For a
bigger hunt:
``LIVELITE_SCHEMATHESIS_EXAMPLES=200 python -m pytest tests/test_api_schemathesis.py``.
"""

from __future__ import annotations

import inspect
import io
import os
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from factories import PASSWORD, make_admin, make_token, make_user
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from media_support import publish_recording
from push_support import Browser
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from video_media import png_bytes

from livelite.extensions import db
from livelite.models import Role, User
from livelite.services import chat, lives, notifications, questions, replays, tokens

EXAMPLES = int(os.environ.get("LIVELITE_SCHEMATHESIS_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
HUGE = 10**30
# They would revoke the run's token or delete the run's account.
LEFT_OUT = {("DELETE", "/api/v1/tokens/{token_id}"), ("DELETE", "/api/v1/me")}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class Seeder:
    """Calls the API as one person and insists that each call works."""

    def __init__(self, client, secret: str):
        self.client = client
        self.headers = bearer(secret)

    def __call__(self, method: str, url: str, **kwargs):
        response = self.client.open(url, method=method, headers=self.headers, **kwargs)
        assert 200 <= response.status_code < 300, (method, url, response.status_code, response.get_data(True))
        return response.get_json(silent=True)


def seed(app) -> dict:
    """The site the requests land on. Returns the pools of path values by parameter
    name, and the admin's token secret."""
    with app.app_context():
        admin = make_admin()
        cris = make_user("cris", display_name="Cris Creator", role=Role.CREATOR)
        mia = make_user("mia", display_name="Mia Member")
        moe = make_user("moe", display_name="Moe Moderator", role=Role.MODERATOR)
        make_user("bea", display_name="Bea Banned")
        # The credential of the run, made as the brief of this test says.
        _token, secret = tokens.create_token(admin, "st", ["read", "write"])
        secrets = {
            name: make_token(person, ("read", "write"))
            for name, person in (("cris", cris), ("mia", mia), ("moe", moe))
        }
        ids = {"admin": admin.id, "cris": cris.id, "mia": mia.id, "moe": moe.id}
    client = app.test_client()
    as_admin, as_cris, as_mia = (
        Seeder(client, secret),
        Seeder(client, secrets["cris"]),
        Seeder(client, secrets["mia"]),
    )
    as_moe = Seeder(client, secrets["moe"])
    pools: dict[str, list] = defaultdict(list)

    # An ended live of the admin with a real recording, hence a replay.
    recorded = as_admin("POST", "/api/v1/lives", json={"title": "Recorded", "start": True})["id"]
    publish_recording(app, recorded, seconds=2)
    app.extensions["livelite.media"].end_live(recorded, "host")
    with app.app_context():
        replay = replays.replay_of_live(lives.get_live(recorded))
        assert replay is not None
        pools["replay_id"].append(replay.id)
        replays.make_pending()  # its MP4, so that it can be posted

    # Groups, events, lives on air (the admin's and a creator's).
    group = as_admin("POST", "/api/v1/groups", json={"name": "Morning class"})["id"]
    as_admin("POST", f"/api/v1/groups/{group}/members", json={"usernames": ["mia", "moe"]})
    other_group = as_cris("POST", "/api/v1/groups", json={"name": "Cris's class"})["id"]
    pools["group_id"] += [group, other_group]
    starts = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for who, title in ((as_admin, "Admin's event"), (as_cris, "Cris's event")):
        pools["event_id"].append(
            who("POST", "/api/v1/events", json={"title": title, "starts_at": starts})["id"]
        )
    live = as_admin("POST", "/api/v1/lives", json={"title": "On air", "start": True})["id"]
    other_live = as_cris("POST", "/api/v1/lives", json={"title": "Cris on air", "start": True})["id"]
    pools["live_id"] += [live, other_live, recorded]

    # The room: a chat message and a question from Mia, a muted and a banned viewer,
    # a moderator, blocked words.
    with app.app_context():
        on_air, mia_user = lives.get_live(live), db.session.get(User, ids["mia"])
        pools["message_id"].append(chat.send_message(on_air, mia_user, "Hello there")["id"])
        for who, body in (("mia", "What camera is that?"), ("moe", "Which lens?"), ("cris", "Where?")):
            pools["question_id"].append(questions.ask(on_air, db.session.get(User, ids[who]), body).id)
    as_admin("POST", "/api/v1/moderators", json={"username": "moe"})
    as_admin("POST", f"/api/v1/lives/{live}/mutes", json={"user_id": ids["mia"], "duration": "10m"})
    with app.app_context():
        bea = db.session.scalar(db.select(User).where(User.username == "bea"))
        pools["user_id"].append(bea.id)
    as_admin("POST", f"/api/v1/lives/{live}/bans", json={"user_id": pools["user_id"][0]})
    pools["user_id"] += [ids["cris"], ids["mia"], ids["moe"]]
    as_admin("PUT", "/api/v1/blocked-words", json={"words": ["spoiler"]})

    # Money: a coin package, coins for Mia, a coin request, gifts to the admin and a
    # cash-out request of the admin's diamonds.
    as_admin("PATCH", "/api/v1/admin/settings", json={"CASHOUT_MIN_DIAMONDS": 10})
    package = as_admin("POST", "/api/v1/admin/coin-packages", json={"coins": 100, "price_cents": 199})
    pools["package_id"].append(package["id"])
    for username in ("mia", "siteadmin"):
        as_admin(
            "POST", "/api/v1/admin/coin-grants",
            json={"username": username, "coins": 1000, "idempotency_key": f"seed-{username}", "memo": "Seed"},
        )  # fmt: skip
    coin_request = as_mia(
        "POST", "/api/v1/coin-requests", json={"package_id": package["id"], "idempotency_key": "seed-coins"}
    )
    pools["request_id"].append(coin_request["id"])
    gift = as_admin("GET", "/api/v1/gifts")[0]
    pools["gift_id"].append(gift["id"])
    as_mia(
        "POST", f"/api/v1/lives/{live}/gifts",
        json={"gift_id": gift["id"], "receiver_id": ids["admin"], "quantity": 20, "idempotency_key": "seed-gift"},
    )  # fmt: skip
    cashout = as_admin(
        "POST", "/api/v1/cashouts",
        json={"diamonds": 10, "idempotency_key": "seed-cashout", "payout_details": "IBAN FR76 0000"},
    )  # fmt: skip
    pools["request_id"].append(cashout["id"])

    # What people ask the admins for: live access, a report.
    access = as_mia("POST", "/api/v1/access-requests", json={"reason": "I teach guitar."})
    pools["request_id"].append(access["id"])
    report = as_moe("POST", "/api/v1/reports", json={"user_id": ids["cris"], "reason": "Spam links"})
    pools["report_id"].append(report["id"])

    # A webhook with a delivery, a registration invite, a story, a push subscription.
    hook = as_admin(
        "POST", "/api/v1/admin/webhooks",
        json={"url": "https://hooks.example.com/livelite", "events": ["live.started"]},
    )  # fmt: skip
    pools["webhook_id"].append(hook["id"])
    as_admin("POST", f"/api/v1/admin/webhooks/{hook['id']}/test")
    deliveries = as_admin("GET", f"/api/v1/admin/webhooks/{hook['id']}/deliveries")
    pools["delivery_id"] += [d["id"] for d in deliveries["items"]]
    invite = as_admin("POST", "/api/v1/admin/registration-invites", json={"note": "For the class"})
    pools["invite_id"].append(invite["id"])
    for who in (as_admin, as_cris):
        story = who(
            "POST", "/api/v1/videos",
            data={"kind": "story", "caption": "Backstage", "file": (io.BytesIO(png_bytes()), "story.png")},
        )  # fmt: skip
        pools["video_id"].append(story["id"])
    subscription = as_admin(
        "POST", "/api/v1/push/subscriptions", json=Browser().subscription("https://push.example.com/sub/1")
    )
    pools["subscription_id"].append(subscription["id"])
    pools["username"] += ["siteadmin", "cris", "mia", "moe", "bea"]
    return {"pools": dict(pools), "secret": secret, "admin_id": ids["admin"], "ids": ids}


def valid_bodies(site) -> dict:
    """For the writes whose rules random data hardly ever meets (a date in the future,
    a known username, an icon that exists...): a body that can succeed, drawn half the
    time instead of the generated one, so the 2xx answers get their schema checked too."""
    ids = site["ids"]
    key = st.uuids().map(lambda u: u.hex)
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    event = {"title": "Guitar workshop", "description": "Bring a capo.", "starts_at": later}
    return {
        "POST /api/v1/accounts": key.map(
            lambda k: {
                "username": f"u{k[:12]}",
                "display_name": "New Person",
                "email": f"{k[:12]}@example.com",
                "password": PASSWORD,
                "birth_date": "1990-04-01",
            }
        ),
        "POST /api/v1/admin/coin-grants": key.map(
            lambda k: {"username": "mia", "coins": 10, "idempotency_key": k, "memo": "Thanks"}
        ),
        "POST /api/v1/admin/gifts": st.just(
            {"name": "Star", "icon": "gem.svg", "coins": 5, "animation": "rain"}
        ),
        "POST /api/v1/admin/webhooks": st.just(
            {"url": "https://hooks.example.com/two", "events": ["live.started", "gift.received"]}
        ),
        "POST /api/v1/cashouts": key.map(
            lambda k: {"diamonds": 10, "idempotency_key": k, "payout_details": "IBAN FR76 0001"}
        ),
        "POST /api/v1/events": st.just(event),
        "PUT /api/v1/events/{event_id}": st.just({**event, "title": "Guitar workshop, moved"}),
        "PATCH /api/v1/groups/{group_id}": st.just({"name": "Evening class"}),
        "DELETE /api/v1/groups/{group_id}/members": st.just({"usernames": ["moe"]}),
        "POST /api/v1/groups/{group_id}/members": st.just({"usernames": ["cris"]}),
        "POST /api/v1/lives/{live_id}/bans": st.just({"user_id": ids["moe"]}),
        "POST /api/v1/lives/{live_id}/gifts": key.map(
            lambda k: {
                "gift_id": site["pools"]["gift_id"][0],
                "receiver_id": ids["cris"],
                "idempotency_key": k,
            }
        ),
        "POST /api/v1/lives/{live_id}/kicks": st.just({"user_id": ids["mia"]}),
        "POST /api/v1/lives/{live_id}/mutes": st.just({"user_id": ids["mia"], "duration": "1m"}),
        "PUT /api/v1/lives/{live_id}/goal": st.just({"target_coins": 500, "label": "New lights"}),
        "PATCH /api/v1/lives/{live_id}/room-settings": st.just(
            {"slow_mode_seconds": 10, "followers_only": True}
        ),
        "POST /api/v1/me/password": st.just({"current_password": PASSWORD, "new_password": PASSWORD}),
        "POST /api/v1/moderators": st.just({"username": "mia"}),
        "POST /api/v1/push/subscriptions": st.just(Browser().subscription("https://push.example.com/sub/2")),
        "POST /api/v1/reports": st.just({"user_id": ids["cris"], "reason": "Shouting in the chat"}),
        "POST /api/v1/videos": st.just({"kind": "story", "caption": "On stage", "file": png_bytes()}),
    }


def huge(value):
    """``value`` with every integer in it made too large for a database integer: what
    random generation hardly ever sends, and what once reached SQLite as a 500."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return HUGE
    if isinstance(value, dict):
        return {key: huge(item) for key, item in value.items()}
    if isinstance(value, list):
        return [huge(item) for item in value]
    return value


class Run:
    """The app, its seeded site, and what each operation answered (to check that the
    run reached real rows)."""

    def __init__(self, app, site):
        self.app = app
        self.site = site
        self.statuses: dict[str, Counter] = defaultdict(Counter)


@pytest.fixture
def st_run(make_app):
    app = make_app(PUSH_ALLOW_PRIVATE_ENDPOINTS=True)
    site = seed(app)
    run = Run(app, site)
    yield run
    # The run kept its credential: the token still works and the account is an admin.
    me = app.test_client().get("/api/v1/me", headers=bearer(site["secret"]))
    assert me.status_code == 200 and me.get_json()["role"] == "admin", me.get_data(True)
    # The seeded rows were reached: most operations succeeded at least once. (Some
    # cannot for this caller: an admin asking for live access, a token making tokens.)
    never = sorted(label for label, seen in run.statuses.items() if not any(200 <= s < 300 for s in seen))
    assert len(never) <= len(run.statuses) // 5, f"never a 2xx: {never}"
    app.extensions["livelite.media"].shutdown()


@pytest.fixture
def api_schema(st_run):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", st_run.app)
    pools, admin_id = st_run.site["pools"], st_run.site["admin_id"]

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        """Each path value: the generated one or one of the seeded rows'."""
        if not path_parameters:
            return st.just(path_parameters)
        return st.fixed_dictionaries(
            {name: st.sampled_from([value, *pools.get(name, [])]) for name, value in path_parameters.items()}
        )

    bodies = valid_bodies(st_run.site)

    @schema.hook
    def flatmap_body(context, body):
        """The generated body, or one that can succeed (``valid_bodies``); either one
        with its numbers too large for the database (``huge``)."""
        valid = bodies.get(context.operation.label) if context.operation else None
        choices = [st.just(body), st.just(huge(body))]
        if valid is not None:
            choices += [valid, valid.map(huge)]
        return st.one_of(*choices)

    @schema.hook
    def flatmap_query(context, query):
        return st.one_of(st.just(query), st.just(huge(query)))

    @schema.hook
    def filter_path_parameters(context, path_parameters):
        """keep_the_admin: never change the run's own role (another admin made on the
        way would let the last one be demoted)."""
        path = context.operation.path if context.operation else ""
        return not (path.endswith("/role") and path_parameters.get("user_id") == admin_id)

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")
for _method, _path in sorted(LEFT_OUT):
    schema = schema.exclude(method=_method, path=_path)

SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def call(case, st_run):
    response = case.call_and_validate(headers=bearer(st_run.site["secret"]), checks=CHECKS)
    st_run.statuses[case.operation.label][response.status_code] += 1


@schema.exclude(method="DELETE").parametrize()
@SETTINGS
def test_every_operation_but_deletes(case, st_run):
    call(case, st_run)


@schema.include(method="DELETE").parametrize()
@SETTINGS
def test_every_delete(case, st_run):
    call(case, st_run)


def test_the_documented_notification_kinds_are_the_ones_described():
    """The API documents ``kind`` as an enum (found missing eleven kinds by this
    module): every kind that ``describe`` has a sentence for is in it."""
    described = set(re.findall(r'row\.kind == "(\w+)"', inspect.getsource(notifications.describe)))
    assert described == set(notifications.KINDS)
