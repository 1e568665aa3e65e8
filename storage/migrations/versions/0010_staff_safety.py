"""Staff safety: reports, identity vault, cases, approvals, measures, breaches, tombstones

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 08:56:26.208969
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_report_tombstone",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=True),
        sa.Column("incident_reference", sa.String(length=30), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("location", sa.String(length=30), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("reported_to_police", sa.Boolean(), nullable=False),
        sa.Column("aftercare_taken", sa.Boolean(), nullable=False),
        sa.Column("purged_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purged_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_staff_report_tombstone")),
    )
    op.create_table(
        "vault_identity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pseudonym", sa.String(length=20), nullable=False),
        sa.Column("name", sa.LargeBinary(), nullable=True),
        sa.Column("email", sa.LargeBinary(), nullable=True),
        sa.Column("phone", sa.LargeBinary(), nullable=True),
        sa.Column("case_reference", sa.LargeBinary(), nullable=True),
        sa.Column("user_id", sa.LargeBinary(), nullable=True),
        sa.Column("account_name", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_identity")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_vault_identity_pseudonym")),
    )
    op.create_table(
        "vault_index",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "identity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["vault_identity.id"],
            name=op.f("fk_vault_index_identity_id_vault_identity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_index")),
        sa.UniqueConstraint(
            "identity_id", "kind", "key_id", name=op.f("uq_vault_index_identity_id_kind_key_id")
        ),
    )
    with op.batch_alter_table("vault_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vault_index_identity_id"), ["identity_id"], unique=False
        )
        batch_op.create_index("ix_vault_index_kind_digest", ["kind", "digest"], unique=False)

    op.create_table(
        "perpetrator_measure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("perpetrator_pseudonym", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("house_rules", sa.Text(), nullable=False),
        sa.Column("contact_mode", sa.String(length=20), nullable=True),
        sa.Column("contact_user_id", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("ended_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_user_id"],
            ["user_account.id"],
            name=op.f("fk_perpetrator_measure_contact_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_perpetrator_measure_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_perpetrator_measure")),
    )
    with op.batch_alter_table("perpetrator_measure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_perpetrator_measure_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_perpetrator_measure_perpetrator_pseudonym"),
            ["perpetrator_pseudonym"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_perpetrator_measure_status"), ["status"], unique=False)

    op.create_table(
        "staff_deadline_breach",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("breached_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_staff_deadline_breach_incident_id_incident"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_deadline_breach")),
        sa.UniqueConstraint(
            "incident_id", "kind", name=op.f("uq_staff_deadline_breach_incident_id_kind")
        ),
    )
    with op.batch_alter_table("staff_deadline_breach", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_deadline_breach_breached_at"), ["breached_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_deadline_breach_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "staff_report",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reporter_pseudonym", sa.String(length=20), nullable=False),
        sa.Column("victim_pseudonym", sa.String(length=20), nullable=True),
        sa.Column("perpetrator_pseudonym", sa.String(length=20), nullable=True),
        sa.Column("occurred_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("location", sa.String(length=30), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("weapon", sa.Boolean(), nullable=False),
        sa.Column("injury", sa.Boolean(), nullable=False),
        sa.Column("absence", sa.Boolean(), nullable=False),
        sa.Column("others_present", sa.Text(), nullable=False),
        sa.Column("perpetrator_known", sa.Text(), nullable=False),
        sa.Column("wants_aftercare", sa.Boolean(), nullable=True),
        sa.Column("wants_police_report", sa.Boolean(), nullable=True),
        sa.Column("draft_people", sa.LargeBinary(), nullable=True),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_staff_report_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_report")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_staff_report_incident_id")),
        sa.UniqueConstraint("number", name=op.f("uq_staff_report_number")),
    )
    with op.batch_alter_table("staff_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_report_category"), ["category"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_staff_report_perpetrator_pseudonym"),
            ["perpetrator_pseudonym"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_staff_report_reporter_pseudonym"), ["reporter_pseudonym"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_staff_report_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_staff_report_submitted_at"), ["submitted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_report_victim_pseudonym"), ["victim_pseudonym"], unique=False
        )

    op.create_table(
        "staff_approval",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("subject", sa.String(length=30), nullable=False),
        sa.Column(
            "measure_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("requested_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_staff_approval_decided_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_staff_approval_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["perpetrator_measure.id"],
            name=op.f("fk_staff_approval_measure_id_perpetrator_measure"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_staff_approval_requested_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_approval")),
    )
    with op.batch_alter_table("staff_approval", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_approval_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_staff_approval_outcome"), ["outcome"], unique=False)

    op.create_table(
        "staff_case",
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("responsible_manager_id", sa.Integer(), nullable=True),
        sa.Column("first_care_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_care_note", sa.Text(), nullable=False),
        sa.Column("risk_level", sa.String(length=20), nullable=True),
        sa.Column("risk_assessment", sa.Text(), nullable=False),
        sa.Column("registered_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("aftercare_contact_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("aftercare_declined_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "aftercare_reoffered_at", storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("aftercare_note", sa.Text(), nullable=False),
        sa.Column("check_in_6_weeks_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("check_in_3_months_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("police_decision", sa.String(length=30), nullable=True),
        sa.Column("police_decision_reason", sa.Text(), nullable=False),
        sa.Column("police_decided_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("domicile", sa.Text(), nullable=False),
        sa.Column("ela_flag", sa.Boolean(), nullable=False),
        sa.Column("police_filed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("police_registration_number", sa.String(length=60), nullable=True),
        sa.Column("police_unit", sa.String(length=200), nullable=False),
        sa.Column("prosecution_decision", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("damage_statement", sa.Text(), nullable=False),
        sa.Column("damage_amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("damage_recovered_cents", sa.BigInteger(), nullable=True),
        sa.Column("evaluation", sa.Text(), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("legal_hold_reason", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_staff_case_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["staff_report.id"], name=op.f("fk_staff_case_report_id_staff_report")
        ),
        sa.ForeignKeyConstraint(
            ["responsible_manager_id"],
            ["user_account.id"],
            name=op.f("fk_staff_case_responsible_manager_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_staff_case")),
        sa.UniqueConstraint("report_id", name=op.f("uq_staff_case_report_id")),
    )
    op.create_table(
        "staff_report_person",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("pseudonym", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["staff_report.id"],
            name=op.f("fk_staff_report_person_report_id_staff_report"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_report_person")),
        sa.UniqueConstraint(
            "report_id",
            "role",
            "pseudonym",
            name=op.f("uq_staff_report_person_report_id_role_pseudonym"),
        ),
    )
    with op.batch_alter_table("staff_report_person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_report_person_pseudonym"), ["pseudonym"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_report_person_report_id"), ["report_id"], unique=False
        )

    op.create_table(
        "staff_report_update",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("occurred_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("seen_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["staff_report.id"],
            name=op.f("fk_staff_report_update_report_id_staff_report"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_report_update")),
    )
    with op.batch_alter_table("staff_report_update", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_report_update_report_id"), ["report_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_report_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_report_update_report_id"))

    op.drop_table("staff_report_update")
    with op.batch_alter_table("staff_report_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_report_person_report_id"))
        batch_op.drop_index(batch_op.f("ix_staff_report_person_pseudonym"))

    op.drop_table("staff_report_person")
    op.drop_table("staff_case")
    with op.batch_alter_table("staff_approval", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_approval_outcome"))
        batch_op.drop_index(batch_op.f("ix_staff_approval_incident_id"))

    op.drop_table("staff_approval")
    with op.batch_alter_table("staff_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_report_victim_pseudonym"))
        batch_op.drop_index(batch_op.f("ix_staff_report_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_staff_report_status"))
        batch_op.drop_index(batch_op.f("ix_staff_report_reporter_pseudonym"))
        batch_op.drop_index(batch_op.f("ix_staff_report_perpetrator_pseudonym"))
        batch_op.drop_index(batch_op.f("ix_staff_report_category"))

    op.drop_table("staff_report")
    with op.batch_alter_table("staff_deadline_breach", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_deadline_breach_incident_id"))
        batch_op.drop_index(batch_op.f("ix_staff_deadline_breach_breached_at"))

    op.drop_table("staff_deadline_breach")
    with op.batch_alter_table("perpetrator_measure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_perpetrator_measure_status"))
        batch_op.drop_index(batch_op.f("ix_perpetrator_measure_perpetrator_pseudonym"))
        batch_op.drop_index(batch_op.f("ix_perpetrator_measure_incident_id"))

    op.drop_table("perpetrator_measure")
    with op.batch_alter_table("vault_index", schema=None) as batch_op:
        batch_op.drop_index("ix_vault_index_kind_digest")
        batch_op.drop_index(batch_op.f("ix_vault_index_identity_id"))

    op.drop_table("vault_index")
    op.drop_table("vault_identity")
    op.drop_table("staff_report_tombstone")
