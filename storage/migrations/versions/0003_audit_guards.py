"""Audit trail guards: entry ids start at 1, and PostgreSQL refuses TRUNCATE.

Row triggers do not fire on TRUNCATE, and an INSERT with id 0 or below would sit before
the chain's first link; ``verify_chain`` reports both, these guards refuse them outright.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_entry_positive_id BEFORE INSERT ON audit_entry WHEN NEW.id < 1 "
            "BEGIN SELECT RAISE(ABORT, 'audit entry ids start at 1'); END"
        )
        return
    op.execute("ALTER TABLE audit_entry ADD CONSTRAINT ck_audit_entry_positive_id CHECK (id >= 1)")
    op.execute(
        "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_entry_positive_id")
        return
    op.execute("DROP TRIGGER audit_entry_no_truncate ON audit_entry")
    op.execute("ALTER TABLE audit_entry DROP CONSTRAINT ck_audit_entry_positive_id")
