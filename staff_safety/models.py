"""Tables of staff safety: aggression reports, the identity vault, the case kept beside each
staff-safety incident, four-eyes approvals, perpetrator measures, deadline breaches, the
updates a reporter sees, and the tombstones a purge leaves.

No table here holds a name, e-mail address, phone number, case reference or user id of a
person in the clear: those live sealed in ``vault_identity`` (``staff_safety.vault``) and
everything else refers to the identity's pseudonym (``P-7KQM-X3TD``). A victim's home
address has no column anywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from incidents._columns import Id
from storage import Base, UTCDateTime


class ReportStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class Location(StrEnum):
    """Where it happened (the form's "where"); ``channel_of`` groups them for statistics."""

    COUNTER = "counter"
    OFFICE = "office"
    PHONE = "phone"
    LETTER = "letter"
    EMAIL = "email"
    SOCIAL_MEDIA = "social_media"
    HOME_VISIT = "home_visit"
    ELSEWHERE = "elsewhere"


class Channel(StrEnum):
    """How the aggression reached the employee, in the national monitors' categories."""

    IN_PERSON = "in_person"
    PHONE = "phone"
    LETTER = "letter"
    EMAIL = "email"
    ONLINE = "online"


CHANNEL_OF: dict[Location, Channel] = {
    Location.COUNTER: Channel.IN_PERSON,
    Location.OFFICE: Channel.IN_PERSON,
    Location.HOME_VISIT: Channel.IN_PERSON,
    Location.ELSEWHERE: Channel.IN_PERSON,
    Location.PHONE: Channel.PHONE,
    Location.LETTER: Channel.LETTER,
    Location.EMAIL: Channel.EMAIL,
    Location.SOCIAL_MEDIA: Channel.ONLINE,
}


class Category(StrEnum):
    VERBAL_ABUSE = "verbal_abuse"
    THREAT_IN_PERSON = "threat_in_person"
    THREAT_PHONE = "threat_phone"
    THREAT_LETTER = "threat_letter"
    THREAT_EMAIL = "threat_email"
    THREAT_ONLINE = "threat_online"
    INTIMIDATION = "intimidation"  # intimidation or stalking
    PHYSICAL_VIOLENCE = "physical_violence"
    VANDALISM = "vandalism"
    DISCRIMINATION = "discrimination"
    SEXUAL_INTIMIDATION = "sexual_intimidation"
    DOXING = "doxing"  # doxing or exposure of personal data
    ONLINE_HARASSMENT = "online_harassment"  # online harassment or incitement


class PersonRole(StrEnum):
    REPORTER = "reporter"
    VICTIM = "victim"
    WITNESS = "witness"
    PERPETRATOR = "perpetrator"


class StaffReport(Base):
    """One aggression report: a draft until submitted, then the start of a staff-safety case.

    ``reporter_pseudonym`` is how "my reports" are found (the reporter's vault identity is
    looked up by the blind index of their user id); the people involved are in
    ``staff_report_person``.
    """

    __tablename__ = "staff_report"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)  # MEL-2026-00042
    status: Mapped[str] = mapped_column(String(20), index=True)  # ReportStatus
    reporter_pseudonym: Mapped[str] = mapped_column(String(20), index=True)
    victim_pseudonym: Mapped[str | None] = mapped_column(String(20), index=True)
    perpetrator_pseudonym: Mapped[str | None] = mapped_column(String(20), index=True)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    location: Mapped[str | None] = mapped_column(String(30))  # Location
    category: Mapped[str | None] = mapped_column(String(40), index=True)  # Category
    description: Mapped[str] = mapped_column(Text, default="")  # what happened
    weapon: Mapped[bool] = mapped_column(Boolean, default=False)
    injury: Mapped[bool] = mapped_column(Boolean, default=False)
    absence: Mapped[bool] = mapped_column(Boolean, default=False)  # sick leave because of it
    others_present: Mapped[str] = mapped_column(Text, default="")  # no names: those are vaulted
    perpetrator_known: Mapped[str] = mapped_column(Text, default="")  # description, no names
    wants_aftercare: Mapped[bool | None] = mapped_column(Boolean)
    wants_police_report: Mapped[bool | None] = mapped_column(Boolean)
    # A draft's identifying fields (victim, witnesses, perpetrator) as one JSON object sealed
    # with the vault key for record ``draft:<id>``; moved into the vault on submission.
    draft_people: Mapped[bytes | None] = mapped_column(LargeBinary)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class VaultIdentity(Base):
    """One person, sealed: every field AES-GCM under the vault key, bound to this row and field.

    Sealed fields hold ``vault_crypto.seal`` output for record ``identity:<pseudonym>``;
    ``None`` means not known. There is no address field, by design.
    """

    __tablename__ = "vault_identity"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[bytes | None] = mapped_column(LargeBinary)
    email: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone: Mapped[bytes | None] = mapped_column(LargeBinary)
    case_reference: Mapped[bytes | None] = mapped_column(LargeBinary)
    user_id: Mapped[bytes | None] = mapped_column(LargeBinary)  # a Wachter account, as text
    account_name: Mapped[bytes | None] = mapped_column(LargeBinary)  # their sign-in name
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VaultIndex(Base):
    """A blind index (keyed HMAC) of one identifying value, to find the same person again."""

    __tablename__ = "vault_index"
    __table_args__ = (
        UniqueConstraint("identity_id", "kind", "key_id"),
        Index("ix_vault_index_kind_digest", "kind", "digest"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("vault_identity.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # user_id, email, phone, case_reference
    key_id: Mapped[str] = mapped_column(String(32))  # the vault key the digest was made under
    digest: Mapped[str] = mapped_column(String(64))


class ReportPerson(Base):
    """Who was involved in a report, by pseudonym and role (a witness may be several rows)."""

    __tablename__ = "staff_report_person"
    __table_args__ = (UniqueConstraint("report_id", "role", "pseudonym"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("staff_report.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # PersonRole
    pseudonym: Mapped[str] = mapped_column(String(20), index=True)


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class PoliceDecision(StrEnum):
    VICTIM_WITH_SUPPORT = "victim_with_support"  # the victim files, the employer supports
    EMPLOYER_ON_BEHALF = "employer_on_behalf"  # the employer files (needs four eyes)
    NOTIFICATION_ONLY = "notification_only"  # a melding, no aangifte
    NONE = "none"  # no police involvement, with a reason


class StaffCase(Base):
    """The staff-safety work beside one incident: triage, aftercare, the police report.

    The incident (``incidents.cases``) keeps state, timeline, evidence and audit; this row
    keeps what only the ELA/VPT workflow needs, and when each deadline was met.
    """

    __tablename__ = "staff_case"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), primary_key=True)
    # None for a staff-safety incident opened by hand or from alerts, without a report.
    report_id: Mapped[int | None] = mapped_column(ForeignKey("staff_report.id"), unique=True)
    responsible_manager_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # first care
    first_care_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_care_note: Mapped[str] = mapped_column(Text, default="")
    # registration (triage)
    risk_level: Mapped[str | None] = mapped_column(String(20))  # RiskLevel
    risk_assessment: Mapped[str] = mapped_column(Text, default="")
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # aftercare
    aftercare_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    aftercare_declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    aftercare_reoffered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    aftercare_note: Mapped[str] = mapped_column(Text, default="")
    check_in_6_weeks_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    check_in_3_months_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the police report (aangifte)
    police_decision: Mapped[str | None] = mapped_column(String(30))  # PoliceDecision
    police_decision_reason: Mapped[str] = mapped_column(Text, default="")
    police_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    domicile: Mapped[str] = mapped_column(Text, default="")  # the organisation's address
    ela_flag: Mapped[bool] = mapped_column(Boolean, default=False)  # VPT/ELA: priority handling
    police_filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    police_registration_number: Mapped[str | None] = mapped_column(String(60))
    police_unit: Mapped[str] = mapped_column(String(200), default="")
    prosecution_decision: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    damage_statement: Mapped[str] = mapped_column(Text, default="")
    damage_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    damage_recovered_cents: Mapped[int | None] = mapped_column(BigInteger)
    evaluation: Mapped[str] = mapped_column(Text, default="")
    # retention
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApprovalSubject(StrEnum):
    EMPLOYER_POLICE_REPORT = "employer_police_report"
    MEASURE = "measure"


class ApprovalOutcome(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Approval(Base):
    """A four-eyes approval: asked by one person, decided by another (never the same user)."""

    __tablename__ = "staff_approval"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    subject: Mapped[str] = mapped_column(String(30))  # ApprovalSubject
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("perpetrator_measure.id"))
    outcome: Mapped[str] = mapped_column(String(20), index=True)  # ApprovalOutcome
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(Text, default="")


class MeasureKind(StrEnum):
    WARNING_LETTER = "warning_letter"
    BUILDING_BAN = "building_ban"
    CONTACT_RESTRICTION = "contact_restriction"


class ContactMode(StrEnum):
    WRITTEN_ONLY = "written_only"
    ONE_CONTACT = "one_contact"  # only through one named contact person


class MeasureStatus(StrEnum):
    PROPOSED = "proposed"  # waiting for the second person's approval
    ACTIVE = "active"  # approved; in force between starts_on and ends_on
    REJECTED = "rejected"
    ENDED = "ended"  # lifted early or expired


class PerpetratorMeasure(Base):
    """One measure against a perpetrator (by pseudonym), in the register."""

    __tablename__ = "perpetrator_measure"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    perpetrator_pseudonym: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # MeasureKind
    status: Mapped[str] = mapped_column(String(20), index=True)  # MeasureStatus
    legal_basis: Mapped[str] = mapped_column(Text)
    house_rules: Mapped[str] = mapped_column(Text, default="")  # a building ban rests on them
    contact_mode: Mapped[str | None] = mapped_column(String(20))  # ContactMode
    contact_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    review_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str] = mapped_column(Text, default="")


class StaffDeadlineBreach(Base):
    """A breached staff-safety deadline, escalated once to the responsible manager."""

    __tablename__ = "staff_deadline_breach"
    __table_args__ = (UniqueConstraint("incident_id", "kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # staff_safety.deadlines.DeadlineKind
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    breached_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ReportUpdate(Base):
    """A step the reporter is told about on "my reports" (no officer-only detail in it)."""

    __tablename__ = "staff_report_update"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("staff_report.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # submitted, first_care, registered, police_decision, police_filed, police_registered,
    # prosecution_decision, outcome, damage_recovered, aftercare_contact, measure_taken, closed
    kind: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON, safe for the reporter
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the reporter read it


class ReportTombstone(Base):
    """What is left of a purged report: enough to count it and to explain audit entries."""

    __tablename__ = "staff_report_tombstone"

    report_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the purged row's id
    number: Mapped[str | None] = mapped_column(String(30))
    incident_reference: Mapped[str | None] = mapped_column(String(30))
    category: Mapped[str | None] = mapped_column(String(40))
    location: Mapped[str | None] = mapped_column(String(30))
    month: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM the report was made
    reported_to_police: Mapped[bool] = mapped_column(Boolean, default=False)
    aftercare_taken: Mapped[bool] = mapped_column(Boolean, default=False)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    purged_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))  # e.g. "retention: verbal_abuse, 5 years"
