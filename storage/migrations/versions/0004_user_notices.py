"""Security notices: what changed on an account, shown to its owner in the console.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("read_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_notice_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_notice")),
    )
    with op.batch_alter_table("user_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_notice_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_notice_user_id"))

    op.drop_table("user_notice")
