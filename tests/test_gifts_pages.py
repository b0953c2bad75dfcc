"""The pages of gifts: the admins' catalogue (/admin/gifts: add, edit, retire, bring
back), Settings → Gifts (the switch that turns receiving off), and what the watch page
and the studio carry for js/lives/gifts.js (the Gift button, the picker, the overlay,
the goal form), all through the real forms."""

from __future__ import annotations

import pytest
from factories import PASSWORD, make_admin, make_user
from pages import field_errors, find_form, flashes, submit, text_of

from livelite.extensions import db
from livelite.models import Gift, Role
from livelite.services import accounts, gifts, lives


@pytest.fixture
def people(app):
    with app.app_context():
        make_admin("boss")
        make_user("host", role=Role.CREATOR, display_name="Hosty")
        make_user("fan", display_name="Fan")
        make_user("teen", age=16)
        gifts.catalogue()


def login(app, username: str):
    browser = app.test_client()
    assert submit(browser, "/login", {"login": username, "password": PASSWORD}).status_code == 302
    return browser


def gift(app, name: str) -> Gift:
    with app.app_context():
        found = db.session.scalar(db.select(Gift).where(Gift.name == name))
        db.session.expunge(found)
        return found


def test_the_catalogue_page_lists_the_gifts_and_only_admins_see_it(app, people):
    admin = login(app, "boss")
    page = admin.get("/admin/gifts").get_data(as_text=True)
    text = text_of(page)
    for name, coins in (("Rose", "1 coin"), ("Doughnut", "30 coins"), ("Universe", "5,000 coins")):
        assert name in text and coins in text
    assert "Full screen: fills the player" in text
    assert 'href="/admin/gifts" aria-current="page"' in page  # the admin tab
    assert 'src="/static/img/gifts/lion.svg"' in page
    assert login(app, "fan").get("/admin/gifts").status_code == 403
    assert app.test_client().get("/admin/gifts").status_code == 302


def test_an_admin_adds_a_gift_and_errors_show_beside_the_fields(app, people):
    admin = login(app, "boss")
    bad = submit(
        admin, "/admin/gifts", {"name": "", "coins": "0", "icon": "crown.svg"}, action="/admin/gifts"
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert field_errors(html, "new-gift-name") == ["Give the gift a name of 1 to 40 characters."]
    assert field_errors(html, "new-gift-coins") == ["A gift costs 1 to 100 000 coins."]
    done = submit(
        admin,
        "/admin/gifts",
        {"name": "Crown", "coins": "2500", "icon": "crown.svg", "animation": "fullscreen"},
        action="/admin/gifts",
        follow_redirects=True,
    )
    assert "“Crown” is in the catalogue." in flashes(done.get_data(as_text=True))
    crown = gift(app, "Crown")
    assert (crown.coins, crown.icon, crown.animation.value, crown.position) == (
        2500,
        "crown.svg",
        "fullscreen",
        7,
    )
    # A forged icon path is refused.
    forged = submit(
        admin,
        "/admin/gifts",
        {"name": "Evil", "coins": "5", "icon": "../../app.py", "animation": "float"},
        action="/admin/gifts",
    )
    assert forged.status_code == 422
    assert field_errors(forged.get_data(as_text=True), "new-gift-icon") == ["Choose one of the icons."]


def test_an_admin_edits_retires_and_brings_back_a_gift(app, people):
    admin = login(app, "boss")
    heart = gift(app, "Heart")
    url = f"/admin/gifts/{heart.id}"
    form = find_form(admin.get(url).get_data(as_text=True), url)
    assert form.values()["coins"] == "5" and form.values()["icon"] == "heart.svg"
    saved = submit(admin, url, {"coins": "8", "name": "Big heart"}, action=url, follow_redirects=True)
    assert "“Big heart” is saved." in flashes(saved.get_data(as_text=True))
    assert (gift(app, "Big heart").coins, gift(app, "Big heart").position) == (8, 1)
    assert submit(admin, url, {"coins": "100001"}, action=url).status_code == 422

    retire_url = f"/admin/gifts/{heart.id}/active"
    retired = submit(admin, "/admin/gifts", {"active": "0"}, action=retire_url, follow_redirects=True)
    assert "“Big heart” is retired: nobody can send it any more." in flashes(retired.get_data(as_text=True))
    with app.app_context():
        assert heart.id not in [g.id for g in gifts.catalogue()]
    page = admin.get("/admin/gifts").get_data(as_text=True)
    assert "Retired" in text_of(page) and "Bring back" in text_of(page)
    back = submit(admin, "/admin/gifts", {"active": "1"}, action=retire_url, follow_redirects=True)
    assert "“Big heart” can be sent again." in flashes(back.get_data(as_text=True))
    with app.app_context():
        assert heart.id in [g.id for g in gifts.catalogue()]
    # Without the form's token nothing changes.
    assert admin.post(retire_url, data={"active": "0"}).status_code == 400
    with app.app_context():
        assert heart.id in [g.id for g in gifts.catalogue()]


def test_settings_turn_receiving_gifts_off_and_on(app, people):
    browser = login(app, "host")
    page = browser.get("/settings/gifts").get_data(as_text=True)
    assert "Accept gifts in my lives" in page
    # On by default: the box is ticked (the hidden "0" goes along, as unticked boxes send nothing).
    assert find_form(page, "/settings/gifts").values()["accepts_gifts"] == ["0", "1"]
    off = submit(
        browser, "/settings/gifts", {"accepts_gifts": "0"}, action="/settings/gifts", follow_redirects=True
    )
    assert "Gifts are off" in flashes(off.get_data(as_text=True))[0]
    with app.app_context():
        assert gifts.accepts_gifts(accounts.get_by_username("host").id) is False
    assert find_form(off.get_data(as_text=True), "/settings/gifts").values()["accepts_gifts"] == "0"
    on = submit(
        browser,
        "/settings/gifts",
        {"accepts_gifts": ["0", "1"]},
        action="/settings/gifts",
        follow_redirects=True,
    )
    assert "Viewers can send you gifts in your lives." in flashes(on.get_data(as_text=True))
    with app.app_context():
        assert gifts.accepts_gifts(accounts.get_by_username("host").id) is True
    # Someone too young is told why gifts cannot reach them anyway.
    assert "You must be at least 18 to receive gifts." in text_of(
        login(app, "teen").get("/settings/gifts").get_data(as_text=True)
    )


def test_the_watch_page_and_studio_carry_the_gift_parts(app, people):
    with app.app_context():
        live_id = lives.start_live(accounts.get_by_username("host"), title="Jam").id
    page = login(app, "fan").get(f"/lives/{live_id}").get_data(as_text=True)
    assert 'aria-label="Send a gift"' in page and "data-gift-picker" in page
    assert 'href="/wallet"' in page  # Get coins
    assert "data-gift-goal" in page and "data-gift-stage" in page
    assert 'id="room-tab-gifts"' in page and "js/lives/gifts.js" in page
    assert 'data-fmt-combo="×{n}"' in page
    visitor = app.test_client().get(f"/lives/{live_id}").get_data(as_text=True)
    assert "data-gift-picker" not in visitor and "Log in to send gifts" in visitor
    assert "data-gift-stage" in visitor  # visitors see the animations too
    studio = login(app, "host").get("/studio").get_data(as_text=True)
    assert "data-goal-form" in studio and 'data-mode="studio"' in studio and "Diamonds earned" in studio
    assert f'data-live-id="{live_id}"' in studio
