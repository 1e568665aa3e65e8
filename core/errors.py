"""The exception tree every package raises from.

    DomainError             a rule of the domain was broken; safe to show to the user
    ├── NotFound            the object does not exist, or the actor may not know it does
    ├── PermissionDenied    the actor is known but may not do this
    ├── Conflict            the object is not in a state that allows this
    └── InvalidInput        the input is malformed; ``field`` names the culprit when known
    ConfigError             the configuration is unusable; ``variable`` names it

Each domain subclasses these in ``<domain>/errors.py``. ``web`` maps them to status codes
in one handler; the CLI maps ``ConfigError`` to a one-line message and exit code 2.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class for errors whose message may be shown to the user.

    ``message`` is English text marked with ``core.i18n.N_``, with ``%(name)s`` placeholders
    for ``params``; ``template`` keeps it untranslated for the web layer to translate.
    """

    def __init__(self, message: str, **params: object) -> None:
        self.template = message
        self.params = params
        self.message = message % params if params else message
        super().__init__(self.message)


class NotFound(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class Conflict(DomainError):
    pass


class InvalidInput(DomainError):
    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        super().__init__(message, **params)
        self.field = field


class ConfigError(Exception):
    """The configuration cannot be used. ``str()`` is one line that names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem
