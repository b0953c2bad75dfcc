"""Live-access requests: asking, deciding, what an approval changes, the notifications,
the person's page and the admins' queue (services.access, blueprints.access)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from factories import make_admin, make_user
from pages import field_errors, find_form, flashes, submit, text_of
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from livelite.extensions import db
from livelite.models import AccessRequest, AccessRequestStatus, Notification, Role, User
from livelite.models.base import utcnow
from livelite.services import access, accounts, events, notifications, policy
from livelite.services.errors import Conflict, PermissionDenied, ValidationFailed

REASON = "I teach a weekly guitar class for my neighbours."
FOLLOWERS_REASON = "Going live needs 1000 followers (you have 0) or live access granted by an admin."


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


@pytest.fixture
def site(app):
    """Two admins; @mia (member, 30, no followers); @cora (creator); @kid (creator, 15);
    @teen (member, 15, no followers); @mod (moderator); @gone (banned)."""
    with app.app_context():
        make_admin(display_name="Site Admin")
        second = make_user("ada", display_name="Ada Admin")
        accounts.set_role(second, Role.ADMIN)
        make_user("mia", display_name="Mia Member", age=30)
        make_user("cora", display_name="Cora", role=Role.CREATOR)
        make_user("kid", age=15, role=Role.CREATOR)
        make_user("teen", age=15)
        make_user("mod", display_name="Moe Derator", role=Role.MODERATOR)
        make_user("gone", banned=True)
    return app


def ask(username: str, reason: str = REASON) -> AccessRequest:
    return access.request_access(get(username), reason)


def notes_of(username: str) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == get(username).id)))


# -- asking -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Your reason is too short: write 10 characters at least."),
        ("   too short   ", "Your reason is too short: write 10 characters at least."),
        ("x" * 1001, "Your reason is too long: 1000 characters at most."),
    ],
)
def test_the_reason_is_required_and_its_length_checked_after_stripping(site, reason, message):
    with site.app_context():
        with pytest.raises(ValidationFailed) as caught:
            ask("mia", reason)
        assert caught.value.errors == {"reason": [message]}
        assert access.latest_of(get("mia")) is None


def test_a_reason_at_the_limits_is_stored_stripped(site):
    with site.app_context():
        row = ask("mia", "   " + "y" * 10 + "\n")
        assert row.reason == "y" * 10 and row.status == AccessRequestStatus.PENDING
        access.decide(get("siteadmin"), row, False, "Tell us more.")
        assert ask("mia", "z" * 1000).reason == "z" * 1000


def test_one_pending_request_at_a_time(site):
    with site.app_context():
        ask("mia")
        with pytest.raises(Conflict) as caught:
            ask("mia", "Another reason, just in case.")
        assert "already waiting for an admin" in caught.value.message
        assert len(access.requests_of(get("mia"))) == 1


def test_the_database_holds_one_pending_request_per_person_too(site):
    """Two submits racing past the check: the second insert is refused by the index."""
    with site.app_context():
        mia = get("mia")
        ask("mia")
        db.session.add(AccessRequest(user_id=mia.id, reason=REASON))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_a_submit_that_loses_the_race_gets_a_conflict_not_an_error(site, monkeypatch):
    with site.app_context():
        ask("mia")
        monkeypatch.setattr(access, "pending_of", lambda user: None)  # the check saw nothing yet
        with pytest.raises(Conflict, match="already waiting for an admin"):
            ask("mia", "The same request from a second tab.")
        assert len(access.requests_of(get("mia"))) == 1
        assert len(notes_of("siteadmin")) == 1


def test_someone_who_may_already_go_live_cannot_ask(site):
    with site.app_context():
        for username in ("cora", "siteadmin"):
            with pytest.raises(Conflict, match="You may already go live"):
                ask(username)


def test_when_only_age_blocks_the_request_is_refused_and_says_why(site):
    with site.app_context():
        assert policy.may_go_live(get("kid")).blockers == ["age"]
        with pytest.raises(PermissionDenied) as caught:
            ask("kid")
        assert caught.value.message == (
            "Only your age keeps you from going live, and an admin cannot lift the age limit: "
            "you can go live from age 16."
        )


def test_too_young_and_too_few_followers_may_still_ask_for_the_followers_part(site):
    with site.app_context():
        assert policy.may_go_live(get("teen")).blockers == ["age", "followers"]
        assert ask("teen").status == AccessRequestStatus.PENDING


def test_a_banned_person_cannot_ask(site):
    with site.app_context(), pytest.raises(PermissionDenied, match="banned"):
        ask("gone")


# -- deciding -----------------------------------------------------------------------------
def test_only_admins_decide(site):
    with site.app_context():
        row = ask("mia")
        for username in ("cora", "mod", "mia"):
            with pytest.raises(PermissionDenied, match=r"Only admins can do this\."):
                access.decide(get(username), row, True, "")
        assert row.status == AccessRequestStatus.PENDING
        assert not policy.may_go_live(get("mia"))


def test_refusing_needs_a_note_and_notes_are_limited(site):
    with site.app_context():
        row = ask("mia")
        with pytest.raises(ValidationFailed) as caught:
            access.decide(get("siteadmin"), row, False, "   ")
        assert caught.value.errors == {"note": ["Say why you refuse: the person reads your note."]}
        with pytest.raises(ValidationFailed) as caught:
            access.decide(get("siteadmin"), row, True, "n" * 1001)
        assert caught.value.errors == {"note": ["The note is too long: 1000 characters at most."]}
        assert row.status == AccessRequestStatus.PENDING
        assert [n.kind for n in notes_of("mia")] == []


def test_a_request_is_decided_once(site):
    with site.app_context():
        row = ask("mia")
        access.decide(get("siteadmin"), row, True, "")
        with pytest.raises(Conflict, match="already decided"):
            access.decide(get("ada"), row, False, "Changed my mind.")
        assert row.status == AccessRequestStatus.APPROVED and row.decided_by_id == get("siteadmin").id
        assert [n.kind for n in notes_of("mia")] == ["access_approved"]


def test_approval_lets_a_member_go_live_and_makes_them_a_creator(site, client, auth):
    with site.app_context():
        assert policy.may_go_live(get("mia")).reasons == [FOLLOWERS_REASON]
        row = ask("mia")
        assert not policy.may_go_live(get("mia"))  # asking alone changes nothing
        access.decide(get("siteadmin"), row, True, "Have fun!")
        mia = get("mia")
        assert policy.may_go_live(mia).allowed
        assert mia.role == Role.CREATOR
        assert row.note == "Have fun!" and row.decided_at is not None
    auth.login("mia")
    html = client.get("/studio").get_data(as_text=True)
    assert "You cannot go live yet" not in html
    assert "data-studio-form" in html and "Request live access" not in html


def test_approval_grants_a_moderator_live_access_and_keeps_the_role(site):
    with site.app_context():
        access.decide(get("siteadmin"), ask("mod"), True, "")
        mod = get("mod")
        assert mod.role == Role.MODERATOR
        assert policy.may_go_live(mod).allowed
        assert policy.has_live_access_grant(mod)


def test_setting_an_approved_person_back_to_member_takes_live_access_away(site):
    with site.app_context():
        for username in ("mia", "mod"):
            access.decide(get("siteadmin"), ask(username), True, "")
            accounts.set_role(get(username), Role.MEMBER)
            decision = policy.may_go_live(get(username))
            assert decision.reasons == [FOLLOWERS_REASON]
            assert access.refusal(get(username)) is None  # they may ask again


def test_a_refusal_changes_nothing_and_a_new_request_may_follow(site, client, auth):
    with site.app_context():
        access.decide(get("siteadmin"), ask("mia"), False, "Build an audience first.")
        mia = get("mia")
        assert not policy.may_go_live(mia) and mia.role == Role.MEMBER
        assert access.refusal(mia) is None
        assert ask("mia", "I now have a plan for weekly classes.").status == AccessRequestStatus.PENDING
    auth.login("mia")
    text = text_of(client.get("/studio").get_data(as_text=True))
    assert "You cannot go live yet" in text and FOLLOWERS_REASON in text


def test_the_queue_is_oldest_first_and_the_history_latest_first(site):
    with site.app_context():
        boss = get("siteadmin")
        first, second, third = ask("mia"), ask("mod"), ask("teen")
        first.created_at = utcnow() - timedelta(hours=2)
        db.session.commit()
        assert [r.id for r in access.pending(boss)] == [first.id, second.id, third.id]
        access.decide(boss, second, True, "", now=utcnow() - timedelta(minutes=5))
        access.decide(boss, first, False, "No.", now=utcnow())
        assert [r.id for r in access.pending(boss)] == [third.id]
        assert [r.id for r in db.session.scalars(access.history_query(boss))] == [first.id, second.id]
        with pytest.raises(PermissionDenied):
            access.pending(get("mia"))


# -- notifications -------------------------------------------------------------------------
def test_every_admin_hears_of_a_new_request_once(site):
    with site.app_context():
        row = ask("mia")
        for admin in ("siteadmin", "ada"):
            (note,) = notes_of(admin)
            assert (note.kind, note.dedupe_key) == ("access_requested", f"access-req:{row.id}")
            assert notifications.describe(note) == "Mia Member asks for live access."
        # A retry of the same news stores nothing new.
        notifications.notify(access.admin_ids(), "access_requested", f"access-req:{row.id}", actor=get("mia"))
        assert len(notes_of("siteadmin")) == 1
        assert notes_of("mia") == [] and notes_of("cora") == []


def test_the_person_is_told_of_the_decision_with_the_note(site):
    with site.app_context():
        approved = ask("mia")
        access.decide(get("ada"), approved, True, "Welcome aboard.")
        refused = ask("teen")
        access.decide(get("siteadmin"), refused, False, "Come back when you are 16.")
        (note,) = notes_of("mia")
        assert (note.kind, note.dedupe_key) == ("access_approved", f"access:{approved.id}")
        assert json.loads(note.data)["note"] == "Welcome aboard."
        assert notifications.describe(note) == (
            "Your live-access request was approved. You can go live now. The admin wrote: “Welcome aboard.”"
        )
        (note,) = notes_of("teen")
        assert (note.kind, note.dedupe_key) == ("access_refused", f"access:{refused.id}")
        assert notifications.describe(note) == (
            "Your live-access request was refused. The admin wrote: “Come back when you are 16.”"
        )
        access.decide(get("siteadmin"), ask("mod"), True, "")
        (note,) = notes_of("mod")
        assert notifications.describe(note) == "Your live-access request was approved. You can go live now."


def test_the_notifications_lead_to_the_request_page_and_the_queue(site, client, auth):
    with site.app_context():
        access.decide(get("siteadmin"), ask("mia"), True, "")
    auth.login("mia")
    (item,) = client.get("/api/v1/notifications").get_json()["items"]
    assert item["kind"] == "access_approved" and item["url"] == "/settings/live-access"
    html = client.get("/notifications").get_data(as_text=True)
    link = re.search(r'href="(/notifications/\d+)"', html).group(1)
    assert client.get(link).headers["Location"] == "/settings/live-access"
    auth.logout()
    auth.login("ada")
    (item,) = client.get("/api/v1/notifications").get_json()["items"]
    assert item["kind"] == "access_requested" and item["url"] == "/admin/access-requests"


# -- the person's page -------------------------------------------------------------------
def test_the_page_says_why_not_and_sends_a_request(site, client, auth):
    auth.login("mia")
    html = client.get("/settings/live-access").get_data(as_text=True)
    assert FOLLOWERS_REASON in text_of(html)
    assert 'aria-current="page">Live access</a>' in html
    response = submit(client, "/settings/live-access", {"reason": "too short"})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "reason") == [
        "Your reason is too short: write 10 characters at least."
    ]
    response = submit(client, "/settings/live-access", {"reason": REASON}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert flashes(html) == ["Your request is sent. The admins will answer here and in your notifications."]
    text = text_of(html)
    assert "Waiting for an admin" in text and REASON in text
    assert "already waiting for an admin" in text
    assert 'name="reason"' not in html  # no second request while one waits


def test_the_page_shows_the_decision_and_the_admins_note(site, client, auth):
    with site.app_context():
        access.decide(get("siteadmin"), ask("mia"), False, "Show us a first video & a plan.")
    auth.login("mia")
    text = text_of(client.get("/settings/live-access").get_data(as_text=True))
    assert "Refused" in text and "Show us a first video & a plan." in text and REASON in text
    assert "Send my request" in text  # a new request is possible


def test_the_page_for_age_only_says_an_admin_cannot_help_and_has_no_form(site, client, auth):
    auth.login("kid")
    html = client.get("/settings/live-access").get_data(as_text=True)
    assert "an admin cannot lift the age limit" in text_of(html)
    assert 'name="reason"' not in html
    response = client.post(
        "/settings/live-access", data={**find_form(html, "/logout").values(), "reason": REASON}
    )
    assert response.status_code == 403
    assert "an admin cannot lift the age limit" in text_of(response.get_data(as_text=True))


def test_the_page_for_someone_who_may_go_live(site, client, auth):
    auth.login("cora")
    html = client.get("/settings/live-access").get_data(as_text=True)
    assert "You can go live." in text_of(html) and 'name="reason"' not in html


def test_every_refusal_to_go_live_links_to_the_request_page(site, client, auth):
    with site.app_context():
        cora = get("cora")
        event = events.create_event(
            cora, title="Class", starts_at=utcnow() + timedelta(days=1), duration_minutes=60
        )
        accounts.set_role(cora, Role.MEMBER)  # the creator lost the role since
        event_id = event.id
    link = '<a class="button small" href="/settings/live-access">Request live access</a>'
    auth.login("cora")
    for page in ("/studio", "/settings/stream", f"/events/{event_id}", "/events/new"):
        html = client.get(page).get_data(as_text=True)
        assert FOLLOWERS_REASON in text_of(html), page
        assert link in html, page
    auth.logout()
    auth.login("kid")  # only the age: an admin cannot help, so no link
    html = client.get("/studio").get_data(as_text=True)
    assert "You must be at least 16 to go live." in text_of(html) and link not in html


# -- the admins' queue ---------------------------------------------------------------------
def queue_form(client, request_id):
    html = client.get("/admin/access-requests").get_data(as_text=True)
    return find_form(html, f"/admin/access-requests/{request_id}/decision")


def test_the_queue_shows_who_asks_with_age_followers_reason_and_date(site, client, auth):
    with site.app_context():
        row = ask("teen", "I want to stream <script>alert('x')</script> & more")
        request_id = row.id
    auth.login("siteadmin")
    html = client.get("/admin/access-requests").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "I want to stream &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in html
    card = re.search(r'<li class="card access-card">(.*?)</li>\s*(?:<li|</ol>)', html, re.S).group(1)
    text = text_of(card)
    assert "Teen" in text and "@teen" in text
    assert "Age 15" in text and "Followers 0" in text
    assert re.search(r"Sent \d+/\d+/\d+, \d+:\d+", text)
    form = queue_form(client, request_id)
    assert set(form.values()) == {"csrf_token", "note"}
    assert f'<label for="note-{request_id}">Note to Teen</label>' in html


def test_admin_tabs_link_the_queue_with_its_count(site, client, auth):
    with site.app_context():
        ask("mia")
        ask("mod")
    auth.login("siteadmin")
    html = client.get("/admin/users").get_data(as_text=True)
    tab = re.search(r'<a href="/admin/access-requests"[^>]*>(.*?)</a>', html, re.S).group(1)
    assert text_of(tab) == "Live-access requests 2 waiting"


def test_an_admin_approves_with_a_note_through_the_page(site, client, auth):
    with site.app_context():
        request_id = ask("mia").id
    auth.login("siteadmin")
    form = queue_form(client, request_id)
    response = client.post(
        form.action, data={**form.values(), "note": "Enjoy!", "decision": "approve"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert flashes(html) == ["@mia may go live now. They are told."]
    history = text_of(html.split('id="history-title"')[1])
    assert "@mia" in history and "Approved" in history and "Enjoy!" in history and "@siteadmin" in history
    assert "No request is waiting." in text_of(html)
    with site.app_context():
        assert policy.may_go_live(get("mia")).allowed


def test_refusing_without_a_note_keeps_the_request_and_shows_why(site, client, auth):
    with site.app_context():
        request_id = ask("mia").id
    auth.login("siteadmin")
    form = queue_form(client, request_id)
    response = client.post(form.action, data={**form.values(), "note": "  ", "decision": "refuse"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, f"note-{request_id}") == ["Say why you refuse: the person reads your note."]
    assert 'aria-invalid="true"' in html
    with site.app_context():
        assert access.get_request(request_id).status == AccessRequestStatus.PENDING
    response = client.post(
        form.action, data={**form.values(), "note": "Not yet.", "decision": "refuse"}, follow_redirects=True
    )
    assert flashes(response.get_data(as_text=True)) == [
        "You refused the request of @mia. They are told, with your note."
    ]
    # The same form sent again (a second tab, a double click): nothing changes.
    response = client.post(
        form.action, data={**form.values(), "note": "", "decision": "approve"}, follow_redirects=True
    )
    assert flashes(response.get_data(as_text=True)) == ["This request was already decided."]
    with site.app_context():
        assert access.get_request(request_id).status == AccessRequestStatus.REFUSED
        assert [n.kind for n in notes_of("mia")] == ["access_refused"]


@pytest.mark.parametrize("username", ["mia", "mod", "cora"])
def test_non_admins_get_403_on_the_queue_and_its_forms(site, client, auth, username):
    with site.app_context():
        request_id = ask("teen", "Please let me stream <b>REASON-SECRET</b>.").id
    auth.login(username)
    response = client.get("/admin/access-requests")
    assert response.status_code == 403
    assert "REASON-SECRET" not in response.get_data(as_text=True)
    token = find_form(client.get("/").get_data(as_text=True), "/logout").values()["csrf_token"]
    response = client.post(
        f"/admin/access-requests/{request_id}/decision",
        data={"csrf_token": token, "decision": "approve", "note": ""},
    )
    assert response.status_code == 403
    with site.app_context():
        assert access.get_request(request_id).status == AccessRequestStatus.PENDING
        assert get("teen").role == Role.MEMBER


def test_visitors_are_sent_to_log_in(site, client):
    for page in ("/admin/access-requests", "/settings/live-access"):
        response = client.get(page)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
