"""Settings, errors and the clock: the bottom layer. Imports nothing of Wachter's."""

from core.clock import Clock, FixedClock, SystemClock
from core.errors import ConfigError, Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from core.settings import Settings

__all__ = [
    "Clock",
    "ConfigError",
    "Conflict",
    "DomainError",
    "FixedClock",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "Settings",
    "SystemClock",
]
