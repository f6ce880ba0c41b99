"""Network connectors: each turns a network's new posts into plain Mention records."""

from connectors.base import (
    Author,
    Batch,
    Connector,
    Mention,
    Refreshable,
    Releasable,
    Revision,
    Skipped,
    Source,
    Watch,
)

__all__ = [
    "Author",
    "Batch",
    "Connector",
    "Mention",
    "Refreshable",
    "Releasable",
    "Revision",
    "Skipped",
    "Source",
    "Watch",
]
