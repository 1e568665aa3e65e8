"""SOC feeds: every alert change as a pseudonymised ECS document, handed out in commit order
by cursor (pull API, server-sent events) and pushed to signed webhooks with retries, dead
letters and replay (docs/feeds.md).
"""

from incidents.feeds.changes import record_alert_change
from incidents.feeds.documents import alert_document
from incidents.feeds.reading import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    FeedItem,
    FeedPage,
    parse_cursor,
    parse_limit,
    parse_min_severity,
    read_feed,
)
from incidents.feeds.signing import DeliveryFailed, post_signed
from incidents.feeds.webhook_delivery import deliver_webhooks
from incidents.feeds.webhooks import (
    Purpose,
    create_subscription,
    get_subscription,
    list_dead_letters,
    list_subscriptions,
    request_replay,
    rotate_secret,
    set_active,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "DeliveryFailed",
    "FeedItem",
    "FeedPage",
    "Purpose",
    "alert_document",
    "create_subscription",
    "deliver_webhooks",
    "get_subscription",
    "list_dead_letters",
    "list_subscriptions",
    "parse_cursor",
    "parse_limit",
    "parse_min_severity",
    "post_signed",
    "read_feed",
    "record_alert_change",
    "request_replay",
    "rotate_secret",
    "set_active",
]
