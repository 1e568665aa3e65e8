"""Alerts and incidents: alerts, suppressions, policies, incidents, playbooks, comments,
tasks, entities, timeline, merges.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:19:55.302468
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_policy",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rule_key", sa.String(length=300), nullable=True),
        sa.Column("tag", sa.String(length=200), nullable=True),
        sa.Column("min_severity", sa.String(length=20), nullable=True),
        sa.Column("raise_to", sa.String(length=20), nullable=True),
        sa.Column("open_incident", sa.Boolean(), nullable=False),
        sa.Column("incident_type", sa.String(length=30), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_policy")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_policy_name")),
    )
    op.create_table(
        "incidents_cursor",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_incidents_cursor")),
    )
    op.create_table(
        "playbook",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("incident_type", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook")),
        sa.UniqueConstraint("key", name=op.f("uq_playbook_key")),
    )
    with op.batch_alter_table("playbook", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_playbook_incident_type"), ["incident_type"], unique=False
        )

    op.create_table(
        "suppression",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_key", sa.String(length=300), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("last_hit_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression")),
    )
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_suppression_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "playbook_version",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "playbook_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tasks", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["playbook_id"], ["playbook.id"], name=op.f("fk_playbook_version_playbook_id_playbook")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_version")),
        sa.UniqueConstraint(
            "playbook_id", "version", name=op.f("uq_playbook_version_playbook_id_version")
        ),
    )
    op.create_table(
        "incident",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reference", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=30), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column(
            "playbook_version_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("contained_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["user_account.id"], name=op.f("fk_incident_assignee_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["incident.id"], name=op.f("fk_incident_merged_into_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["playbook_version_id"],
            ["playbook_version.id"],
            name=op.f("fk_incident_playbook_version_id_playbook_version"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["user_account.id"], name=op.f("fk_incident_reviewer_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("reference", name=op.f("uq_incident_reference")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_closed_at"), ["closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_severity"), ["severity"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_type"), ["type"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rule_key", sa.String(length=300), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("rule_level", sa.String(length=20), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("group_values", sa.Text(), nullable=True),
        sa.Column("entities", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_alert_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "ix_alert_fingerprint_status", ["fingerprint", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alert_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_last_seen"), ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_rule_key"), ["rule_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_severity"), ["severity"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_status"), ["status"], unique=False)

    op.create_table(
        "incident_comment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "origin_incident_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_comment_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["origin_incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_comment_origin_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_comment")),
        sa.UniqueConstraint(
            "thread_id", "version", name=op.f("uq_incident_comment_thread_id_version")
        ),
    )
    with op.batch_alter_table("incident_comment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_comment_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_entity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "origin_incident_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("added_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_entity_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["origin_incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_entity_origin_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_entity")),
        sa.UniqueConstraint(
            "incident_id", "kind", "value", name=op.f("uq_incident_entity_incident_id_kind_value")
        ),
    )
    with op.batch_alter_table("incident_entity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_entity_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index("ix_incident_entity_kind_value", ["kind", "value"], unique=False)

    op.create_table(
        "incident_merge",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "source_incident_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "target_incident_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("source_state", sa.String(length=40), nullable=False),
        sa.Column("merged_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.String(length=200), nullable=False),
        sa.Column("unmerged_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unmerged_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_merge_source_incident_id_incident"),
        ),
        sa.ForeignKeyConstraint(
            ["target_incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_merge_target_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_merge")),
    )
    with op.batch_alter_table("incident_merge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_merge_source_incident_id"), ["source_incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_merge_target_incident_id"), ["target_incident_id"], unique=False
        )

    op.create_table(
        "incident_task",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "origin_incident_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("playbook_task_key", sa.String(length=100), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("completed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user_account.id"],
            name=op.f("fk_incident_task_assignee_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_task_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["origin_incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_task_origin_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_task")),
    )
    with op.batch_alter_table("incident_task", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_task_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_timeline",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "origin_incident_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("occurred_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_timeline_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["origin_incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_timeline_origin_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_timeline")),
    )
    with op.batch_alter_table("incident_timeline", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_timeline_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "suppressed_hit",
        sa.Column(
            "detection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "suppression_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rule_key", sa.String(length=300), nullable=False),
        sa.Column("suppressed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["detection_id"],
            ["detection.id"],
            name=op.f("fk_suppressed_hit_detection_id_detection"),
        ),
        sa.ForeignKeyConstraint(
            ["suppression_id"],
            ["suppression.id"],
            name=op.f("fk_suppressed_hit_suppression_id_suppression"),
        ),
        sa.PrimaryKeyConstraint("detection_id", name=op.f("pk_suppressed_hit")),
    )
    with op.batch_alter_table("suppressed_hit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_suppressed_hit_suppression_id"), ["suppression_id"], unique=False
        )

    op.create_table(
        "alert_detection",
        sa.Column(
            "detection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("detected_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_alert_detection_alert_id_alert")
        ),
        sa.ForeignKeyConstraint(
            ["detection_id"],
            ["detection.id"],
            name=op.f("fk_alert_detection_detection_id_detection"),
        ),
        sa.PrimaryKeyConstraint("detection_id", name=op.f("pk_alert_detection")),
    )
    with op.batch_alter_table("alert_detection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_detection_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "alert_entity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_alert_entity_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_entity")),
        sa.UniqueConstraint(
            "alert_id", "kind", "value", name=op.f("uq_alert_entity_alert_id_kind_value")
        ),
    )
    with op.batch_alter_table("alert_entity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_entity_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index("ix_alert_entity_kind_value", ["kind", "value"], unique=False)

    op.create_table(
        "incident_alert",
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "origin_incident_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("added_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_incident_alert_alert_id_alert")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_alert_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["origin_incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_alert_origin_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_incident_alert")),
    )
    with op.batch_alter_table("incident_alert", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_alert_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_merge_row",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["merge_id"],
            ["incident_merge.id"],
            name=op.f("fk_incident_merge_row_merge_id_incident_merge"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_merge_row")),
        sa.UniqueConstraint(
            "merge_id", "kind", "row_id", name=op.f("uq_incident_merge_row_merge_id_kind_row_id")
        ),
    )
    with op.batch_alter_table("incident_merge_row", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_merge_row_merge_id"), ["merge_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_merge_row", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_merge_row_merge_id"))

    op.drop_table("incident_merge_row")
    with op.batch_alter_table("incident_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_alert_incident_id"))

    op.drop_table("incident_alert")
    with op.batch_alter_table("alert_entity", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_entity_kind_value")
        batch_op.drop_index(batch_op.f("ix_alert_entity_alert_id"))

    op.drop_table("alert_entity")
    with op.batch_alter_table("alert_detection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_detection_alert_id"))

    op.drop_table("alert_detection")
    with op.batch_alter_table("suppressed_hit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppressed_hit_suppression_id"))

    op.drop_table("suppressed_hit")
    with op.batch_alter_table("incident_timeline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_timeline_incident_id"))

    op.drop_table("incident_timeline")
    with op.batch_alter_table("incident_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_task_incident_id"))

    op.drop_table("incident_task")
    with op.batch_alter_table("incident_merge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_merge_target_incident_id"))
        batch_op.drop_index(batch_op.f("ix_incident_merge_source_incident_id"))

    op.drop_table("incident_merge")
    with op.batch_alter_table("incident_entity", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_entity_kind_value")
        batch_op.drop_index(batch_op.f("ix_incident_entity_incident_id"))

    op.drop_table("incident_entity")
    with op.batch_alter_table("incident_comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_comment_incident_id"))

    op.drop_table("incident_comment")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_status"))
        batch_op.drop_index(batch_op.f("ix_alert_severity"))
        batch_op.drop_index(batch_op.f("ix_alert_rule_key"))
        batch_op.drop_index(batch_op.f("ix_alert_last_seen"))
        batch_op.drop_index(batch_op.f("ix_alert_incident_id"))
        batch_op.drop_index("ix_alert_fingerprint_status")
        batch_op.drop_index(batch_op.f("ix_alert_created_at"))

    op.drop_table("alert")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_type"))
        batch_op.drop_index(batch_op.f("ix_incident_state"))
        batch_op.drop_index(batch_op.f("ix_incident_severity"))
        batch_op.drop_index(batch_op.f("ix_incident_created_at"))
        batch_op.drop_index(batch_op.f("ix_incident_closed_at"))
        batch_op.drop_index(batch_op.f("ix_incident_assignee_id"))

    op.drop_table("incident")
    op.drop_table("playbook_version")
    with op.batch_alter_table("suppression", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suppression_expires_at"))

    op.drop_table("suppression")
    with op.batch_alter_table("playbook", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playbook_incident_type"))

    op.drop_table("playbook")
    op.drop_table("incidents_cursor")
    op.drop_table("alert_policy")
