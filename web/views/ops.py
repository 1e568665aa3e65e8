"""Operations probes: ``/healthz`` (the process answers) and ``/readyz`` (it can do its job).

Both are public by design (load balancers and orchestrators call them without
credentials); they reveal only check names and ok/failed, never URLs or errors.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from storage import DatabaseUnavailable, StorageError, check_elasticsearch, migrate
from web.context import web_context

blueprint = Blueprint("ops", __name__)
log = logging.getLogger("wachter.web")


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks = {"database": _check_database(), "elasticsearch": _check_elasticsearch()}
    ready = all(result in ("ok", "not configured") for result in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def _check_database() -> str:
    database = web_context().database
    try:
        database.check_connection()
        if not migrate.is_up_to_date(database):
            return "migrations pending"
    except DatabaseUnavailable as error:
        log.warning("readiness: %s", error)
        return "failed"
    return "ok"


def _check_elasticsearch() -> str:
    url = web_context().settings.elasticsearch_url
    if url is None:
        return "not configured"
    try:
        check_elasticsearch(url)
    except StorageError as error:
        log.warning("readiness: %s", error)
        return "failed"
    return "ok"
