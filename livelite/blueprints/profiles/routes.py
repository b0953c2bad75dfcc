"""Profiles at ``/@username``, follower lists, follow and unfollow."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from livelite.blueprints.profiles import bp
from livelite.extensions import db
from livelite.forms import Form, safe_next
from livelite.services import accounts, events, videos
from livelite.services.errors import DomainError

PER_PAGE = 30


@bp.route("/@<username>")
def show(username: str):
    """A person's page: avatar, bio, counts; events, videos and replays below the bio."""
    user = accounts.get_by_username(username)
    following = current_user.is_authenticated and current_user.is_following(user)
    viewer = current_user if current_user.is_authenticated else None
    return render_template(
        "profiles/show.html",
        user=user,
        following=following,
        form=Form(),
        upcoming=events.upcoming_for(user),
        video_page=videos.videos_of(user, viewer, per_page=12),
        story_count=videos.story_count(user),
    )


@bp.route("/@<username>/followers")
def followers(username: str):
    user = accounts.get_by_username(username)
    page = db.paginate(accounts.followers_query(user), per_page=PER_PAGE, error_out=False)
    return render_template("profiles/people.html", user=user, page=page, kind="followers")


@bp.route("/@<username>/following")
def following(username: str):
    user = accounts.get_by_username(username)
    page = db.paginate(accounts.following_query(user), per_page=PER_PAGE, error_out=False)
    return render_template("profiles/people.html", user=user, page=page, kind="following")


@bp.route("/@<username>/follow", methods=["POST"])
@login_required
def follow(username: str):
    target = accounts.get_by_username(username)
    if Form().validate_on_submit():
        try:
            accounts.follow(current_user, target)
        except DomainError as exc:
            flash(exc.message, "error")
    return redirect(safe_next(url_for("profiles.show", username=target.username)))


@bp.route("/@<username>/unfollow", methods=["POST"])
@login_required
def unfollow(username: str):
    target = accounts.get_by_username(username)
    if Form().validate_on_submit():
        accounts.unfollow(current_user, target)
    return redirect(safe_next(url_for("profiles.show", username=target.username)))
