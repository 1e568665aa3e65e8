"""Insert a row once, whoever else tries at the same time: ``INSERT … ON CONFLICT DO NOTHING``.

Used where several workers may record the same fact (a deadline breach) and only the one whose
insert made the row may act on it (escalate once). The statement is built for the session's
backend (SQLite and PostgreSQL both have the clause, in their own dialect constructs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_once(
    session: Session, model: Any, values: Mapping[str, Any], *, unique: Sequence[str]
) -> int | None:
    """The new row's id, or None when a row with the same ``unique`` columns was there."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(model.id)
    )
    found: int | None = session.execute(statement).scalar_one_or_none()
    return found
