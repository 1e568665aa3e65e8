"""Scale-out: search checkpoints, seen hits, correlation windows, detection documents

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 11:44:31.701555
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_checkpoint",
        sa.Column("rule_key", sa.String(length=300), nullable=False),
        sa.Column("index_pattern", sa.String(length=500), nullable=False),
        sa.Column("reached", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ran_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule_key", "index_pattern", name=op.f("pk_search_checkpoint")),
    )
    op.create_table(
        "search_correlation_state",
        sa.Column("rule_key", sa.String(length=300), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "rule_key", "rule_version", "group_key", name=op.f("pk_search_correlation_state")
        ),
    )
    op.create_table(
        "search_hit_seen",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_key", sa.String(length=300), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("index_name", sa.String(length=255), nullable=False),
        sa.Column("doc_id", sa.String(length=512), nullable=False),
        sa.Column("ingested", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_hit_seen")),
        sa.UniqueConstraint(
            "rule_key",
            "rule_version",
            "index_name",
            "doc_id",
            name=op.f("uq_search_hit_seen_rule_key_rule_version_index_name_doc_id"),
        ),
    )
    with op.batch_alter_table("search_hit_seen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_hit_seen_ingested"), ["ingested"], unique=False)

    with op.batch_alter_table("detection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("documents", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("detection", schema=None) as batch_op:
        batch_op.drop_column("documents")

    with op.batch_alter_table("search_hit_seen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_hit_seen_ingested"))

    op.drop_table("search_hit_seen")
    op.drop_table("search_correlation_state")
    op.drop_table("search_checkpoint")
