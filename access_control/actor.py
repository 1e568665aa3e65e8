"""Who does something, from where: passed into every service, recorded in the audit trail."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

MAX_USER_AGENT = 300


@dataclass(frozen=True)
class Actor:
    """The acting person or machine. ``name`` is a username, ``token:<name>`` or ``system``."""

    name: str
    user_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 200:
            raise ValueError("an actor needs a name of at most 200 characters")
        if self.user_agent is not None and len(self.user_agent) > MAX_USER_AGENT:
            object.__setattr__(self, "user_agent", self.user_agent[:MAX_USER_AGENT])

    @classmethod
    def system(cls) -> Actor:
        """Wachter itself: scheduled jobs, first-run setup."""
        return cls(name="system")

    @classmethod
    def command_line(cls) -> Actor:
        """An operator at the ``wachter`` command line, named by their OS account."""
        try:
            account = getpass.getuser()
        except (KeyError, OSError):
            account = "unknown"
        return cls(name=f"cli:{account}"[:200])
