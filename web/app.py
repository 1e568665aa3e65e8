"""``create_app(settings)``: the only place a Flask app is made."""

from __future__ import annotations

from flask import Flask
from flask_wtf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from access_control.passwords import PasswordHasher
from access_control.secret_box import SecretBox
from core import Clock, ConfigError, Settings, SystemClock
from staff_safety.vault import keyring_for
from storage import Database
from web import auth, context, errors, i18n, labels, security
from web.views import (
    account,
    admin,
    alerts,
    api,
    audit,
    console,
    deadlines,
    detection_lists,
    detections,
    events,
    evidence,
    feeds_api,  # noqa: F401 - adds GET /api/v1/alerts and /api/v1/alerts/stream to the api blueprint
    incidents,
    incidents_api,  # noqa: F401 - adds /api/v1/incidents to the api blueprint
    ingest_api,  # noqa: F401 - adds POST /api/v1/events to the api blueprint
    openapi,
    ops,
    playbooks,
    reports,  # also adds /api/v1/reports to the api blueprint
    rules,
    search,
    staff_cases,
    staff_measures,
    staff_records,
    stix_api,  # noqa: F401 - adds GET /api/v1/alerts/stix to the api blueprint
    webhooks,
)
from web.views import auth as auth_views

csrf = CSRFProtect()
# The console and its forms are small; ingest routes raise their own limit when they arrive.
MAX_REQUEST_BYTES = 1024 * 1024
MAX_DATABASE_ID = 2**63 - 1  # PostgreSQL's bigint and SQLite's INTEGER


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in every route: only numbers a database id can be. A larger one does not
    match (404, as for any unknown id) instead of overflowing in the driver (500)."""

    def __init__(
        self,
        url_map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_DATABASE_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(url_map, fixed_digits, min, max, signed)


def create_app(
    settings: Settings, *, database: Database | None = None, clock: Clock | None = None
) -> Flask:
    """Build the web app. ``settings`` must carry a secret key (see ``core.datadir.prepare``)."""
    if settings.secret_key is None:
        raise ConfigError(
            "WACHTER_SECRET_KEY",
            "not set; run through `wachter serve` or prepare the data directory",
        )
    app = Flask(__name__.rsplit(".", 1)[0])
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_NAME="__Host-session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # events keep their field order
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    context.init_app(
        app,
        context.WebContext(
            settings=settings,
            database=database or Database.from_url(settings.database_url),
            clock=clock or SystemClock(),
            hasher=PasswordHasher.from_settings(settings),
            box=SecretBox.from_settings(settings),
            vault=keyring_for(settings),
        ),
    )
    security.init_app(app)  # first: the request id is in every audit entry
    auth.init_app(app)
    errors.init_app(app)
    i18n.init_app(app)
    labels.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(ops.blueprint)
    app.register_blueprint(console.blueprint)
    app.register_blueprint(auth_views.blueprint)
    app.register_blueprint(account.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(audit.blueprint)
    app.register_blueprint(events.blueprint)
    app.register_blueprint(rules.blueprint)
    app.register_blueprint(detection_lists.blueprint)
    app.register_blueprint(playbooks.blueprint)
    app.register_blueprint(detections.blueprint)
    app.register_blueprint(deadlines.blueprint)
    app.register_blueprint(alerts.blueprint)
    app.register_blueprint(incidents.blueprint)
    app.register_blueprint(evidence.blueprint)
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(staff_cases.blueprint)
    app.register_blueprint(staff_measures.blueprint)
    app.register_blueprint(reports.blueprint)
    app.register_blueprint(staff_records.blueprint)
    app.register_blueprint(search.blueprint)
    return app
