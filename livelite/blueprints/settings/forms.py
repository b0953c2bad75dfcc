from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from livelite.forms import Form


class ProfileForm(Form):
    display_name = StringField(
        _l("Display name"),
        validators=[InputRequired(_l("Enter a display name."))],
        render_kw={"maxlength": 50},
    )
    bio = TextAreaField(
        _l("Bio"), description=_l("300 characters at most."), render_kw={"maxlength": 300, "rows": 4}
    )
    submit = SubmitField(_l("Save profile"))


class AvatarForm(Form):
    avatar = FileField(
        _l("New picture"),
        validators=[InputRequired(_l("Choose a picture."))],
        description=_l("JPEG, PNG or WebP, 5 MB at most. It is cropped to a square."),
        render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif,image/bmp"},
    )
    submit = SubmitField(_l("Upload picture"))


class PasswordForm(Form):
    current_password = PasswordField(
        _l("Current password"),
        validators=[InputRequired(_l("Enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[InputRequired(_l("Choose a new password."))],
        description=_l("At least 8 characters. Your other sessions will be logged out."),
        render_kw={"autocomplete": "new-password", "minlength": 8, "maxlength": 128},
    )
    submit = SubmitField(_l("Change password"))


class LanguageForm(Form):
    locale = SelectField(
        _l("Language"),
        choices=[("", _l("Same as my browser")), ("en", "English"), ("fr", "Français")],
        validate_choice=True,
    )
    submit = SubmitField(_l("Save language"))


class DeleteAccountForm(Form):
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password to confirm."))],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(_l("Delete my account"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TokenForm(Form):
    name = StringField(
        _l("Token name"),
        validators=[InputRequired(_l("Name the token."))],
        description=_l("Something that reminds you where it is used."),
        render_kw={"maxlength": 60},
    )
    scopes = MultiCheckboxField(_l("Scopes"), default=["read"])
    expires_in_days = IntegerField(
        _l("Expires after (days)"),
        validators=[Optional()],
        description=_l("Leave empty for a token that does not expire."),
        render_kw={"min": 1, "max": 3650},
    )
    submit = SubmitField(_l("Create token"))
