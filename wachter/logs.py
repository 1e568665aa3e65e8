"""The service's own logs: one ECS JSON object per line on stderr.

JSON escapes control characters, so a log line cannot be forged by a value that contains
a newline (SECURITY_CASES 57). Messages carry no secrets or personal identifiers.
"""

from __future__ import annotations

import logging
import sys

import ecs_logging

_NOISY = ("waitress.queue", "apscheduler", "alembic")


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        ecs_logging.StdlibFormatter(exclude_fields=["log.original", "log.origin", "process"])
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
