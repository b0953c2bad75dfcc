"""Forms of the host's moderation settings page (rules are in services.moderators)."""

import re

from flask_babel import lazy_gettext as _l
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired

from livelite.forms import Form
from livelite.services.moderators import BLOCKED_WORD_MAX_LENGTH, BLOCKED_WORDS_MAX


class ModeratorForm(Form):
    username = StringField(
        _l("Username"),
        validators=[InputRequired(_l("Enter the username of the person to appoint."))],
        description=_l("They moderate all your lives: delete messages, mute, remove and ban people."),
        render_kw={"maxlength": 31, "autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Add moderator"))


class BlockedWordsForm(Form):
    words = TextAreaField(
        _l("Words and phrases"),
        description=_l(
            "One per line or separated by commas, %(n)s at most, each up to %(len)s characters. "
            "Capitals do not matter. Messages containing one of them are refused in the chat of all your lives.",
            n=BLOCKED_WORDS_MAX,
            len=BLOCKED_WORD_MAX_LENGTH,
        ),
        render_kw={"rows": 8, "spellcheck": "false"},
    )
    submit = SubmitField(_l("Save blocked words"))

    def word_list(self) -> list[str]:
        """The textarea split on new lines and commas (the service cleans each entry)."""
        return [w for w in re.split(r"[\n,]", self.words.data or "") if w.strip()]
