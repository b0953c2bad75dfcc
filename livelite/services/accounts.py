"""Accounts: registration rules, authentication, profile changes, follows, deletion."""

from __future__ import annotations

import re
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from livelite.extensions import db
from livelite.media import images
from livelite.models import Follow, Role, User
from livelite.models.accounts import new_session_token
from livelite.services.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from livelite.services.policy import age_on
from livelite.services.settings import get_setting

USERNAME_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_.]*[a-z0-9_])?$")
USERNAME_MIN, USERNAME_MAX = 3, 30
DISPLAY_NAME_MAX = 50
BIO_MAX = 300
PASSWORD_MIN, PASSWORD_MAX = 8, 128
# Names that would collide with pages or mislead people.
RESERVED_USERNAMES = frozenset(
    [
        "admin",
        "administrator",
        "api",
        "app",
        "auth",
        "bell",
        "help",
        "live",
        "livelite",
        "login",
        "logout",
        "me",
        "media",
        "moderator",
        "notifications",
        "register",
        "root",
        "settings",
        "static",
        "support",
        "system",
        "upcoming",
    ]
)


def storage():
    return current_app.extensions["livelite.storage"]


def normalise_username(username: str) -> str:
    return (username or "").strip().lstrip("@").lower()


def username_errors(username: str) -> list[str]:
    if not (USERNAME_MIN <= len(username) <= USERNAME_MAX):
        return [_("Usernames are %(lo)s to %(hi)s characters long.", lo=USERNAME_MIN, hi=USERNAME_MAX)]
    if not USERNAME_RE.match(username) or ".." in username:
        return [_("Use letters, digits, underscores and dots only; a dot may not start, end or repeat.")]
    if username in RESERVED_USERNAMES:
        return [_("This username is reserved.")]
    return []


def password_errors(password: str) -> list[str]:
    if len(password or "") < PASSWORD_MIN:
        return [_("Passwords have at least %(n)s characters.", n=PASSWORD_MIN)]
    if len(password) > PASSWORD_MAX:
        return [_("Passwords have at most %(n)s characters.", n=PASSWORD_MAX)]
    return []


def display_name_errors(display_name: str) -> list[str]:
    if not display_name:
        return [_("Enter a display name.")]
    if len(display_name) > DISPLAY_NAME_MAX:
        return [_("Display names have at most %(n)s characters.", n=DISPLAY_NAME_MAX)]
    return []


def register(
    *,
    username: str,
    display_name: str,
    email: str,
    password: str,
    birth_date: date | None,
    today: date | None = None,
    role: Role | None = None,
    check_open: bool = True,
    invite_code: str | None = None,
) -> User:
    """Create an account after checking every rule; the first account becomes admin.

    All problems are reported at once, per field, so a form can show them together.
    While registration is closed, a registration invite code (services.registration)
    still lets one in; a use of it is taken in the transaction that adds the account.
    """
    from livelite.services import registration

    today = today or date.today()
    errors: dict[str, list[str]] = {}
    needs_invite = check_open and not get_setting("REGISTRATION_OPEN")
    if needs_invite:
        if not registration.normalise_code(invite_code):
            raise PermissionDenied(_("Registration is closed on this site."))
        if problem := registration.refusal(invite_code):
            errors["invite_code"] = [problem]

    username = normalise_username(username)
    if problems := username_errors(username):
        errors["username"] = problems
    elif db.session.scalar(select(User.id).where(User.username == username)):
        errors["username"] = [_("This username is taken.")]

    display_name = (display_name or "").strip()
    if problems := display_name_errors(display_name):
        errors["display_name"] = problems

    try:
        email = validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors["email"] = [_("Enter a valid email address.")]
    else:
        if db.session.scalar(select(User.id).where(User.email == email)):
            errors["email"] = [_("An account already uses this email address.")]

    if problems := password_errors(password):
        errors["password"] = problems

    min_age = get_setting("MIN_AGE")
    if birth_date is None:
        errors["birth_date"] = [_("Enter your birth date.")]
    elif birth_date > today:
        errors["birth_date"] = [_("The birth date is in the future.")]
    elif age_on(birth_date, today) > 120:
        errors["birth_date"] = [_("Check the birth date.")]
    elif age_on(birth_date, today) < min_age:
        errors["birth_date"] = [_("You must be at least %(age)s to join.", age=min_age)]

    if errors:
        raise ValidationFailed(errors)

    if needs_invite and not registration.take_use(invite_code):
        db.session.rollback()
        raise ValidationFailed(
            {"invite_code": [registration.refusal(invite_code) or _("This invite code has been used up.")]}
        )
    first = not db.session.scalar(select(func.count()).select_from(User))
    user = User(
        username=username,
        display_name=display_name,
        email=email,
        password_hash=generate_password_hash(password),
        birth_date=birth_date,
        role=Role.ADMIN if first else (role or Role.MEMBER),
    )
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(login: str, password: str) -> User:
    """The user for a username or email and password; one message for every mismatch."""
    login = (login or "").strip().lower().lstrip("@")
    user = db.session.scalar(select(User).where((User.username == login) | (User.email == login)))
    if user is None or not check_password_hash(user.password_hash, password or ""):
        raise DomainError(_("Incorrect username or password."))
    if user.is_banned:
        raise PermissionDenied(_("This account is banned."))
    return user


def get_by_username(username: str) -> User:
    name = normalise_username(username)
    # No username has a NUL or a lone surrogate, which some databases cannot even compare.
    user = db.session.scalar(select(User).where(User.username == name)) if name.isprintable() else None
    if user is None:
        raise NotFound(_("No one has this username."))
    return user


def update_profile(user: User, *, display_name: str | None = None, bio: str | None = None) -> User:
    errors = {}
    if display_name is not None:
        display_name = display_name.strip()
        if problems := display_name_errors(display_name):
            errors["display_name"] = problems
    if bio is not None:
        bio = bio.strip().replace("\r\n", "\n")
        if len(bio) > BIO_MAX:
            errors["bio"] = [_("The bio has at most %(n)s characters.", n=BIO_MAX)]
    if errors:
        raise ValidationFailed(errors)
    if display_name is not None:
        user.display_name = display_name
    if bio is not None:
        user.bio = bio
    db.session.commit()
    return user


def set_avatar(user: User, data: bytes) -> User:
    """Replace the avatar with a square JPEG made from ``data`` (any common image)."""
    config = current_app.config
    image = images.decode_image(
        data,
        field="avatar",
        max_bytes=config["AVATAR_MAX_BYTES"],
        max_pixels=config["AVATAR_MAX_PIXELS"],
    )
    jpeg = images.square_jpeg(image, config["AVATAR_SIZE"])
    old = user.avatar_path
    user.avatar_path = storage().save("avatars", "avatar.jpg", jpeg)
    db.session.commit()
    storage().delete(old)
    return user


def remove_avatar(user: User) -> None:
    old, user.avatar_path = user.avatar_path, None
    db.session.commit()
    storage().delete(old)


def change_password(user: User, current: str, new: str) -> None:
    """Change the password and sign out every other session of this account."""
    if not check_password_hash(user.password_hash, current or ""):
        raise ValidationFailed({"current_password": [_("The current password is not right.")]})
    if problems := password_errors(new):
        raise ValidationFailed({"new_password": problems})
    user.password_hash = generate_password_hash(new)
    user.session_token = new_session_token()
    db.session.commit()


def set_locale(user: User, locale: str | None) -> None:
    if locale and locale not in current_app.config["LANGUAGES"]:
        raise ValidationFailed({"locale": [_("Unknown language.")]})
    user.locale = locale or None
    db.session.commit()


def delete_account(user: User, password: str) -> None:
    """Delete the account, its follows, tokens and files. The last admin cannot leave."""
    if not check_password_hash(user.password_hash, password or ""):
        raise ValidationFailed({"password": [_("The password is not right.")]})
    if user.is_admin:
        admins = db.session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN))
        if admins <= 1:
            raise Conflict(_("You are the only admin. Make someone else admin first."))
    avatar = user.avatar_path
    db.session.delete(user)
    db.session.commit()
    storage().delete(avatar)


def follow(user: User, target: User) -> bool:
    """Follow ``target``; returns False if already following (a repeat is harmless)."""
    if user.id == target.id:
        raise DomainError(_("You cannot follow yourself."))
    if user.is_following(target):
        return False
    db.session.add(Follow(follower_id=user.id, followed_id=target.id))
    db.session.commit()
    from livelite.services import notifications

    notifications.new_follower(user, target)
    return True


def unfollow(user: User, target: User) -> bool:
    row = db.session.get(Follow, {"follower_id": user.id, "followed_id": target.id})
    if row is None:
        return False
    db.session.delete(row)
    db.session.commit()
    return True


def followers_query(user: User):
    """Users following ``user``, newest first (a select for pagination)."""
    return (
        select(User)
        .join(Follow, Follow.follower_id == User.id)
        .where(Follow.followed_id == user.id)
        .order_by(Follow.created_at.desc())
    )


def following_query(user: User):
    return (
        select(User)
        .join(Follow, Follow.followed_id == User.id)
        .where(Follow.follower_id == user.id)
        .order_by(Follow.created_at.desc())
    )


def set_role(user: User, role: Role) -> None:
    user.role = role
    db.session.commit()


def set_banned(user: User, banned: bool) -> None:
    """Ban or unban; a ban also ends every session of the account."""
    user.is_banned = banned
    if banned:
        user.session_token = new_session_token()
    db.session.commit()
