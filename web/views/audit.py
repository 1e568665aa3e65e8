"""The audit trail viewer (AUDIT_READ: administrators and auditors).

Newest first, 50 entries a page, paged back by entry id. The chain is verified on every
view, so what the page shows is never trusted blindly, and every view is itself audited.
Filters come from the query string and are checked here: a value that does not parse is a
400 with a message, never a silently ignored filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from access_control import audit, record_read
from core import InvalidInput
from web.auth import current_actor
from web.context import db_session, web_context, when_rendered

blueprint = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 50
MAX_ACTION = 100  # the column widths of audit_entry
MAX_ACTOR = 200
MAX_ENTRY_ID = 2**63 - 1
OUTCOME_LABELS = {"success": _l("Success"), "failure": _l("Failure"), "denied": _l("Denied")}
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_NUMBER = re.compile(r"[0-9]{1,19}", re.ASCII)


@dataclass(frozen=True)
class AuditFilter:
    """The viewer's filters, parsed from the query string (all optional)."""

    action: str = ""  # a literal prefix: "user." or "auth.login"
    actor: str = ""
    outcome: str = ""
    since: date | None = None  # inclusive
    until: date | None = None  # inclusive: the whole day
    before: int | None = None  # the page ends just before this entry

    def __post_init__(self) -> None:
        if len(self.action) > MAX_ACTION or len(self.actor) > MAX_ACTOR:
            raise InvalidInput(_("A filter is too long."), field="action")
        if self.outcome and self.outcome not in audit.OUTCOMES:
            raise InvalidInput(_("Choose an outcome from the list."), field="outcome")
        if self.since and self.until and self.since > self.until:
            raise InvalidInput(_("The start date is after the end date."), field="since")
        if self.before is not None and not 1 <= self.before <= MAX_ENTRY_ID:
            raise InvalidInput(_("That page does not exist."), field="before")

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> AuditFilter:
        before = args.get("before", "").strip()
        if before and not _NUMBER.fullmatch(before):
            raise InvalidInput(_("That page does not exist."), field="before")
        return cls(
            action=args.get("action", "").strip(),
            actor=args.get("actor", "").strip(),
            outcome=args.get("outcome", "").strip(),
            since=_day(
                args.get("since", ""), error=_("The start date is not a valid date (YYYY-MM-DD).")
            ),
            until=_day(
                args.get("until", ""), error=_("The end date is not a valid date (YYYY-MM-DD).")
            ),
            before=int(before) if before else None,
        )

    def query(self) -> dict[str, Any]:
        """Keyword arguments for ``audit.list_entries``."""
        return {
            "action_prefix": self.action or None,
            "actor": self.actor or None,
            "outcome": self.outcome or None,
            "since": _midnight(self.since) if self.since else None,
            "until": _midnight(self.until + timedelta(days=1))
            if self.until and self.until < date.max
            else None,
            "before_id": self.before,
        }

    def args(self, **changes: str | int | None) -> dict[str, str | int]:
        """The filters as query arguments for a link, without the empty ones."""
        values: dict[str, str | int | date | None] = {
            "action": self.action,
            "actor": self.actor,
            "outcome": self.outcome,
            "since": self.since,
            "until": self.until,
            "before": self.before,
            **changes,
        }
        return {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in values.items()
            if value not in (None, "")
        }


@blueprint.get("")
def entries() -> str:
    chosen = AuditFilter.from_args(request.args)
    database_session, now = db_session(), web_context().clock.now()
    # Inside a request other writers commit meanwhile: check up to the head read first;
    # `wachter audit verify` also catches entries appended past the head (in a snapshot).
    chain = audit.verify_chain(database_session, check_unanchored=False)
    found = audit.list_entries(database_session, **chosen.query(), limit=PAGE_SIZE + 1)
    when_rendered(
        partial(record_read, actor=current_actor(), record_type="audit", record_id="list", now=now)
    )
    return render_template(
        "audit/entries.html",
        chain=chain,
        entries=found[:PAGE_SIZE],
        older=found[PAGE_SIZE - 1].id if len(found) > PAGE_SIZE else None,
        chosen=chosen,
        outcomes=OUTCOME_LABELS,
    )


def _day(text: str, *, error: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(error, field="date")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
