"""The full schema: every package's models, for migrations and schema checks."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from storage import Base

# Each package that owns tables adds its models module here.
MODEL_MODULES = (
    "storage.leases",
    "storage.events",
    "access_control.models",
    "ingest.models",
    "detection_rules.models",
    "detection_rules.search.models",
    "incidents.alerts.models",
    "incidents.cases.models",
    "incidents.evidence.models",
    "incidents.deadlines.models",
    "incidents.notifications.models",
    "incidents.feeds.models",
    "staff_safety.models",
)


def metadata() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)  # importing registers the tables on Base.metadata
    return Base.metadata
