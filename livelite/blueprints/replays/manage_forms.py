"""Forms of the owner's replay pages. Every rule (title length, visibility values,
trim times, quota) is services.replays'; the forms carry values and the CSRF token."""

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField, TextAreaField

from livelite.forms import Form
from livelite.services.replays import TITLE_MAX
from livelite.services.videos import CAPTION_MAX

VISIBILITY_CHOICES = [
    ("private", _l("Only me")),
    ("followers", _l("My followers")),
    ("public", _l("Everyone")),
]


class ReplayEditForm(Form):
    """Rename a replay and choose who may watch it: one per card, prefixed by its id."""

    title = StringField(_l("Title"), render_kw={"maxlength": TITLE_MAX, "autocomplete": "off"})
    visibility = SelectField(_l("Who can watch"), choices=VISIBILITY_CHOICES, validate_choice=False)


class PostForm(Form):
    """Post a replay (or a part of it) to the feed as a video."""

    title = StringField(_l("Title"), render_kw={"maxlength": TITLE_MAX, "autocomplete": "off"})
    caption = TextAreaField(_l("Caption"), render_kw={"maxlength": CAPTION_MAX, "rows": 4})
    trim_start = StringField(
        _l("Start"),
        description=_l("Optional. A time like 1:05; empty: from the beginning."),
        render_kw={
            "inputmode": "numeric",
            "autocomplete": "off",
            "placeholder": "0:00",
            "spellcheck": "false",
        },
    )
    trim_end = StringField(
        _l("End"),
        description=_l("Optional. Empty: to the end."),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"},
    )
    source = RadioField(
        _l("Cameras"),
        choices=[("host", _l("Only you (the host)")), ("composed", _l("You and your guests, side by side"))],
        default="host",
        validate_choice=False,
    )
