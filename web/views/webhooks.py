"""Webhook administration: subscriptions, their delivery state, dead letters and replay
(FEEDS_ADMIN: security officers and administrators; see web/policy.py).

Making a subscription and rotating its secret need a fresh step-up: both decide where
alerts go, or who can prove to be Wachter. The signing secret is rendered into the
response to that POST and nowhere else (never flashed, logged or stored in clear), as
API tokens are in ``web.views.admin``. Every change is audited by ``incidents.feeds``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core import InvalidInput
from core.i18n import N_
from incidents.alerts.models import SEVERITIES
from incidents.feeds import (
    Purpose,
    create_subscription,
    get_subscription,
    list_dead_letters,
    list_subscriptions,
    request_replay,
    rotate_secret,
    set_active,
)
from incidents.feeds.webhooks import MAX_REPLAY_IDS
from web.auth import current_actor
from web.context import db_session, web_context
from web.forms import form_errors_in_place, form_field

blueprint = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")
_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
PAGE: Final = "webhooks/index.html"


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {"purposes": list(Purpose), "severities": SEVERITIES, "shown_url": shown_url}


def shown_url(url: str) -> str:
    """The address without its query: some receivers put a credential there."""
    parts = urlsplit(url)
    return parts._replace(query="…" if parts.query else "").geturl()


@blueprint.get("")
def index() -> str:
    return render_template(PAGE, subscriptions=list_subscriptions(db_session()))


@blueprint.post("")
@form_errors_in_place(PAGE)
def create() -> tuple[str, int]:
    """A new subscription; its secret is shown in this response only."""
    subscription, secret = create_subscription(
        db_session(),
        name=form_field("name"),
        url=form_field("url"),
        purpose=form_field("purpose"),
        min_severity=form_field("min_severity") or "low",
        actor=current_actor(),
        now=_now(),
        box=web_context().box,
    )
    page = render_template("webhooks/secret.html", subscription=subscription, secret=secret)
    return page, 201


@blueprint.post("/<int:subscription_id>/disable")
def disable(subscription_id: int) -> Response:
    subscription = set_active(
        db_session(),
        subscription_id=subscription_id,
        active=False,
        actor=current_actor(),
        now=_now(),
    )
    flash(
        _("The webhook “%(name)s” is off: nothing is sent to it.", name=subscription.name), "info"
    )
    return redirect(url_for("webhooks.index"), 303)  # type: ignore[return-value]


@blueprint.post("/<int:subscription_id>/enable")
def enable(subscription_id: int) -> Response:
    subscription = set_active(
        db_session(),
        subscription_id=subscription_id,
        active=True,
        actor=current_actor(),
        now=_now(),
    )
    flash(
        _("The webhook “%(name)s” is on: it goes on where it stopped.", name=subscription.name),
        "info",
    )
    return redirect(url_for("webhooks.index"), 303)  # type: ignore[return-value]


@blueprint.post("/<int:subscription_id>/rotate-secret")
def rotate(subscription_id: int) -> str:
    subscription, secret = rotate_secret(
        db_session(),
        subscription_id=subscription_id,
        actor=current_actor(),
        now=_now(),
        box=web_context().box,
    )
    return render_template(
        "webhooks/secret.html", subscription=subscription, secret=secret, rotated=True
    )


@blueprint.get("/<int:subscription_id>/dead-letters")
def dead_letters(subscription_id: int) -> str:
    database_session = db_session()
    return render_template(
        "webhooks/dead_letters.html",
        subscription=get_subscription(database_session, subscription_id),
        letters=list_dead_letters(database_session, subscription_id=subscription_id),
    )


@blueprint.post("/<int:subscription_id>/replay")
def replay(subscription_id: int) -> Response:
    """Selected dead letters (``dead_letter`` fields), or every one (``all=1``)."""
    marked = request_replay(
        db_session(),
        subscription_id=subscription_id,
        dead_letter_ids=_chosen_ids(),
        actor=current_actor(),
        now=_now(),
    )
    flash(
        _(
            "Dead letters marked for replay: %(count)d. They are sent before anything else.",
            count=marked,
        ),
        "info",
    )
    target = url_for("webhooks.dead_letters", subscription_id=subscription_id)
    return redirect(target, 303)  # type: ignore[return-value]


def _chosen_ids() -> list[int] | None:
    if request.form.get("all") == "1":
        return None
    values = request.form.getlist("dead_letter")[: MAX_REPLAY_IDS + 1]
    if not values or not all(_ID.fullmatch(value) for value in values):
        raise InvalidInput(
            N_("Choose the dead letters to replay, or replay all."), field="dead_letter"
        )
    return [int(value) for value in values]


def _now() -> datetime:
    return web_context().clock.now()
