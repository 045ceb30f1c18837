"""Domain errors. Services raise these; the one exception handler (apps.core.errors) renders
them in the shape of the request's dialect, with the status given here."""

from rest_framework import status


class ApplicationError(Exception):
    """A refusal the caller can act on. `field` names the input at fault, when there is one."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, field: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class FieldValidationError(ApplicationError):
    """Bad value for one named input field (parsers raise this)."""

    status_code = status.HTTP_400_BAD_REQUEST


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND


class PermissionDenied(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN


class Unauthenticated(ApplicationError):
    status_code = status.HTTP_401_UNAUTHORIZED


class Conflict(ApplicationError):
    """Already exists, or a state that does not allow the change (invalid transition)."""

    status_code = status.HTTP_409_CONFLICT


class Unprocessable(ApplicationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class QuotaExceeded(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN
