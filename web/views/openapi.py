"""``GET /api/v1/openapi.json``: the token API's OpenAPI 3.1 description, for anyone.

The document is written by hand (``web/openapi.yaml``, ADR 0025) and served as it is, as
JSON, with the installed package's version. It is public (web/policy.py): it describes the
interface and holds no data, and the same text is in the repository. Its own blueprint
keeps it out of ``api.*``, whose every view needs a token. It changes only with a release,
so it may be cached for an hour and revalidated by its ETag.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata, resources
from typing import Any

import yaml
from flask import Blueprint, Response, request

blueprint = Blueprint("openapi", __name__, url_prefix="/api/v1")
DOCUMENT = "openapi.yaml"
CACHE_SECONDS = 3600


@blueprint.get("/openapi.json", endpoint="document")
def openapi_document() -> Response:
    body, etag = _served()
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_SECONDS
    response.make_conditional(request)  # 304 for a matching If-None-Match
    return response


def load_document() -> dict[str, Any]:
    """The document as written, with ``info.version`` the installed package's."""
    text = resources.files("web").joinpath(DOCUMENT).read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    document["info"]["version"] = metadata.version("wachter")
    return document


@functools.cache
def _served() -> tuple[bytes, str]:
    """The JSON text and its ETag, made once per process."""
    body = json.dumps(load_document(), ensure_ascii=False, indent=1).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]
