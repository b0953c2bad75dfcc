"""The earnings and cash-out API (blueprints/api/cashouts.py): a creator's figures,
asking with a key, reading and cancelling their own; the admins' list, decisions and
CSV — the same rules as the pages (services.cashouts, services.earnings)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from earnings_support import give, make_gift, make_live
from factories import make_admin, make_token, make_user
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import CashoutRequest, Role, User
from livelite.services import accounts, cashouts, ledger
from livelite.services.earnings import month_start

IBAN = "DE89 3704 0044 0532 0130 00"
PATHS = {
    ("/api/v1/earnings", "get"),
    ("/api/v1/cashouts", "post"),
    ("/api/v1/cashouts/mine", "get"),
    ("/api/v1/cashouts/{request_id}/cancel", "post"),
    ("/api/v1/admin/cashouts", "get"),
    ("/api/v1/admin/cashouts/{request_id}/decision", "post"),
    ("/api/v1/admin/cashouts.csv", "get"),
}


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def site(app):
    """@ada (admin); @cora, who got from @vera 2 Lions (2 × 1,000 coins) in "Maths
    club" this month and 1 Rose (10 coins) in "Old club" last month: 1,005 diamonds;
    @mia, a member without diamonds."""
    with app.app_context():
        make_admin("ada", display_name="Ada Admin")
        cora = make_user("cora", display_name="Cora Creator", role=Role.CREATOR)
        vera = make_user("vera", display_name="Vera Viewer")
        make_user("mia")
        lion, rose = make_gift("Lion", 1000, "lion.svg"), make_gift("Rose", 10, "rose.svg")
        last_month = month_start() - timedelta(days=2)
        give(vera, cora, rose, make_live(cora, "Old club", started_at=last_month), at=last_month)
        give(vera, cora, lion, make_live(cora, "Maths club"), quantity=2)
    return app


def bearer(app, username, scopes=("read", "write")) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {make_token(accounts.get_by_username(username), scopes)}"}


def ask(client, headers, diamonds=1000, key="key-1", details=IBAN):
    return client.post(
        "/api/v1/cashouts",
        json={"diamonds": diamonds, "payout_details": details, "idempotency_key": key},
        headers=headers,
    )


def test_every_operation_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented >= PATHS
    body = spec["paths"]["/api/v1/cashouts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"diamonds", "payout_details", "idempotency_key"}


def test_earnings_are_the_callers_figures(site, client):
    body = client.get("/api/v1/earnings", headers=bearer(site, "cora", ("read",))).get_json()
    assert body["totals"] == {
        "diamonds": 1005,
        "diamonds_this_month": 1000,
        "gifts": 3,
        "coins": 2010,
        "lives": 2,
    }
    assert body["balance"] == {
        "diamonds": 1005,
        "diamonds_held": 0,
        "minimum": 1000,
        "cents_per_100_diamonds": 50,
        "currency": "EUR",
        "available_cents": 502,  # 502.5, rounded down
    }
    lives = body["lives"]
    assert (lives["page"], lives["pages"], lives["total"]) == (1, 1, 2)
    assert [
        (i["title"], i["gifts"], i["coins"], i["diamonds"], i["top_gifter"]["username"])
        for i in lives["items"]
    ] == [
        ("Maths club", 2, 2000, 1000, "vera"),
        ("Old club", 1, 10, 5, "vera"),
    ]
    assert [(g["name"], g["count"], g["diamonds"]) for g in body["gifts"]] == [
        ("Lion", 2, 1000),
        ("Rose", 1, 5),
    ]
    assert body["gifts"][0]["icon_url"].endswith("/static/img/gifts/lion.svg")
    # Someone else's figures are their own.
    other = client.get("/api/v1/earnings", headers=bearer(site, "mia")).get_json()
    assert other["totals"]["diamonds"] == 0 and other["lives"]["items"] == [] and other["gifts"] == []
    assert client.get("/api/v1/earnings").status_code == 401


def test_asking_with_a_key_twice_returns_the_same_request(site, client):
    cora = bearer(site, "cora")
    first = ask(client, cora, 1001)
    assert first.status_code == 201
    body = first.get_json()
    assert (body["status"], body["diamonds"], body["amount_cents"], body["currency"], body["amount"]) == (
        "pending",
        1001,
        500,
        "EUR",
        "€5.00",
    )
    again = ask(client, cora, 1001)
    assert again.status_code == 200 and again.get_json()["id"] == body["id"]
    other = ask(client, cora, 1000, key="key-2")
    assert other.status_code == 409
    assert "already have a cash-out waiting" in other.get_json()["error"]["message"]
    reused = ask(client, cora, 1002)
    assert reused.status_code == 409
    with site.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(CashoutRequest)) == 1
        assert ledger.balances(get("cora")) == {"coins": 0, "diamonds": 4, "diamonds_held": 1001}
        assert ledger.check() == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"diamonds": 999, "payout_details": IBAN, "idempotency_key": "k"}, "diamonds"),
        ({"diamonds": 1006, "payout_details": IBAN, "idempotency_key": "k"}, "diamonds"),
        ({"diamonds": "1000", "payout_details": IBAN, "idempotency_key": "k"}, "diamonds"),
        ({"diamonds": 1000, "payout_details": "no", "idempotency_key": "k"}, "payout_details"),
        ({"diamonds": 1000, "payout_details": IBAN, "idempotency_key": ""}, "idempotency_key"),
        ({"diamonds": 1000, "payout_details": IBAN}, "idempotency_key"),
    ],
)
def test_the_rules_answer_as_json_errors(site, client, payload, field):
    response = client.post("/api/v1/cashouts", json=payload, headers=bearer(site, "cora"))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["errors"]
    with site.app_context():
        assert db.session.scalar(select(CashoutRequest)) is None


def test_asking_needs_the_write_scope_and_a_session_needs_csrf(site, client, auth, csrf_headers):
    response = ask(client, bearer(site, "cora", ("read",)))
    assert response.status_code == 403
    auth.login("cora")
    assert ask(client, {}).status_code == 400
    assert ask(client, csrf_headers()).status_code == 201


def test_mine_then_cancel_and_only_ones_own(site, client):
    cora = bearer(site, "cora")
    mine = client.get("/api/v1/cashouts/mine", headers=cora).get_json()
    assert mine["can_request"] is True and mine["why_not"] is None and mine["items"] == []
    request_id = ask(client, cora).get_json()["id"]
    mine = client.get("/api/v1/cashouts/mine", headers=cora).get_json()
    assert mine["can_request"] is False and "already have a cash-out waiting" in mine["why_not"]
    assert [i["id"] for i in mine["items"]] == [request_id]
    assert mine["balance"]["diamonds_held"] == 1000

    assert (
        client.post(f"/api/v1/cashouts/{request_id}/cancel", headers=bearer(site, "mia")).status_code == 404
    )
    response = client.post(f"/api/v1/cashouts/{request_id}/cancel", headers=cora)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    again = client.post(f"/api/v1/cashouts/{request_id}/cancel", headers=cora)
    assert again.status_code == 409
    mia = client.get("/api/v1/cashouts/mine", headers=bearer(site, "mia")).get_json()
    assert (
        mia["can_request"] is False and mia["why_not"] == "A cash-out is 1,000 diamonds at least; you have 0."
    )
    with site.app_context():
        assert ledger.balances(get("cora"))["diamonds"] == 1005
        assert ledger.check() == []


def test_admins_list_decide_and_export(site, client):
    request_id = ask(client, bearer(site, "cora"), details="=1+1").get_json()["id"]
    ada = bearer(site, "ada")
    page = client.get("/api/v1/admin/cashouts?status=pending", headers=ada).get_json()
    assert page["total"] == 1
    (item,) = page["items"]
    assert (
        item["id"] == request_id
        and item["user"]["username"] == "cora"
        and item["email"] == "cora@example.com"
    )
    assert item["payout_details"] == "=1+1" and item["decided_by"] is None
    assert client.get("/api/v1/admin/cashouts?status=paid", headers=ada).get_json()["items"] == []
    assert client.get("/api/v1/admin/cashouts?status=nonsense", headers=ada).status_code == 422

    decision = f"/api/v1/admin/cashouts/{request_id}/decision"
    response = client.post(decision, json={"decision": "reject"}, headers=ada)
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {
        "note": ["Say why you reject it: the creator reads your note."]
    }
    assert client.post(decision, json={"decision": "paid"}, headers=ada).status_code == 409
    response = client.post(decision, json={"decision": "approve", "note": "ok"}, headers=ada)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "approved" and body["decided_by"]["username"] == "ada"
    response = client.post(decision, json={"decision": "reject", "note": "late"}, headers=ada)
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "This cash-out was already approved."
    response = client.post(decision, json={"decision": "paid", "note": "TX-9"}, headers=ada)
    assert response.status_code == 200
    assert response.get_json()["status"] == "paid" and response.get_json()["paid_at"]
    assert response.get_json()["note"] == "ok\nTX-9"
    assert client.post(decision, json={"decision": "maybe"}, headers=ada).status_code == 422

    csv_response = client.get("/api/v1/admin/cashouts.csv?status=paid", headers=ada)
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(csv_response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][:8] == [
        str(request_id),
        "cora",
        "cora@example.com",
        "1000",
        "5.00",
        "EUR",
        "'=1+1",
        "Paid",
    ]
    with site.app_context():
        assert ledger.balances(get("cora")) == {"coins": 0, "diamonds": 5, "diamonds_held": 0}
        assert cashouts.get_request(request_id).paid_at is not None
        assert ledger.check() == []


def test_admin_operations_are_for_admins_only(site, client):
    request_id = ask(client, bearer(site, "cora")).get_json()["id"]
    cora = bearer(site, "cora")
    assert client.get("/api/v1/admin/cashouts", headers=cora).status_code == 403
    assert client.get("/api/v1/admin/cashouts.csv", headers=cora).status_code == 403
    response = client.post(
        f"/api/v1/admin/cashouts/{request_id}/decision", json={"decision": "approve"}, headers=cora
    )
    assert response.status_code == 403
    # An admin's read-only token may read but not decide.
    ada_read = bearer(site, "ada", ("read",))
    assert client.get("/api/v1/admin/cashouts", headers=ada_read).status_code == 200
    response = client.post(
        f"/api/v1/admin/cashouts/{request_id}/decision", json={"decision": "approve"}, headers=ada_read
    )
    assert response.status_code == 403
    # Unknown ids are 404 for admins, 403 for anyone else.
    assert (
        client.post(
            "/api/v1/admin/cashouts/999/decision", json={"decision": "approve"}, headers=cora
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/admin/cashouts/999/decision", json={"decision": "approve"}, headers=bearer(site, "ada")
        ).status_code
        == 404
    )
    with site.app_context():
        assert ledger.balances(get("cora"))["diamonds_held"] == 1000
