"""Evidence of incidents: files stored write-once with their SHA-256, typed by their content,
handed out only as verified downloads, with a chain of custody of everything done to them.

Other packages use these names; ``store`` and ``types`` are evidence's own business.
"""

from incidents.evidence.custody import custody, record_listed_in_report
from incidents.evidence.errors import EvidenceIntegrityError, EvidenceRefused, EvidenceTooLarge
from incidents.evidence.models import CustodyEntry, Evidence
from incidents.evidence.service import (
    INCIDENT_QUOTA_BYTES,
    MAX_FILES_PER_REQUEST,
    Download,
    IncidentEvidence,
    ManifestEntry,
    add_evidence,
    check_upload_count,
    get_evidence,
    incident_evidence,
    list_evidence,
    manifest,
    open_for_download,
    verify_evidence,
)
from incidents.evidence.types import ALLOWED_EXTENSIONS, ALLOWED_TYPES

__all__ = [
    "ALLOWED_EXTENSIONS",
    "ALLOWED_TYPES",
    "INCIDENT_QUOTA_BYTES",
    "MAX_FILES_PER_REQUEST",
    "CustodyEntry",
    "Download",
    "Evidence",
    "EvidenceIntegrityError",
    "EvidenceRefused",
    "EvidenceTooLarge",
    "IncidentEvidence",
    "ManifestEntry",
    "add_evidence",
    "check_upload_count",
    "custody",
    "get_evidence",
    "incident_evidence",
    "list_evidence",
    "manifest",
    "open_for_download",
    "record_listed_in_report",
    "verify_evidence",
]
