"""Tables of the rule side: the rule registry and its versions, ``|expand`` lists,
detections (which ``incidents.alerts`` turns into alerts) and correlation state.

A rule's versions are immutable: an edited rule is a new version, and a detection names the
version that fired, so an alert can always show the rule exactly as it was. JSON values
are stored as text, as ``ingest`` does: one representation on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base, UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")
# A rule's key is its Sigma id (36 characters), else its name, else its title (Sigma
# allows titles of 256 characters).
KEY_LENGTH = 300


class RuleKind(StrEnum):
    RULE = "rule"
    CORRELATION = "correlation"


class RuleOrigin(StrEnum):
    IMPORTED = "imported"  # ``wachter rules import`` or the console
    PACK = "pack"  # Wachter's own rule pack (detection_rules/packs)


class ListKind(StrEnum):
    STRINGS = "strings"
    NETWORKS = "networks"  # IP addresses and CIDR ranges, checked with ipaddress


class DetectionRule(Base):
    """A rule in the registry; its text lives in its versions."""

    __tablename__ = "detection_rule"

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    # Sigma's ``name``: correlations may refer to a rule by it.
    name: Mapped[str | None] = mapped_column(String(KEY_LENGTH), index=True)
    title: Mapped[str] = mapped_column(String(KEY_LENGTH))
    kind: Mapped[str] = mapped_column(String(20))  # RuleKind
    level: Mapped[str | None] = mapped_column(String(20))  # Sigma level
    status: Mapped[str | None] = mapped_column(String(20))  # Sigma status
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(20))  # RuleOrigin
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DetectionRuleVersion(Base):
    """One version of a rule, never changed: the YAML document exactly as imported."""

    __tablename__ = "detection_rule_version"
    __table_args__ = (UniqueConstraint("rule_key", "version"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True)
    rule_key: Mapped[str] = mapped_column(ForeignKey("detection_rule.key"))
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, …
    text: Mapped[str] = mapped_column(Text)
    # Of the text with line ends and trailing blanks normalised: the same rule re-imported
    # is "unchanged", any other edit (a comment too) is a new version.
    sha256: Mapped[str] = mapped_column(String(64))
    source_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))  # the actor's name


class DetectionList(Base):
    """A list ``|expand`` placeholders are filled from (``%office_networks%``)."""

    __tablename__ = "detection_list"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # ListKind
    values: Mapped[str] = mapped_column(Text)  # JSON list of strings
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class Detection(Base):
    """A rule that matched, with why; ``incidents.alerts`` folds detections into alerts."""

    __tablename__ = "detection"
    __table_args__ = (
        ForeignKeyConstraint(
            ["rule_key", "rule_version"],
            ["detection_rule_version.rule_key", "detection_rule_version.version"],
        ),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    rule_version: Mapped[int] = mapped_column(Integer)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # when matched
    event_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    event_ids: Mapped[str] = mapped_column(Text)  # JSON list of event table ids
    # A scheduled search's hit (scale-out): the cluster documents the detection points at,
    # JSON [{"index": …, "id": …, "source": {…}}], the source copied and bounded: an index
    # Beats writes is not Wachter's, and its retention is not Wachter's. None otherwise.
    documents: Mapped[str | None] = mapped_column(Text)
    group_values: Mapped[str | None] = mapped_column(Text)  # JSON: group-by field -> value
    explanation: Mapped[str] = mapped_column(Text)  # JSON: selections, fields, values matched
    level: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(KEY_LENGTH))


class CorrelationStateColumns:
    """One correlation rule version's open windows for one group, as the engine saves them.

    Two tables have these columns: ``correlation_state`` (the streaming matcher's) and
    ``search_correlation_state`` (the scheduled searches'); each feeder keeps its own.
    """

    rule_key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    rule_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_key: Mapped[str] = mapped_column(Text, primary_key=True)
    state: Mapped[str] = mapped_column(Text)  # JSON, the correlation engine's own format
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CorrelationState(CorrelationStateColumns, Base):
    """The open windows of one correlation rule version for one group, kept across restarts."""

    __tablename__ = "correlation_state"


class SearchCorrelationState(CorrelationStateColumns, Base):
    """The scheduled searches' correlation windows (scale-out; ``detection_rules.search``)."""

    __tablename__ = "search_correlation_state"
