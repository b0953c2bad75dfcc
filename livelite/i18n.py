"""Which language a request is answered in."""

from flask import current_app, has_request_context, request
from flask_login import current_user

LANG_COOKIE = "lang"


def select_locale() -> str:
    """The user's saved choice, else the language cookie, else the browser's preference."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        # CLI commands and background jobs have no user or browser to ask.
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in languages:
        return cookie
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
