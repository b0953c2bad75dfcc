"""The gifts API (blueprints/api/gifts.py): the catalogue, sending with an idempotency
key (201 then 200, charged once), refusals with the room's code and the figures of a
missing balance, a live's gifts and top gifters, the host's goal, the admins'
catalogue, and every operation in the OpenAPI document."""

from __future__ import annotations

import pytest
from factories import make_admin, make_token, make_user
from sqlalchemy import func, select

from livelite.extensions import db, socketio
from livelite.models import AccountKind, Gift, GiftSend, Role, TransactionType, User
from livelite.services import gifts, ledger, lives


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def shop(app):
    """@host live as "Jam"; @fan has 100 coins; @kid is 16; each has a read+write token
    (``tokens[name]``); ``tokens["fan-read"]`` is read-only; @boss is the admin."""
    with app.app_context():
        make_admin("boss")
        host = make_user("host", role=Role.CREATOR, display_name="Host")
        fan = make_user("fan", display_name="Fan")
        make_user("kid", age=16)
        make_user("other")
        live = lives.start_live(host, title="Jam")
        ledger.post(
            TransactionType.GRANT,
            [
                ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -100),
                ledger.Leg(ledger.account_id(AccountKind.COINS, fan), 100),
            ],
            key="grant-fan",
            reference="test",
        )
        db.session.commit()
        catalogue = {g.name: g.id for g in gifts.catalogue()}
        tokens = {
            name: make_token(get(name), scopes=("read", "write"))
            for name in ("boss", "host", "fan", "kid", "other")
        }
        tokens["fan-read"] = make_token(fan, scopes=("read",))
        data = {"live": live.id, "host": host.id, "fan": fan.id, "gifts": catalogue, "tokens": tokens}
    yield data
    with app.app_context():
        assert ledger.check() == []


def auth(shop, name: str) -> dict:
    return {"Authorization": f"Bearer {shop['tokens'][name]}"}


def coins(app, username: str, kind=AccountKind.COINS) -> int:
    with app.app_context():
        return ledger.balance(get(username), kind)


def post_gift(client, shop, who="fan", **body):
    payload = {
        "receiver_id": shop["host"],
        "gift_id": shop["gifts"]["Heart"],
        "idempotency_key": "api-1",
        **body,
    }
    return client.post(f"/api/v1/lives/{shop['live']}/gifts", json=payload, headers=auth(shop, who))


def test_anyone_reads_the_catalogue_in_picker_order(client, shop):
    response = client.get("/api/v1/gifts")
    assert response.status_code == 200
    body = response.get_json()
    assert [(g["name"], g["coins"], g["animation"]) for g in body][:3] == [
        ("Rose", 1, "float"),
        ("Heart", 5, "float"),
        ("Doughnut", 30, "burst"),
    ]
    assert body[0]["icon_url"] == "/static/img/gifts/rose.svg"
    # The icons are served.
    assert client.get(body[0]["icon_url"]).status_code == 200


def test_sending_charges_once_per_key_and_the_room_sees_one_animation(app, client, shop):
    watcher = socketio.test_client(app, namespace="/live", auth={"live_id": shop["live"]})
    watcher.get_received("/live")
    first = post_gift(client, shop, quantity=3)
    assert first.status_code == 201
    body = first.get_json()
    assert body["balance"] == 85 and body["replayed"] is False
    assert body["gift_send"]["coins"] == 15 and body["gift_send"]["receiver"]["username"] == "host"
    again = post_gift(client, shop, quantity=3)
    assert again.status_code == 200
    assert (
        again.get_json()["gift_send"]["id"] == body["gift_send"]["id"]
        and again.get_json()["replayed"] is True
    )
    assert coins(app, "fan") == 85 and coins(app, "host", AccountKind.DIAMONDS) == 7
    gifts_seen = [m["args"][0] for m in watcher.get_received("/live") if m["name"] == "gift"]
    assert [g["id"] for g in gifts_seen] == [body["gift_send"]["id"]]


def test_refusals_carry_the_rooms_code_and_the_figures_of_a_missing_balance(app, client, shop):
    poor = post_gift(client, shop, gift_id=shop["gifts"]["Rocket"])
    assert poor.status_code == 402
    error = poor.get_json()["error"]
    assert error["code"] == "insufficient_funds" and (error["balance"], error["needed"]) == (100, 500)
    assert error["wallet_url"] == "/wallet" and "500" in error["message"]

    kid = post_gift(client, shop, who="kid")
    assert kid.status_code == 403 and kid.get_json()["error"]["code"] == "not_allowed"
    assert "18" in kid.get_json()["error"]["message"]
    elsewhere = post_gift(client, shop, receiver_id=shop["fan"], who="other")
    assert elsewhere.status_code == 404 and elsewhere.get_json()["error"]["code"] == "not_found"
    assert post_gift(client, shop, quantity=100).status_code == 422
    assert post_gift(client, shop, quantity="2").status_code == 422
    missing_key = client.post(
        f"/api/v1/lives/{shop['live']}/gifts",
        json={"receiver_id": shop["host"], "gift_id": shop["gifts"]["Rose"]},
        headers=auth(shop, "fan"),
    )
    assert missing_key.status_code == 422
    assert post_gift(client, shop, who="fan-read").status_code == 403
    assert client.post(f"/api/v1/lives/{shop['live']}/gifts", json={}).status_code == 401
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GiftSend)) == 0
    assert coins(app, "fan") == 100


def test_a_followers_only_live_takes_gifts_from_followers_only(app, client, shop):
    with app.app_context():
        live = lives.get_live(shop["live"])
        live.visibility = "followers"
        db.session.commit()
    assert post_gift(client, shop).status_code == 403
    assert client.get(f"/api/v1/lives/{shop['live']}/gifts").status_code == 403


def test_a_lives_gifts_and_top_gifters_are_readable_by_whoever_may_watch(app, client, shop):
    post_gift(client, shop, idempotency_key="a")
    post_gift(client, shop, idempotency_key="b")
    post_gift(client, shop, gift_id=shop["gifts"]["Doughnut"], idempotency_key="c")
    recent = client.get(f"/api/v1/lives/{shop['live']}/gifts").get_json()
    assert [(g["gift"]["name"], g["combo"]) for g in recent] == [("Doughnut", 1), ("Heart", 2), ("Heart", 1)]
    assert len(client.get(f"/api/v1/lives/{shop['live']}/gifts?limit=1").get_json()) == 1
    top = client.get(f"/api/v1/lives/{shop['live']}/top-gifters").get_json()
    assert top == [{"user": {**top[0]["user"], "username": "fan"}, "coins": 40}]
    assert client.get("/api/v1/lives/9999/top-gifters").status_code == 404


def test_the_host_sets_and_clears_the_goal_others_cannot(app, client, shop):
    url = f"/api/v1/lives/{shop['live']}/goal"
    assert client.get(url).get_json() == {"target": None, "label": "", "progress": 0}
    assert (
        client.put(
            url, json={"target_coins": 500, "label": "A new mic"}, headers=auth(shop, "fan")
        ).status_code
        == 403
    )
    assert client.put(url, json={"target_coins": 0}, headers=auth(shop, "host")).status_code == 422
    assert (
        client.put(url, json={"target_coins": 10, "label": "x" * 81}, headers=auth(shop, "host")).status_code
        == 422
    )
    done = client.put(url, json={"target_coins": 500, "label": "A new mic"}, headers=auth(shop, "host"))
    assert done.status_code == 200 and done.get_json() == {"target": 500, "label": "A new mic", "progress": 0}
    post_gift(client, shop, gift_id=shop["gifts"]["Doughnut"])
    assert client.get(url).get_json()["progress"] == 30
    assert client.delete(url, headers=auth(shop, "other")).status_code == 403
    assert client.delete(url, headers=auth(shop, "host")).status_code == 204
    assert client.get(url).get_json()["target"] is None


def test_admins_manage_the_catalogue_others_cannot(app, client, shop):
    listing = client.get("/api/v1/admin/gifts", headers=auth(shop, "boss"))
    assert listing.status_code == 200
    assert "lion.svg" in listing.get_json()["icons"] and len(listing.get_json()["gifts"]) == 7
    assert client.get("/api/v1/admin/gifts", headers=auth(shop, "fan")).status_code == 403

    new = {"name": "Crown", "icon": "crown.svg", "coins": 2000, "animation": "fullscreen"}
    assert client.post("/api/v1/admin/gifts", json=new, headers=auth(shop, "host")).status_code == 403
    created = client.post("/api/v1/admin/gifts", json=new, headers=auth(shop, "boss"))
    assert created.status_code == 201
    crown = created.get_json()
    assert (crown["stored_name"], crown["coins"], crown["active"], crown["position"]) == (
        "Crown",
        2000,
        True,
        7,
    )
    bad = client.post("/api/v1/admin/gifts", json={**new, "icon": "nope.svg"}, headers=auth(shop, "boss"))
    assert bad.status_code == 422 and "icon" in bad.get_json()["error"]["errors"]
    assert (
        client.post(
            "/api/v1/admin/gifts", json={**new, "coins": 100_001}, headers=auth(shop, "boss")
        ).status_code
        == 422
    )

    url = f"/api/v1/admin/gifts/{crown['id']}"
    retired = client.patch(url, json={"active": False}, headers=auth(shop, "boss"))
    assert retired.status_code == 200 and retired.get_json()["active"] is False
    assert "Crown" not in [g["name"] for g in client.get("/api/v1/gifts").get_json()]
    assert client.patch(url, json={}, headers=auth(shop, "boss")).status_code == 422
    assert (
        client.patch("/api/v1/admin/gifts/999", json={"coins": 3}, headers=auth(shop, "boss")).status_code
        == 404
    )
    assert client.patch(url, json={"coins": 3}, headers=auth(shop, "fan")).status_code == 403
    with app.app_context():
        assert db.session.get(Gift, crown["id"]).active is False


def test_every_gift_operation_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    expected = {
        ("/api/v1/gifts", "get"),
        ("/api/v1/lives/{live_id}/gifts", "get"),
        ("/api/v1/lives/{live_id}/gifts", "post"),
        ("/api/v1/lives/{live_id}/top-gifters", "get"),
        ("/api/v1/lives/{live_id}/goal", "get"),
        ("/api/v1/lives/{live_id}/goal", "put"),
        ("/api/v1/lives/{live_id}/goal", "delete"),
        ("/api/v1/admin/gifts", "get"),
        ("/api/v1/admin/gifts", "post"),
        ("/api/v1/admin/gifts/{gift_id}", "patch"),
    }
    found = {(path, method) for path, item in paths.items() for method in item}
    assert expected <= found
    send = paths["/api/v1/lives/{live_id}/gifts"]["post"]
    assert {"201", "200", "402"} <= set(send["responses"])
