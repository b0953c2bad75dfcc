from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired

from livelite.forms import DateField, Form


class RegisterForm(Form):
    username = StringField(
        _l("Username"),
        validators=[InputRequired(_l("Choose a username."))],
        description=_l("3 to 30 characters: letters, digits, _ and ."),
        render_kw={"autocomplete": "username", "maxlength": 30, "autocapitalize": "none"},
    )
    display_name = StringField(
        _l("Display name"),
        validators=[InputRequired(_l("Enter a display name."))],
        render_kw={"autocomplete": "name", "maxlength": 50},
    )
    email = EmailField(
        _l("Email"),
        validators=[InputRequired(_l("Enter your email address."))],
        render_kw={"autocomplete": "email", "maxlength": 254},
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Choose a password."))],
        description=_l("At least 8 characters."),
        render_kw={"autocomplete": "new-password", "minlength": 8, "maxlength": 128},
    )
    birth_date = DateField(
        _l("Birth date"),
        validators=[InputRequired(_l("Enter your birth date."))],
        description=_l("Used only to apply age rules; never shown."),
        render_kw={"autocomplete": "bday"},
    )
    # Shown while registration is closed (invite-only); services.registration checks it.
    invite_code = StringField(
        _l("Invite code"),
        description=_l("Registration is by invitation: enter the code an admin gave you."),
        render_kw={
            "autocomplete": "off",
            "maxlength": 32,
            "autocapitalize": "characters",
            "spellcheck": "false",
        },
    )
    submit = SubmitField(_l("Create account"))


class LoginForm(Form):
    login = StringField(
        _l("Username or email"),
        validators=[InputRequired(_l("Enter your username or email."))],
        render_kw={"autocomplete": "username", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Remember me"))
    submit = SubmitField(_l("Log in"))


class LogoutForm(Form):
    # This browser's Web Push endpoint, filled in by static/js/push/logout.js (empty
    # without JavaScript or push): its subscription stops with the session.
    push_endpoint = HiddenField()
    submit = SubmitField(_l("Log out"))
