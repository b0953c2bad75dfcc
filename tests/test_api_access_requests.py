"""The live-access request API: ask (session or token), read your own, and the admins'
queue and decisions, with the same rules as the pages (services.access)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_admin, make_token, make_user

from livelite.extensions import db
from livelite.models import Role
from livelite.models.base import utcnow
from livelite.services import access, accounts, policy

REASON = "I run a weekly maths club at the library."


@pytest.fixture
def site(app):
    """@siteadmin, @mia and @noah (members without followers), @cora (creator)."""
    with app.app_context():
        make_admin()
        make_user("mia", display_name="Mia", age=30)
        make_user("noah", display_name="Noah", age=21)
        make_user("cora", role=Role.CREATOR)
    return app


def bearer(app, username, scopes=("read", "write")) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {make_token(accounts.get_by_username(username), scopes)}"}


def test_ask_with_the_browser_session_then_read_it_back(site, client, auth, csrf_headers):
    auth.login("mia")
    mine = client.get("/api/v1/access-requests/mine").get_json()
    assert mine["can_request"] is True and mine["latest"] is None and mine["items"] == []
    assert mine["may_go_live"]["allowed"] is False

    response = client.post(
        "/api/v1/access-requests", json={"reason": f"  {REASON}  "}, headers=csrf_headers()
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending" and body["reason"] == REASON and body["note"] == ""
    assert body["user"]["username"] == "mia" and body["decided_at"] is None

    mine = client.get("/api/v1/access-requests/mine").get_json()
    assert mine["latest"]["id"] == body["id"] and [i["id"] for i in mine["items"]] == [body["id"]]
    assert mine["can_request"] is False
    assert "already waiting for an admin" in mine["why_not"]


def test_a_session_write_needs_the_csrf_header(site, client, auth):
    auth.login("mia")
    response = client.post("/api/v1/access-requests", json={"reason": REASON})
    assert response.status_code == 400
    with site.app_context():
        assert access.latest_of(accounts.get_by_username("mia")) is None


def test_the_rules_answer_as_json_errors(site, client):
    mia = bearer(site, "mia")
    response = client.post("/api/v1/access-requests", json={"reason": "short"}, headers=mia)
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {
        "reason": ["Your reason is too short: write 10 characters at least."]
    }
    response = client.post("/api/v1/access-requests", json={}, headers=mia)
    assert response.status_code == 422 and "reason" in response.get_json()["error"]["errors"]
    assert client.post("/api/v1/access-requests", json={"reason": REASON}, headers=mia).status_code == 201
    response = client.post("/api/v1/access-requests", json={"reason": REASON}, headers=mia)
    assert response.status_code == 409
    response = client.post("/api/v1/access-requests", json={"reason": REASON}, headers=bearer(site, "cora"))
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "You may already go live: there is nothing to ask."


def test_asking_needs_the_write_scope_and_a_login(site, client):
    response = client.post(
        "/api/v1/access-requests", json={"reason": REASON}, headers=bearer(site, "mia", ["read"])
    )
    assert response.status_code == 403
    assert client.post("/api/v1/access-requests", json={"reason": REASON}).status_code == 401
    assert client.get("/api/v1/access-requests/mine").status_code == 401


def test_admins_list_the_queue_oldest_first_with_age(site, client):
    with site.app_context():
        first = access.request_access(accounts.get_by_username("noah"), REASON)
        first.created_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        second = access.request_access(accounts.get_by_username("mia"), REASON)
        ids = [first.id, second.id]
    admin = bearer(site, "siteadmin", ["read"])
    body = client.get("/api/v1/admin/access-requests?status=pending", headers=admin).get_json()
    assert [i["id"] for i in body["items"]] == ids and body["total"] == 2
    assert body["items"][0]["user"]["username"] == "noah" and body["items"][0]["age"] == 21
    assert body["items"][0]["decided_by"] is None
    body = client.get("/api/v1/admin/access-requests?status=approved", headers=admin).get_json()
    assert body["items"] == []
    response = client.get("/api/v1/admin/access-requests?status=maybe", headers=admin)
    assert response.status_code == 422


@pytest.mark.parametrize("username", ["mia", "cora"])
def test_non_admins_get_403_from_the_admin_operations(site, client, username):
    with site.app_context():
        request_id = access.request_access(accounts.get_by_username("noah"), REASON).id
    headers = bearer(site, username)
    response = client.get("/api/v1/admin/access-requests?status=pending", headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "Only admins can do this."
    response = client.post(
        f"/api/v1/admin/access-requests/{request_id}/decision", json={"approve": True}, headers=headers
    )
    assert response.status_code == 403
    # Unknown ids answer the same: nobody else learns which requests exist.
    response = client.post(
        "/api/v1/admin/access-requests/999/decision", json={"approve": True}, headers=headers
    )
    assert response.status_code == 403
    with site.app_context():
        noah = accounts.get_by_username("noah")
        assert access.get_request(request_id).status.value == "pending" and noah.role == Role.MEMBER


def test_an_admin_decides_once_and_a_refusal_needs_a_note(site, client):
    with site.app_context():
        request_id = access.request_access(accounts.get_by_username("mia"), REASON).id
    admin = bearer(site, "siteadmin")
    url = f"/api/v1/admin/access-requests/{request_id}/decision"
    response = client.post(url, json={"approve": False}, headers=admin)
    assert response.status_code == 422
    assert response.get_json()["error"]["errors"] == {
        "note": ["Say why you refuse: the person reads your note."]
    }
    response = client.post(url, json={"approve": True, "note": "Go for it."}, headers=admin)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "approved" and body["note"] == "Go for it."
    assert body["decided_by"]["username"] == "siteadmin" and body["decided_at"]
    response = client.post(url, json={"approve": False, "note": "Oops"}, headers=admin)
    assert response.status_code == 409
    assert (
        client.post(
            "/api/v1/admin/access-requests/999/decision", json={"approve": True}, headers=admin
        ).status_code
        == 404
    )
    with site.app_context():
        assert policy.may_go_live(accounts.get_by_username("mia")).allowed

    # The person sees the answer, and /me agrees that they may go live now.
    mia = bearer(site, "mia")
    mine = client.get("/api/v1/access-requests/mine", headers=mia).get_json()
    assert mine["latest"]["status"] == "approved" and mine["latest"]["note"] == "Go for it."
    assert mine["may_go_live"] == {"allowed": True, "reasons": []}
    assert client.get("/api/v1/me", headers=mia).get_json()["may_go_live"]["allowed"] is True


def test_deciding_needs_the_write_scope(site, client):
    with site.app_context():
        request_id = access.request_access(accounts.get_by_username("mia"), REASON).id
    response = client.post(
        f"/api/v1/admin/access-requests/{request_id}/decision",
        json={"approve": True},
        headers=bearer(site, "siteadmin", ["read"]),
    )
    assert response.status_code == 403
    assert "scope" in response.get_json()["error"]["message"]


def test_the_operations_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/access-requests"]) >= {"post"}
    assert set(paths["/api/v1/access-requests/mine"]) >= {"get"}
    listing = paths["/api/v1/admin/access-requests"]["get"]
    assert any(p["name"] == "status" and p["in"] == "query" for p in listing["parameters"])
    decision = paths["/api/v1/admin/access-requests/{request_id}/decision"]["post"]
    assert {"200", "403", "404", "409", "422"} <= set(decision["responses"])
