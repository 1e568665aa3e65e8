"""What is wrong with a rule, and where: one ``RuleProblem`` per finding, never an exception.

Loading, validation and the compile check all report problems instead of raising, so a run
over a thousand files reports every bad rule at once. An ``error`` keeps the rule out (it
is not imported, ``rules check`` fails); a ``warning`` is shown and the rule goes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class RuleProblem:
    """``path:line: message``; ``line`` is 1-based, ``None`` when no line can be named.

    ``rule`` names the rule (title, and id when it has one) when the problem belongs to one.
    ``code`` is a short, stable kind (``yaml``, ``sigma``, ``duplicate_key``, a validator's
    name, ``unsupported``, ``reference``) for tests and for grouping in reports.
    """

    path: str
    line: int | None
    message: str
    severity: Severity = Severity.ERROR
    rule: str | None = None
    code: str = "sigma"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def __str__(self) -> str:
        kind = "" if self.is_error else "warning: "
        about = f" (rule {self.rule})" if self.rule else ""
        return f"{self.location}: {kind}{self.message}{about}"
