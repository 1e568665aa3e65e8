"""Log collection: the event store, dead letters, consumer cursors and file checkpoints.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("receiver", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter")),
    )
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dead_letter_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("timestamp", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ingested", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dataset", sa.String(length=100), nullable=True),
        sa.Column("host_name", sa.String(length=255), nullable=True),
        sa.Column("user_name", sa.String(length=255), nullable=True),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("flags", sa.String(length=200), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("source", "event_key", name=op.f("uq_event_source_event_key")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_dataset"), ["dataset"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_host_name"), ["host_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_source_ip"), ["source_ip"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_timestamp"), ["timestamp"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_user_name"), ["user_name"], unique=False)

    op.create_table(
        "event_cursor",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_event_cursor")),
    )
    op.create_table(
        "ingest_file",
        sa.Column("path_hash", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=40), nullable=False),
        sa.Column("prefix_hash", sa.String(length=64), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("path_hash", name=op.f("pk_ingest_file")),
    )


def downgrade() -> None:
    op.drop_table("ingest_file")
    op.drop_table("event_cursor")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_user_name"))
        batch_op.drop_index(batch_op.f("ix_event_timestamp"))
        batch_op.drop_index(batch_op.f("ix_event_source_ip"))
        batch_op.drop_index(batch_op.f("ix_event_host_name"))
        batch_op.drop_index(batch_op.f("ix_event_dataset"))

    op.drop_table("event")
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letter_received_at"))

    op.drop_table("dead_letter")
