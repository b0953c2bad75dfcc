"""Database models, one module per feature; imported here so Alembic sees every table."""

from livelite.models.accounts import ApiToken, Follow, Role, User
from livelite.models.settings import SiteSetting

__all__ = ["ApiToken", "Follow", "Role", "SiteSetting", "User"]
