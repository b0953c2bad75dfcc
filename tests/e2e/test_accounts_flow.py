"""A newcomer's first visit, in Chromium: sign up, log out and in, set a picture, follow.

The story needs an empty site (the first account becomes the admin), which is what the
session's server is when this runs; it registers the first account of the session.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
BOB_PASSWORD = "bob-password-1"


def make_picture(path: Path) -> Path:
    """A landscape PNG, so the server has to crop it to a square as well as shrink it."""
    height, width = 480, 720
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, :, 0] = np.linspace(40, 255, width, dtype=np.uint8)  # blue rises left to right
    image[:, :, 2] = np.linspace(255, 60, height, dtype=np.uint8)[:, None]  # red falls downwards
    cv2.circle(image, (width // 2, height // 2), 150, (255, 255, 255), thickness=-1)
    assert cv2.imwrite(str(path), image)
    return path


def open_account_menu(page: Page) -> Locator:
    """Open the menu behind the avatar and return its panel."""
    page.get_by_label("Account menu").click()
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    return menu


def tab_to(page: Page, target: Locator, max_presses: int = 40) -> None:
    """Press Tab until ``target`` has the keyboard focus, as a keyboard user would."""
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{target} is not reachable with Tab in {max_presses} presses")


def follower_link(page: Page, count: int) -> Locator:
    noun = "follower" if count == 1 else "followers"
    return page.get_by_role("link", name=f"{count} {noun}", exact=True)


def test_newcomer_signs_up_sets_a_picture_and_follows_someone(page: Page, live_server, tmp_path):
    # --- Sign up. A too-short password is refused next to the field, the rest is kept.
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/register$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Display name").fill("Alice Liddell")
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_label("Birth date").fill("1995-05-04")
    page.get_by_role("button", name="Create account").click()

    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-invalid", "true")
    # The error is part of the field's description, so a screen reader reads it with the field.
    expect(password).to_have_accessible_description(re.compile(r"at least 8 characters\.$"))
    expect(page.get_by_text("Passwords have at least 8 characters.")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Username")).not_to_have_attribute("aria-invalid", "true")

    password.fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # Registration logs in and shows the new profile; the first account runs the site.
    expect(page).to_have_url(re.compile(r"/@alice$"))
    flashes = page.get_by_role("status")
    expect(flashes).to_contain_text("Welcome to LiveLite, Alice Liddell!")
    expect(flashes).to_contain_text("You are the first person here, so you are the site admin.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Alice Liddell")
    expect(page.get_by_role("main").get_by_text("Admin", exact=True)).to_be_visible()

    # --- Log out from the account menu.
    open_account_menu(page).get_by_role("menuitem", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    expect(page.get_by_label("Account menu")).to_have_count(0)

    # --- A wrong password is refused with a message, and the form is there to try again.
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username or email").fill("alice")
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status")).to_contain_text("Incorrect username or password.")
    expect(page.get_by_label("Account menu")).to_have_count(0)

    # --- Log in with "Remember me": the login outlives the browser session.
    page.get_by_label("Username or email").fill("alice@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Remember me").check()
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("Account menu")).to_be_visible()
    remember = [c for c in page.context.cookies() if c["name"] == "remember_token"]
    assert remember, "Remember me set no cookie"
    assert remember[0]["httpOnly"]
    # Forget the session cookie, as closing the browser does: the remember cookie logs us back in.
    page.context.clear_cookies(name="session")
    page.reload()
    expect(page.get_by_label("Account menu")).to_be_visible()

    # --- Settings → Profile: upload a picture.
    open_account_menu(page).get_by_role("menuitem", name="Settings").click()
    settings_nav = page.get_by_role("navigation", name="Settings")
    settings_nav.get_by_role("link", name="Profile").click()
    expect(settings_nav.get_by_role("link", name="Profile")).to_have_attribute("aria-current", "page")
    page.get_by_label("New picture").set_input_files(make_picture(tmp_path / "me.png"))
    page.get_by_role("button", name="Upload picture").click()
    expect(page.get_by_role("status")).to_contain_text("Your new picture is in place.")
    expect(page.get_by_role("button", name="Remove picture")).to_be_visible()

    # The profile shows it, cropped and scaled to 256×256.
    page.get_by_role("link", name="View profile").click()
    expect(page).to_have_url(re.compile(r"/@alice$"))
    picture = page.get_by_role("main").get_by_role("img", name="Picture of Alice Liddell")
    expect(picture).to_be_visible()
    size = picture.evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])")
    assert size == [256, 256]

    # --- Follow bob, who exists already (made with the CLI, as an operator would).
    live_server.cli(
        "create-user",
        "bob",
        "--email",
        "bob@example.com",
        "--password",
        BOB_PASSWORD,
        "--birthdate",
        "1992-02-29",
        "--display-name",
        "Bob",
    )
    page.goto("/@bob")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bob")
    expect(follower_link(page, 0)).to_be_visible()

    # Keyboard only: Tab until the Follow button has focus (visibly), then Enter.
    follow = page.get_by_role("button", name="Follow", exact=True)
    tab_to(page, follow)
    assert follow.evaluate("button => button.matches(':focus-visible')")
    assert follow.evaluate("button => getComputedStyle(button).outlineStyle") != "none"
    page.keyboard.press("Enter")

    expect(follower_link(page, 1)).to_be_visible()
    following = page.get_by_role("button", name=re.compile(r"^Following"))
    expect(following).to_be_visible()
    expect(following).to_have_accessible_name(re.compile(r"Unfollow"))
    expect(follow).to_have_count(0)

    # Bob's followers page lists alice.
    follower_link(page, 1).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Followers of Bob")
    expect(page.get_by_role("listitem").get_by_role("link")).to_contain_text(["Alice Liddell"])
    page.go_back()

    # --- Unfollow: the count goes back to 0 and the button to Follow.
    page.get_by_role("button", name=re.compile(r"^Following")).click()
    expect(follower_link(page, 0)).to_be_visible()
    expect(page.get_by_role("button", name="Follow", exact=True)).to_be_visible()
