"""Mastodon connector: hashtags, mentions, accounts and search, polled or streamed.

The modules build on one another in one direction: parse and settings at the bottom, then
client (one Mastodon.py client per instance), stream, polling and refresh, and connector on top.
"""

from __future__ import annotations

from connectors.mastodon.connector import MastodonConnector
from connectors.mastodon.parse import (
    html_to_text,
    instance_domain,
    mention_from_status,
    status_text,
)
from connectors.mastodon.settings import InstanceSettings, MastodonSettings

__all__ = [
    "InstanceSettings",
    "MastodonConnector",
    "MastodonSettings",
    "html_to_text",
    "instance_domain",
    "mention_from_status",
    "status_text",
]
