"""Tables of the scheduled Sigma searches: how far each rule has searched, and what it reported.

A scheduled search (``detection_rules.search.runner``) looks at the documents whose
``event.ingested`` lies in ``(checkpoint - look-back, now]``. ``search_checkpoint`` keeps,
per rule and index pattern, the ``event.ingested`` time the last run reached; the look-back
overlap means a document is usually found by more than one run, so ``search_hit_seen``
remembers every document a rule version has reported, and a document is reported once.

Both tables stay in the relational database in scale-out mode too: they are written in the
same transaction as the detections of a run, so a crash re-runs the window and the dedup
rows prevent doubles.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from detection_rules.models import KEY_LENGTH
from storage import Base, UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")
# Elasticsearch and OpenSearch limit index names to 255 bytes and document ids to 512.
INDEX_LENGTH = 255
DOC_ID_LENGTH = 512
# An index pattern may list several, comma-separated (``winlogbeat-*,logs-windows-*``).
PATTERN_LENGTH = 500


class SearchCheckpoint(Base):
    """How far one rule's scheduled search over one index pattern has got."""

    __tablename__ = "search_checkpoint"

    rule_key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    index_pattern: Mapped[str] = mapped_column(String(PATTERN_LENGTH), primary_key=True)
    # The newest event.ingested the runs found in the pattern (never after that run's
    # ``now``); the next run starts its window one look-back before it. None: nothing
    # found yet, so the next run starts one look-back before its own now.
    reached: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the last run's ``now``


class SearchHitSeen(Base):
    """A document a rule version has reported: the look-back finds it again, this says no.

    A new rule version is a new rule: it may report the documents of its window again.
    Rows whose ``ingested`` lies before every window a run can still search may be removed
    (``runner.prune_seen``).
    """

    __tablename__ = "search_hit_seen"
    __table_args__ = (UniqueConstraint("rule_key", "rule_version", "index_name", "doc_id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    rule_version: Mapped[int] = mapped_column(Integer)
    index_name: Mapped[str] = mapped_column(String(INDEX_LENGTH))
    doc_id: Mapped[str] = mapped_column(String(DOC_ID_LENGTH))
    ingested: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the document's
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the run's ``now``
