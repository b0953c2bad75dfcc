"""The wallet and coins API: balances and history, packages, coin requests (session or
token), and the admins' queue, decisions, grants and packages (services.coins)."""

from __future__ import annotations

import pytest
from factories import make_admin, make_token, make_user
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import CoinRequest, Notification
from livelite.services import accounts, coins, ledger

WALLET_OPERATIONS = [
    ("/api/v1/wallet", "get"),
    ("/api/v1/wallet/history", "get"),
    ("/api/v1/coin-packages", "get"),
    ("/api/v1/coin-requests", "post"),
    ("/api/v1/coin-requests/mine", "get"),
    ("/api/v1/coin-requests/{request_id}/cancel", "post"),
    ("/api/v1/admin/coin-requests", "get"),
    ("/api/v1/admin/coin-requests/{request_id}/decision", "post"),
    ("/api/v1/admin/coin-grants", "post"),
    ("/api/v1/admin/coin-packages", "get"),
    ("/api/v1/admin/coin-packages", "post"),
    ("/api/v1/admin/coin-packages/{package_id}", "patch"),
]


def populate():
    make_admin()
    make_user("vic", display_name="Vic", age=30)
    make_user("eve", display_name="Eve", age=40)
    make_user("teen", age=15)


@pytest.fixture
def site(app):
    """@siteadmin; @vic and @eve (adults); @teen (15)."""
    with app.app_context():
        populate()
    yield app
    with app.app_context():
        assert ledger.check() == []


def bearer(app, username, scopes=("read", "write")) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {make_token(accounts.get_by_username(username), scopes)}"}


def package_id(app, coins_count: int = 350) -> int:
    with app.app_context():
        return next(p.id for p in coins.active_packages() if p.coins == coins_count)


def ask(client, headers, pid, key="key-1", provider=None):
    body = {"package_id": pid, "idempotency_key": key}
    if provider:
        body["provider"] = provider
    return client.post("/api/v1/coin-requests", json=body, headers=headers)


@pytest.mark.parametrize(("path", "method"), WALLET_OPERATIONS)
def test_every_wallet_operation_is_in_the_openapi_document(client, path, method):
    op = client.get("/api/v1/openapi.json").get_json()["paths"][path][method]
    assert op.get("summary") or op.get("description")


def test_packages_are_public_and_seeded(site, client):
    body = client.get("/api/v1/coin-packages").get_json()
    assert body["currency"] == "EUR"
    assert [(p["coins"], p["price_cents"], p["price"]) for p in body["packages"]] == [
        (70, 99, "€0.99"),
        (350, 499, "€4.99"),
        (700, 999, "€9.99"),
        (1400, 1999, "€19.99"),
        (3500, 4999, "€49.99"),
    ]
    assert [p["name"] for p in body["providers"]] == ["manual"]


def test_the_wallet_needs_a_login_and_shows_the_balances(site, client):
    response = client.get("/api/v1/wallet")
    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == 401
    with site.app_context():
        coins.grant(accounts.get_by_username("siteadmin"), "vic", 120, "Club reward", "g1")
    headers = bearer(site, "vic", ("read",))
    body = client.get("/api/v1/wallet", headers=headers).get_json()
    assert body == {
        "coins": 120,
        "diamonds": 0,
        "diamonds_held": 0,
        "currency": "EUR",
        "may_buy": True,
        "why_not": None,
        "pending_requests": 0,
    }
    teen = client.get("/api/v1/wallet", headers=bearer(site, "teen", ("read",))).get_json()
    assert teen["may_buy"] is False and "at least 18" in teen["why_not"]


def test_requesting_with_a_token_is_idempotent_and_tells_the_admins(site, client):
    headers = bearer(site, "vic")
    pid = package_id(site)
    response = ask(client, headers, pid)
    assert response.status_code == 201
    first = response.get_json()
    assert (first["status"], first["coins"], first["price_cents"], first["provider"]) == (
        "pending",
        350,
        499,
        "manual",
    )
    again = ask(client, headers, pid)
    assert again.status_code == 200 and again.get_json()["id"] == first["id"]
    conflict = ask(client, headers, package_id(site, 70))
    assert conflict.status_code == 409
    assert (
        conflict.get_json()["error"]["message"]
        == "This idempotency key was already used for a different request."
    )
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(CoinRequest)) == 1
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 1
    mine = client.get("/api/v1/coin-requests/mine", headers=headers).get_json()
    assert [i["id"] for i in mine["items"]] == [first["id"]] and mine["total"] == 1


def test_scopes_csrf_and_validation(site, client, auth, csrf_headers):
    pid = package_id(site)
    response = ask(client, bearer(site, "vic", ("read",)), pid)
    assert response.status_code == 403
    assert "scope" in response.get_json()["error"]["message"]
    auth.login("vic")
    assert ask(client, {}, pid).status_code == 400  # a session write without the CSRF header
    missing = client.post("/api/v1/coin-requests", json={"package_id": pid}, headers=csrf_headers())
    assert missing.status_code == 422
    assert "idempotency_key" in missing.get_json()["error"]["errors"]
    test_provider = ask(client, csrf_headers(), pid, provider="test")
    assert test_provider.status_code == 422
    assert test_provider.get_json()["error"]["errors"] == {
        "provider": ["Test payments are only possible when the site runs in demo mode."]
    }
    assert ask(client, csrf_headers(), 9999).status_code == 422
    assert ask(client, csrf_headers(), pid).status_code == 201
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(CoinRequest)) == 1
    too_young = ask(client, bearer(site, "teen"), pid)
    assert too_young.status_code == 403


def test_the_test_provider_in_demo_mode(make_app):
    app = make_app(DEMO_MODE=True)
    with app.app_context():
        populate()
    client = app.test_client()
    headers = bearer(app, "vic")
    assert [p["name"] for p in client.get("/api/v1/coin-packages").get_json()["providers"]] == [
        "manual",
        "test",
    ]
    response = ask(client, headers, package_id(app, 1400), provider="test")
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "approved" and body["transaction_id"] is not None
    assert ask(client, headers, package_id(app, 1400), provider="test").status_code == 200
    assert client.get("/api/v1/wallet", headers=headers).get_json()["coins"] == 1400
    with app.app_context():
        assert ledger.check() == []


def test_cancel_your_own_pending_request(site, client):
    vic, eve = bearer(site, "vic"), bearer(site, "eve")
    request_id = ask(client, vic, package_id(site)).get_json()["id"]
    assert client.post(f"/api/v1/coin-requests/{request_id}/cancel", headers=eve).status_code == 404
    response = client.post(f"/api/v1/coin-requests/{request_id}/cancel", headers=vic)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    again = client.post(f"/api/v1/coin-requests/{request_id}/cancel", headers=vic)
    assert again.status_code == 409
    assert again.get_json() == {"error": {"status": 409, "message": "This coin request was cancelled."}}


def test_admins_list_and_decide_once(site, client):
    vic, admin = bearer(site, "vic"), bearer(site, "siteadmin")
    first = ask(client, vic, package_id(site), key="a").get_json()["id"]
    second = ask(client, vic, package_id(site, 70), key="b").get_json()["id"]
    assert client.get("/api/v1/admin/coin-requests", headers=vic).status_code == 403
    assert (
        client.post(
            f"/api/v1/admin/coin-requests/{first}/decision", json={"decision": "approve"}, headers=vic
        ).status_code
        == 403
    )
    queue = client.get("/api/v1/admin/coin-requests?status=pending", headers=admin).get_json()
    assert [i["id"] for i in queue["items"]] == [first, second]
    assert queue["items"][0]["user"]["username"] == "vic" and queue["items"][0]["age"] == 30

    url = f"/api/v1/admin/coin-requests/{first}/decision"
    approved = client.post(url, json={"decision": "approve", "note": "Paid in class"}, headers=admin)
    assert approved.status_code == 200
    body = approved.get_json()
    assert body["status"] == "approved" and body["note"] == "Paid in class"
    assert body["decided_by"]["username"] == "siteadmin"
    twice = client.post(url, json={"decision": "approve"}, headers=admin)
    assert (
        twice.status_code == 409
        and twice.get_json()["error"]["message"] == "This coin request was already approved."
    )
    assert client.get("/api/v1/wallet", headers=vic).get_json()["coins"] == 350

    url = f"/api/v1/admin/coin-requests/{second}/decision"
    no_note = client.post(url, json={"decision": "reject"}, headers=admin)
    assert no_note.status_code == 422
    assert no_note.get_json()["error"]["errors"] == {
        "note": ["Say why you reject it: the person reads your note."]
    }
    assert client.post(url, json={"decision": "maybe"}, headers=admin).status_code == 422
    rejected = client.post(url, json={"decision": "reject", "note": "No payment"}, headers=admin)
    assert rejected.get_json()["status"] == "rejected"
    decided = client.get("/api/v1/admin/coin-requests?status=approved", headers=admin).get_json()
    assert [i["id"] for i in decided["items"]] == [first]
    assert client.get("/api/v1/admin/coin-requests?status=nope", headers=admin).status_code == 422
    assert (
        client.post(
            "/api/v1/admin/coin-requests/999/decision", json={"decision": "approve"}, headers=admin
        ).status_code
        == 404
    )


def test_grants_credit_once_per_key(site, client):
    admin = bearer(site, "siteadmin")
    body = {"username": "vic", "coins": 75, "memo": "Helped at the meetup", "idempotency_key": "grant-1"}
    assert client.post("/api/v1/admin/coin-grants", json=body, headers=bearer(site, "vic")).status_code == 403
    first = client.post("/api/v1/admin/coin-grants", json=body, headers=admin)
    assert first.status_code == 201
    made = first.get_json()
    assert (made["coins"], made["memo"], made["created"], made["balance"]) == (
        75,
        "Helped at the meetup",
        True,
        75,
    )
    assert made["user"]["username"] == "vic"
    again = client.post("/api/v1/admin/coin-grants", json=body, headers=admin)
    assert again.status_code == 200
    assert (
        again.get_json()["created"] is False and again.get_json()["transaction_id"] == made["transaction_id"]
    )
    assert again.get_json()["balance"] == 75
    other = client.post("/api/v1/admin/coin-grants", json={**body, "coins": 5}, headers=admin)
    assert other.status_code == 409
    bad = client.post(
        "/api/v1/admin/coin-grants",
        json={"username": "nobody", "coins": 0, "memo": "", "idempotency_key": "grant-2"},
        headers=admin,
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["errors"]) == {"username", "coins", "memo"}

    history = client.get("/api/v1/wallet/history", headers=bearer(site, "vic")).get_json()
    assert history["total"] == 1
    [item] = history["items"]
    assert (item["type"], item["account"], item["amount"], item["memo"], item["counterpart"]) == (
        "grant",
        "coins",
        75,
        "Helped at the meetup",
        "siteadmin",
    )
    assert item["type_label"] == "Coins granted"


def test_admins_manage_packages(site, client):
    admin, vic = bearer(site, "siteadmin"), bearer(site, "vic")
    assert client.get("/api/v1/admin/coin-packages", headers=vic).status_code == 403
    assert len(client.get("/api/v1/admin/coin-packages", headers=admin).get_json()) == 5
    made = client.post(
        "/api/v1/admin/coin-packages", json={"coins": 10000, "price_cents": 9999}, headers=admin
    )
    assert made.status_code == 201
    new_id = made.get_json()["id"]
    assert made.get_json()["price"] == "€99.99"
    bad = client.post("/api/v1/admin/coin-packages", json={"coins": 0, "price_cents": -5}, headers=admin)
    assert bad.status_code == 422 and set(bad.get_json()["error"]["errors"]) == {"coins", "price_cents"}
    url = f"/api/v1/admin/coin-packages/{new_id}"
    assert client.patch(url, json={"coins": 2_000_000}, headers=admin).status_code == 422
    retired = client.patch(url, json={"active": False, "price_cents": 8999}, headers=admin).get_json()
    assert (retired["active"], retired["price_cents"], retired["coins"]) == (False, 8999, 10000)
    public = client.get("/api/v1/coin-packages").get_json()["packages"]
    assert new_id not in [p["id"] for p in public]
    assert ask(client, vic, new_id).status_code == 422
    assert client.patch(url, json={"active": True}, headers=admin).get_json()["active"] is True
    assert new_id in [p["id"] for p in client.get("/api/v1/coin-packages").get_json()["packages"]]
    assert (
        client.patch("/api/v1/admin/coin-packages/999", json={"active": True}, headers=admin).status_code
        == 404
    )
    assert client.patch(url, json={"active": False}, headers=vic).status_code == 403
