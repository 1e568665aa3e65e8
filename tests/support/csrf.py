"""Reading the CSRF token out of a rendered page, as a browser's form would send it."""

from __future__ import annotations

import re

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "page has no CSRF token field"
    return match.group(1)
