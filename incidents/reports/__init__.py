"""Reports of incidents for readers outside the console: the incident report as PDF."""

from incidents.reports.pdf import incident_report_pdf

__all__ = ["incident_report_pdf"]
