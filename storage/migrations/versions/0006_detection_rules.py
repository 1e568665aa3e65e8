"""Detection rules: the registry and its versions, |expand lists, detections, correlation state.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "correlation_state",
        sa.Column("rule_key", sa.String(length=300), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "rule_key", "rule_version", "group_key", name=op.f("pk_correlation_state")
        ),
    )
    op.create_table(
        "detection_list",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_detection_list")),
    )
    op.create_table(
        "detection_rule",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_detection_rule")),
    )
    with op.batch_alter_table("detection_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_detection_rule_name"), ["name"], unique=False)

    op.create_table(
        "detection_rule_version",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_key", sa.String(length=300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_key"],
            ["detection_rule.key"],
            name=op.f("fk_detection_rule_version_rule_key_detection_rule"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_rule_version")),
        sa.UniqueConstraint(
            "rule_key", "version", name=op.f("uq_detection_rule_version_rule_key_version")
        ),
    )
    op.create_table(
        "detection",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_key", sa.String(length=300), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("detected_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_time", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.Column("group_values", sa.Text(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_key", "rule_version"],
            ["detection_rule_version.rule_key", "detection_rule_version.version"],
            name=op.f("fk_detection_rule_key_detection_rule_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection")),
    )
    with op.batch_alter_table("detection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_detection_detected_at"), ["detected_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_detection_rule_key"), ["rule_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("detection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detection_rule_key"))
        batch_op.drop_index(batch_op.f("ix_detection_detected_at"))

    op.drop_table("detection")
    op.drop_table("detection_rule_version")
    with op.batch_alter_table("detection_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detection_rule_name"))

    op.drop_table("detection_rule")
    op.drop_table("detection_list")
    op.drop_table("correlation_state")
