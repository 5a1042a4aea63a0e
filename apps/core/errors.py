"""Domain errors raised by services; views and the API turn them into messages / 4xx bodies."""


class DomainError(Exception):
    """A request the domain refuses; the message is safe to show the user."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(DomainError):
    status_code = 409


class PermissionDeniedError(DomainError):
    status_code = 403
