"""Reading form fields: one place that bounds their length.

Longer input is cut, so a credential over the limit fails like any wrong one (the services
refuse more than 1024 characters before hashing) and no field can grow a log or a query.
"""

from __future__ import annotations

from flask import request

MAX_FIELD = 2048


def form_field(name: str) -> str:
    return request.form.get(name, "")[:MAX_FIELD]
