"""Domain errors. Views turn them into flashes, the API into JSON, sockets into events."""


class DomainError(Exception):
    """A request that the rules refuse; ``message`` is safe to show to the user."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = str(message)
        self.field = field

    @property
    def errors(self) -> dict[str, list[str]]:
        return {self.field: [self.message]} if self.field else {}


class ValidationFailed(DomainError):
    """One or more fields are invalid; ``errors`` maps each field to its messages."""

    status = 422

    def __init__(self, errors: dict[str, list[str]]):
        first = next(iter(errors.values()))[0]
        super().__init__(first)
        self._errors = errors

    @property
    def errors(self) -> dict[str, list[str]]:
        return self._errors


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409
