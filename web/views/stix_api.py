"""``GET /api/v1/alerts/stix?since=ISO&until=ISO``: the IP addresses alerts saw, as a STIX
2.1 bundle for threat-intel platforms (token scope ``alerts:read``; docs/feeds.md).

The range is at most 90 days (default: the last day); a bad time or range is a 400 that
says why. Every export is audited with what it held (``alerts.exported``).
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, request
from sqlalchemy.orm import Session
from stix2.v21 import Bundle

from access_control.tokens import Scope
from incidents.feeds.stix import MEDIA_TYPE, alerts_bundle, export_range, record_export
from storage.database import READ_ONLY
from web.api_auth import current_actor, require_token
from web.context import db_session, web_context
from web.views.api import blueprint


@blueprint.get("/alerts/stix")
@require_token(Scope.ALERTS_READ)
def alerts_stix() -> Response:
    """An identity, an indicator per IP address and a sighting per alert and address."""
    now = web_context().clock.now()
    since, until = export_range(request.args.get("since"), request.args.get("until"), now=now)
    session = db_session()
    bundle = _read_bundle(session, since=since, until=until)
    record_export(session, bundle=bundle, since=since, until=until, actor=current_actor(), now=now)
    return Response(bundle.serialize(pretty=False), content_type=MEDIA_TYPE)


def _read_bundle(session: Session, *, since: datetime, until: datetime) -> Bundle:
    """Build the bundle in a read of its own: a long export must not hold SQLite's write
    lock (which the token check's bookkeeping took) from every other writer."""
    session.commit()
    session.connection(execution_options={READ_ONLY: True})
    bundle = alerts_bundle(session, since=since, until=until)
    session.commit()  # the audit entry is a short write transaction of its own
    return bundle
