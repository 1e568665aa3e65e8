"""Errors of the rule side that reach people (the CLI, the console, the API), on ``core.errors``.

    InvalidInput (core)
    └── DetectionRuleError      something about a Sigma rule or a detection list is wrong
        ├── RuleSyntaxError     a rule file cannot be read as Sigma; ``path`` and ``line``
        │                       say where (``line`` is 1-based, ``None`` when unknown)
        ├── UnsupportedRule     a valid Sigma rule the matcher cannot evaluate
        ├── RuleArchiveError    a rule archive (.zip) is refused: too large, too many
        │                       members, nested archives
        └── InvalidList         a detection list (``|expand`` placeholder) value is malformed

The messages are English, marked with ``core.i18n.N_``; the web layer translates them.
"""

from __future__ import annotations

from core import InvalidInput


class DetectionRuleError(InvalidInput):
    """Base of the rule side's input errors; ``field`` names the rule key or list when known."""


class RuleSyntaxError(DetectionRuleError):
    """A rule source that is not valid YAML or not valid Sigma.

    ``path`` is the file (or ``archive.zip!member.yml``) it came from, ``line`` the 1-based
    line of the offending key or YAML token when it could be found, else ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        **params: object,
    ) -> None:
        # path and line are parameters too, so a message may show them: '%(path)s: …'
        super().__init__(message, field=field, path=path, line=line, **params)
        self.path = path
        self.line = line


class UnsupportedRule(DetectionRuleError):
    """A valid Sigma rule using something the in-process matcher cannot evaluate.

    ``path`` and ``line`` are filled in when the caller knows where the rule came from.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        **params: object,
    ) -> None:
        # path and line are parameters too, so a message may show them: '%(path)s: …'
        super().__init__(message, field=field, path=path, line=line, **params)
        self.path = path
        self.line = line


class RuleArchiveError(DetectionRuleError):
    """A rule archive refused before its rules are read (limits exist against zip bombs)."""

    def __init__(
        self, message: str, *, path: str | None = None, field: str | None = None, **params: object
    ) -> None:
        super().__init__(message, field=field, path=path, **params)
        self.path = path


class InvalidList(DetectionRuleError):
    """A detection list whose name, kind or values cannot be stored."""
