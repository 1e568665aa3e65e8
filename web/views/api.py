"""The JSON API under ``/api/v1``, for machines with a bearer token (``Authorization: Bearer``).

Every view is guarded by ``web.api_auth.require_token``; none reads the session cookie,
so the blueprint is exempt from CSRF (there is no ambient credential to forge a request
with). Adding a cookie-authenticated view here would need CSRF back: put it elsewhere.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask.sansio.blueprints import BlueprintSetupState

from access_control.tokens import scopes_of
from web.api_auth import current_token, require_token

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


@blueprint.record_once
def _exempt_from_csrf(state: BlueprintSetupState) -> None:
    # web.app's CSRFProtect (it imports this module, so it is looked up, not imported);
    # create_app binds it with init_app before it registers the blueprints.
    state.app.extensions["csrf"].exempt(blueprint)


@blueprint.get("/token")
@require_token()
def token_introspection() -> Response:
    """What the presented token is: for SOC tooling to check its credential and expiry."""
    token = current_token()
    return jsonify(
        name=token.name,
        scopes=sorted(scopes_of(token)),
        expires_at=token.expires_at.isoformat(),
    )
