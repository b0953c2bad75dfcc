"""Helpers shared by the model modules."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, TypeDecorator

# The largest integer a database id holds: ids are ``Integer`` columns, 64-bit on SQLite
# but 32-bit on PostgreSQL (SERIAL), where a larger number in a query is an error.
MAX_ID = 2**31 - 1


def is_id(value) -> bool:
    """Whether a value from a client (JSON, a socket payload) can be a row's id: a
    positive int that a database integer holds. A larger one would not even reach the
    query (SQLite cannot bind it); a bool is not an id, though Python counts it as an int."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def utcnow() -> datetime:
    """Aware UTC now; every timestamp in the database is UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A DateTime that always comes back timezone-aware in UTC.

    SQLite stores no offset, so without this a value read back is naive and
    comparisons with ``utcnow()`` would raise.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value
