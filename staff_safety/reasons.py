"""A stated reason: what revealing an identity and placing or lifting a legal hold ask for.

Whitespace is collapsed; at least ``MIN_REASON`` characters (a word like "check" says
nothing to an auditor) and at most ``MAX_REASON``. The caller names what the reason is for in
``too_short``, a ``N_`` template with ``%(minimum)d``.
"""

from __future__ import annotations

from typing import Final

from core import InvalidInput
from core.i18n import N_

MIN_REASON: Final = 10
MAX_REASON: Final = 500


def stated_reason(reason: str | None, *, too_short: str) -> str:
    text = " ".join((reason or "").split())
    if len(text) < MIN_REASON:
        raise InvalidInput(too_short, field="reason", minimum=MIN_REASON)
    if len(text) > MAX_REASON:
        raise InvalidInput(
            N_("A reason is at most %(limit)d characters."), field="reason", limit=MAX_REASON
        )
    return text
