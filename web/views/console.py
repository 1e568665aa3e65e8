"""The console's start: where each visitor belongs, the dashboard, the language switch.

The dashboard (``web.dashboard``) shows the panels the user's role may read; its panels
alone are answered at ``/dashboard/panels``, which the page polls with htmx. A dashboard
with the staff-safety figures is a read of the report statistics and is audited like the
statistics page (``staff_statistics.read``), once per page view: the refresh every 30 seconds
shows the same figures again and would write 2,880 entries a day per open console. The other
panels are counts and rule titles.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from access_control import Permission, permissions_of, record_audit
from web.auth import current_actor, current_user
from web.context import db_session, web_context, when_rendered
from web.dashboard import REFRESH_SECONDS, Dashboard, build_dashboard
from web.i18n import LANGUAGE_COOKIE, LANGUAGES
from web.security import safe_redirect_target
from web.views.deadlines import span_text

blueprint = Blueprint("console", __name__)
_CACHE = "wachter.dashboard_figures"
_REFRESHING = "wachter.dashboard_refreshing"
_REFRESHER = "wachter.dashboard_refresher"  # the latest refresh thread (tests wait for it)
_REFRESH_LOCK = threading.Lock()
FRESH = timedelta(seconds=10)
STALE = timedelta(seconds=REFRESH_SECONDS)
log = logging.getLogger("wachter.web")
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


@blueprint.get("/")
def index() -> Response:
    """Each visitor to where they belong: sign-in, the next login step, or their start page."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))  # type: ignore[return-value]
    if Permission.CONSOLE in permissions_of(user.role):
        return redirect(url_for("console.dashboard"))  # type: ignore[return-value]
    if Permission.REPORT_SUBMIT in permissions_of(user.role):
        # Staff come to report, or to see what became of a report.
        return redirect(url_for("reports.mine"))  # type: ignore[return-value]
    return redirect(url_for("account.show"))  # type: ignore[return-value]


@blueprint.get("/dashboard")
def dashboard() -> str:
    board = _dashboard(audited=True)
    return render_template("console/dashboard.html", user=current_user(), board=board)


@blueprint.get("/dashboard/panels")
def dashboard_panels() -> str:
    """The panels alone, for the page's refresh (the same figures as the page)."""
    return render_template("console/_panels.html", board=_dashboard(audited=False))


@blueprint.context_processor
def _dashboard_values() -> dict[str, object]:
    zone = ZoneInfo(web_context().settings.timezone)
    return {
        "refresh_seconds": REFRESH_SECONDS,
        "span": span_text,
        "span_hours": lambda hours: span_text(timedelta(hours=hours)),
        "local_time": lambda moment: moment.astimezone(zone).strftime("%H:%M"),
    }


def _dashboard(*, audited: bool) -> Dashboard:
    user, context = current_user(), web_context()
    granted = permissions_of(user.role) if user else Permission.NONE
    now = context.clock.now()
    board = _shared_figures(granted, now)
    if board is None:
        board = build_dashboard(
            db_session(), permissions=granted, now=now, timezone=context.settings.timezone
        )
        _figures_cache()[granted] = board
    if audited and board.reports is not None:
        period = board.reports.figures.overall.period
        when_rendered(
            partial(
                record_audit,
                actor=current_actor(),
                action="staff_statistics.read",
                target="staff_statistics",
                outcome="success",
                now=now,
                details={"first": period.first, "last": period.last, "view": "dashboard"},
            )
        )
    return board


def _figures_cache() -> dict[Permission, Dashboard]:
    """The figures last computed per set of permissions, in this process."""
    cache: dict[Permission, Dashboard] = current_app.extensions.setdefault(_CACHE, {})
    return cache


def _shared_figures(granted: Permission, now: datetime) -> Dashboard | None:
    """Figures computed for the same permissions shortly before, or None: compute them now.

    The figures are the same for everyone with the same panels, and ten aggregate queries
    plus eight charts cost ~100 ms: computed once per FRESH for all viewers rather than once
    per viewer and per 30-second refresh (bench/console). Older than FRESH but younger than
    the page's refresh interval, they are still shown while a background thread computes
    new ones, so no viewer waits for the computation; a board says when it was taken.
    """
    board = _figures_cache().get(granted)
    if board is None or now < board.now or now - board.now >= STALE:
        return None
    if now - board.now >= FRESH:
        _refresh_in_background(granted)
    return board


def _refresh_in_background(granted: Permission) -> None:
    """New figures for ``granted`` in a thread of their own (one at a time per set)."""
    context, cache = web_context(), _figures_cache()
    refreshing: set[Permission] = current_app.extensions.setdefault(_REFRESHING, set())
    with _REFRESH_LOCK:
        if granted in refreshing:
            return
        refreshing.add(granted)

    def compute() -> None:
        try:
            with context.database.snapshot() as session:
                cache[granted] = build_dashboard(
                    session,
                    permissions=granted,
                    now=context.clock.now(),
                    timezone=context.settings.timezone,
                )
        except Exception:  # the next view computes them itself; this one showed the old ones
            log.exception("computing the dashboard's figures failed")
        finally:
            with _REFRESH_LOCK:
                refreshing.discard(granted)

    thread = threading.Thread(target=compute, name="dashboard-figures", daemon=True)
    current_app.extensions[_REFRESHER] = thread
    thread.start()


@blueprint.post("/language")
def set_language() -> Response:
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        raise BadRequest()
    response: Response = redirect(safe_redirect_target(request.form.get("next")), code=303)  # type: ignore[assignment]
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        secure=True,
        httponly=True,
        samesite="Lax",
    )
    return response
