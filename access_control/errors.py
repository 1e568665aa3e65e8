"""Errors of access control. Messages are safe to show; none reveals whether an account exists."""

from __future__ import annotations

from core import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from core.i18n import N_


class AuthenticationFailed(DomainError):
    """Generic: the same message for unknown user, wrong password, locked or disabled."""

    def __init__(self) -> None:
        super().__init__(N_("Invalid username or password."))


class Throttled(DomainError):
    """Too many failures from this address; ``retry_after`` seconds until the next try."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(N_("Too many failed attempts. Try again later."))
        self.retry_after = retry_after


class WeakPassword(InvalidInput):
    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message, field="password", **params)


class StepUpRequired(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(N_("Confirm with your password and a code first."))


class InvalidToken(DomainError):
    """An API token that is unknown, expired, revoked or malformed (one message for all)."""

    def __init__(self) -> None:
        super().__init__(N_("The API token is not valid."))


class InsufficientScope(PermissionDenied):
    pass


class TokenNotFound(NotFound):
    pass


class UserNotFound(NotFound):
    pass


class UserExists(Conflict):
    pass
