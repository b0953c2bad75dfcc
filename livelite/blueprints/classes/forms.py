from flask_babel import lazy_gettext as _l
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired

from livelite.forms import Form
from livelite.services.classes import NAME_MAX


class JoinForm(Form):
    code = StringField(
        _l("Invite code"),
        validators=[InputRequired(_l("Type the code you were given."))],
        description=_l(
            "8 letters and digits, like ABCD-EF23. Upper or lower case, with or without the dash."
        ),
        render_kw={
            "maxlength": 20,
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "autofocus": True,
            "class": "mono code-input",
        },
    )
    submit = SubmitField(_l("Join"))


class GroupForm(Form):
    name = StringField(
        _l("Group name"),
        validators=[InputRequired(_l("Give the group a name."))],
        render_kw={"maxlength": NAME_MAX},
    )
    submit = SubmitField(_l("Create group"))


class RenameForm(Form):
    name = StringField(
        _l("New name"),
        validators=[InputRequired(_l("Give the group a name."))],
        render_kw={"maxlength": NAME_MAX},
    )
    submit = SubmitField(_l("Rename"))


class MembersForm(Form):
    usernames = TextAreaField(
        _l("Add people by username"),
        validators=[InputRequired(_l("Type at least one username."))],
        description=_l("Several at once: separate them with commas, spaces or new lines."),
        render_kw={"rows": 3, "autocomplete": "off", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Add"))
