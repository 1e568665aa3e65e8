"""Engine and sessions, the declarative base, migrations and job leases.

The SQL event store is ``storage.events``; Elasticsearch/OpenSearch adapters are
``storage.search``; ``storage.inserts.insert_once`` records a fact once across workers.
"""

from storage.base import Base
from storage.database import Database, parse_database_url
from storage.errors import DatabaseFault, DatabaseUnavailable, StorageError, database_fault
from storage.leases import JobLease, acquire_lease, release_lease
from storage.search_health import check_elasticsearch
from storage.types import UTCDateTime

__all__ = [
    "Base",
    "Database",
    "DatabaseFault",
    "DatabaseUnavailable",
    "JobLease",
    "StorageError",
    "UTCDateTime",
    "acquire_lease",
    "check_elasticsearch",
    "database_fault",
    "parse_database_url",
    "release_lease",
]
