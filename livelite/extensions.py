"""Extensions, created unbound and attached to the app in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints so that migrations can alter tables on SQLite (batch mode).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class LiveLiteApi(Api):
    """flask-smorest's Api without its app-wide HTTP error handler.

    The stock handler would answer every 404 in the app, HTML pages included, with
    JSON; ``livelite.errors`` chooses JSON or HTML per request instead.
    """

    def _register_error_handlers(self):
        pass

    @property
    def ERROR_SCHEMA(self):
        """The documented error body (the ``default`` and 422 responses of every
        operation) is the one ``livelite.errors`` sends, not flask-smorest's own."""
        from livelite.blueprints.api.common import ApiErrorSchema

        return ApiErrorSchema


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
babel = Babel()
socketio = SocketIO()
api = LiveLiteApi()
