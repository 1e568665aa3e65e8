"""Rejected raw input, kept with its reason so nothing is dropped without a trace.

The store is capped twice: each entry keeps at most ``MAX_RAW`` characters of its input
(``raw_size`` says how large it was) and a job trims the store to the newest
``MAX_ENTRIES``, so a flood of garbage cannot fill the disk. The console lists them
(reading one is audited: raw input can carry personal data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ingest.models import DeadLetter

MAX_RAW = 8 * 1024
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Rejection:
    """One piece of input that did not become an event, and why."""

    reason: str
    raw: bytes | str
    index: int | None = None  # its place in the batch, when the sender needs to know


def as_text(raw: bytes | str) -> str:
    """Input as text for display: undecodable bytes as ``\\xNN``, cut to ``MAX_RAW``."""
    text = raw if isinstance(raw, str) else raw[: MAX_RAW * 4].decode("utf-8", "backslashreplace")
    return text[:MAX_RAW]


def _size(raw: bytes | str) -> int:
    return len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))


def record_dead_letters(
    session: Session,
    rejections: Sequence[Rejection],
    *,
    receiver: str,
    source: str,
    received_at: datetime,
) -> None:
    if not rejections:
        return
    session.execute(
        insert(DeadLetter),
        [
            {
                "received_at": received_at,
                "receiver": receiver[:40],
                "source": source[:100],
                "reason": rejection.reason[:300],
                "raw": as_text(rejection.raw).replace("\x00", "\\x00"),
                "raw_size": _size(rejection.raw),
            }
            for rejection in rejections
        ],
    )


def list_dead_letters(
    session: Session, *, before_id: int | None = None, limit: int = 50
) -> list[DeadLetter]:
    """Newest first; ``before_id`` pages back."""
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(max(1, min(limit, 200)))
    if before_id is not None:
        query = query.where(DeadLetter.id < before_id)
    return list(session.scalars(query))


def count_dead_letters(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(DeadLetter)) or 0


def trim_dead_letters(session: Session, *, keep: int = MAX_ENTRIES) -> int:
    """Delete all but the newest ``keep`` entries; returns how many went."""
    cutoff = session.scalar(
        select(DeadLetter.id).order_by(DeadLetter.id.desc()).offset(keep).limit(1)
    )
    if cutoff is None:
        return 0
    result = session.execute(delete(DeadLetter).where(DeadLetter.id <= cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
