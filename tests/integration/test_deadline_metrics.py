"""MTTA, MTTR and breach counts per UTC month on known data, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core import InvalidInput
from incidents.deadlines.metrics import monthly_metrics
from incidents.deadlines.models import DeadlineBreach
from incidents.deadlines.sla import DeadlineKind
from tests.support.incident_factories import make_incident

NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
ACK, CONTAIN, RESOLVE = DeadlineKind.ACKNOWLEDGE, DeadlineKind.CONTAIN, DeadlineKind.RESOLVE


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def breach(session, incident, kind: DeadlineKind, due_at: datetime) -> None:
    session.add(
        DeadlineBreach(
            incident_id=incident.id,
            kind=kind.value,
            due_at=due_at,
            breached_at=due_at + timedelta(seconds=20),
        )
    )
    session.flush()


@pytest.fixture
def history(db_session):
    """February: two acknowledged (10 and 30 minutes), one closed after 2 days.
    March: one acknowledged after 1 hour, two closed (1 and 3 days), breaches.
    April (current): a physical incident acknowledged after 20 minutes."""
    first = make_incident(
        db_session,
        created_at=at(2, 3),
        acknowledged_at=at(2, 3, 9, 10),
        closed_at=at(2, 5),
        state="closed",
    )
    second = make_incident(
        db_session,
        created_at=at(2, 27),
        acknowledged_at=at(2, 27, 9, 30),
        closed_at=at(3, 2),
        state="closed",
    )
    third = make_incident(
        db_session, created_at=at(3, 10), acknowledged_at=at(3, 10, 10), closed_at=at(3, 11)
    )
    make_incident(
        db_session,
        type="physical",
        created_at=at(4, 1),
        acknowledged_at=at(4, 1, 9, 20),
    )
    breach(db_session, second, RESOLVE, at(3, 1))
    breach(db_session, third, ACK, at(3, 10, 9, 15))
    breach(db_session, third, CONTAIN, at(3, 10, 13))
    return first, second, third


def test_mean_times_and_breaches_per_month(db_session, history):
    months = monthly_metrics(db_session, now=NOW, months=3)
    assert [m.month for m in months] == [date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]
    february, march, april = months

    assert february.acknowledged == 2
    assert february.mean_time_to_acknowledge == timedelta(minutes=20)
    assert february.resolved == 1
    assert february.mean_time_to_resolve == timedelta(days=2)
    assert february.breach_total == 0

    assert march.acknowledged == 1
    assert march.mean_time_to_acknowledge == timedelta(hours=1)
    assert march.resolved == 2
    # Closed in March: 27 Feb 09:00 → 2 Mar 09:00 (3 days), 10 Mar → 11 Mar 09:00 (1 day).
    assert march.mean_time_to_resolve == timedelta(days=2)
    assert dict(march.breaches) == {ACK: 1, CONTAIN: 1, RESOLVE: 1}

    assert april.acknowledged == 1
    assert april.mean_time_to_acknowledge == timedelta(minutes=20)
    assert april.resolved == 0
    assert april.mean_time_to_resolve is None


def test_a_type_filter_keeps_only_that_type(db_session, history):
    physical = monthly_metrics(db_session, now=NOW, months=3, incident_type="physical")
    assert [m.acknowledged for m in physical] == [0, 0, 1]
    assert [m.breach_total for m in physical] == [0, 0, 0]
    cyber = monthly_metrics(db_session, now=NOW, months=3, incident_type="cyber")
    assert [m.acknowledged for m in cyber] == [2, 1, 0]


def test_months_are_utc_months(db_session):
    # 31 March 23:30 UTC is already 1 April in Amsterdam; the figures use UTC.
    make_incident(db_session, created_at=at(3, 31, 23, 0), acknowledged_at=at(3, 31, 23, 30))
    march, april = monthly_metrics(db_session, now=NOW, months=2)
    assert (march.acknowledged, april.acknowledged) == (1, 0)


def test_months_before_the_period_and_merged_incidents_are_left_out(db_session, history):
    target = history[2]
    make_incident(
        db_session,
        created_at=at(3, 5),
        acknowledged_at=at(3, 5, 9, 1),
        merged_into_id=target.id,
    )
    make_incident(db_session, created_at=at(1, 5), acknowledged_at=at(1, 5, 10))
    [march, _april] = monthly_metrics(db_session, now=NOW, months=2)
    assert march.acknowledged == 1
    assert march.mean_time_to_acknowledge == timedelta(hours=1)


def test_a_year_boundary_is_crossed_correctly(db_session):
    months = monthly_metrics(db_session, now=datetime(2026, 2, 1, tzinfo=UTC), months=4)
    assert [m.month for m in months] == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert all(m.acknowledged == 0 and m.mean_time_to_acknowledge is None for m in months)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"months": 0}, "months"), ({"months": 37}, "months"), ({"incident_type": "spy"}, "type")],
)
def test_bad_parameters_are_refused_clearly(db_session, options, field):
    with pytest.raises(InvalidInput) as caught:
        monthly_metrics(db_session, now=NOW, **options)
    assert caught.value.field == field
