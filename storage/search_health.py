"""A reachability probe for the Elasticsearch cluster, used by ``/readyz``.

Plain ``urllib`` on purpose: the probe must work before the scale-out client is
configured, and it must say *why* a cluster is not ready in one safe line.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

from storage.errors import StorageError

HEALTH_PATH = "/_cluster/health"


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the credentials to another host and probe the wrong cluster."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


# No proxies from the environment either: the cluster is named by its URL, nothing else.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _RefuseRedirects())


def check_elasticsearch(url: str, *, timeout: float = 3.0) -> None:
    """Raise ``StorageError`` unless the cluster answers and its health is green or yellow."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    target = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + HEALTH_PATH, "", ""))
    request = urllib.request.Request(target, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked by Settings
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(credentials.encode()).decode()
        )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            health = json.loads(response.read(65536) or b"{}")
    except urllib.error.HTTPError as error:
        raise StorageError(f"Elasticsearch at {target} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise StorageError(f"Elasticsearch at {target} is unreachable: {reason}") from None
    except ValueError:
        raise StorageError(f"Elasticsearch at {target} did not answer with JSON") from None
    status = health.get("status") if isinstance(health, dict) else None
    if status not in ("green", "yellow"):
        raise StorageError(f"Elasticsearch at {target} reports cluster health {status!r}")
