"""The JSON API under ``/api/v1``, for machines with a bearer token (``Authorization: Bearer``)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
