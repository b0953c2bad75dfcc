"""What every template can use: the avatar URL, languages, the current locale, dates."""

from flask import Flask, url_for
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l

from livelite.models import Role

ROLE_LABELS = {
    Role.ADMIN: _l("Admin"),
    Role.MODERATOR: _l("Moderator"),
    Role.CREATOR: _l("Creator"),
    Role.MEMBER: _l("Member"),
}


def role_label(role: Role) -> str:
    return str(ROLE_LABELS[role])


def avatar_url(user) -> str | None:
    if user is None or not user.avatar_path:
        return None
    return url_for("media.file", path=user.avatar_path)


def _get_setting(key: str):
    from livelite.services.settings import get_setting

    return get_setting(key)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["avatar_url"] = avatar_url
    app.jinja_env.globals["role_label"] = role_label
    # Dates in the reader's language and the site's time zone (admin list, token table).
    app.jinja_env.globals["format_date"] = format_date
    app.jinja_env.globals["format_datetime"] = format_datetime
    # Site settings a page needs to tell the browser (the chat's length limit).
    app.jinja_env.globals["get_setting"] = _get_setting

    @app.context_processor
    def inject_locale():
        return {"current_locale": str(get_locale()), "languages": app.config["LANGUAGES"]}

    @app.context_processor
    def inject_unread():
        """The bell's count on every page (then kept current over Socket.IO)."""
        from flask_login import current_user

        from livelite.services.notifications import unread_count_of

        if current_user and current_user.is_authenticated:
            return {"unread_count": unread_count_of(current_user.id)}
        return {"unread_count": 0}
