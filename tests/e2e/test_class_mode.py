"""Class mode in Chromium: a teacher's invite-only live opened to a class group; a
student types the code at /join (a wrong one first: the error, the text kept) and
lands in the live. ``seed_class`` is shared with screens_classes.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from livelite_e2e import REPO_ROOT, LiveServer, log_in, run_seed, start_server, stop_server
from playwright.sync_api import expect

ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"

SEED = """
import json, sys
sys.path[:0] = ["tests", "tests/e2e"]
from app import app
from test_class_mode import seed_class
print(json.dumps(seed_class(app)))
"""


def seed_class(app) -> dict:
    """A teacher live right now, invite-only, opened to "Class 4B" (ann, bob, eve);
    ann came twice, a visitor once, bob never. Runs in a process of its own."""
    from factories import PASSWORD, make_admin, make_user

    from livelite.models import Role
    from livelite.models.base import utcnow
    from livelite.services import analytics, classes, lives

    with app.app_context():
        make_admin()
        teacher = make_user("teacher", display_name="Ms Rivera", role=Role.CREATOR)
        people = {
            "ann": make_user("ann", display_name="Ann Archer"),
            "bob": make_user("bob", display_name="Bob Baker"),
            "eve": make_user("eve", display_name="Eve <b>Evans</b>"),
        }
        group = classes.create_group(teacher, "Class 4B")
        classes.add_members(group, teacher, "ann bob eve")
        classes.create_group(teacher, "Chess club")
        live = lives.start_live(teacher, title="Maths: fractions", visibility="invite", group_id=group.id)
        start = utcnow() - timedelta(minutes=40)
        visits = (("ann", 0, 12), ("ann", 15, 31), ("eve", 2, 38))
        for who, joined, left in visits:
            identity = f"user:{people[who].id}"
            analytics.attendance_join(live.id, identity, at=start + timedelta(minutes=joined))
            analytics.attendance_leave(live.id, identity, at=start + timedelta(minutes=left, seconds=9))
        analytics.attendance_join(live.id, "visitor:abc", at=start + timedelta(minutes=5))
        analytics.attendance_leave(live.id, "visitor:abc", at=start + timedelta(minutes=9))
        return {
            "live_id": live.id,
            "code": classes.format_code(live.invite_code),
            "group_id": group.id,
            "password": PASSWORD,
        }


@pytest.fixture(scope="module")
def class_server(tmp_path_factory) -> Iterator[tuple[LiveServer, dict]]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-classes") / "instance")
    try:
        yield server, run_seed(server, SEED)
    finally:
        stop_server(server)


def test_a_student_types_the_code_and_lands_in_the_live(make_page, class_server):
    server, seeded = class_server
    page = make_page(server)
    page.goto("/")
    page.get_by_role("link", name="Join", exact=True).click()
    expect(page.get_by_role("heading", name="Join a live with a code")).to_be_visible()
    code_box = page.get_by_label("Invite code")
    code_box.fill("wxyz-2345")
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#code-err")).to_have_text("No live has this code. Check it and try again.")
    expect(code_box).to_have_value("wxyz-2345")
    expect(code_box).to_have_attribute("aria-invalid", "true")

    code_box.fill(seeded["code"].lower().replace("-", ""))
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("heading", name="Maths: fractions")).to_be_visible()
    assert f"/lives/{seeded['live_id']}?invite=" in page.url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "class-mode-joined.png", full_page=True)


def test_the_event_form_offers_the_groups_only_for_an_invite_only_class(make_page, class_server):
    server, seeded = class_server
    page = make_page(server)
    log_in(page, "teacher", seeded["password"])
    page.goto("/events/new")
    group = page.get_by_label("Also let in a group")
    expect(group).to_be_hidden()
    page.get_by_label("Who can watch").select_option("invite")
    expect(group).to_be_visible()
    expect(group).to_be_enabled()
    expect(group.locator("option")).to_have_text(
        ["No group: only the link or code", "Chess club", "Class 4B"]
    )
    group.select_option(str(seeded["group_id"]))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "class-mode-event-form.png", full_page=True)
    page.get_by_label("Who can watch").select_option("followers")
    expect(group).to_be_hidden()
    expect(group).to_be_disabled()
