"""Connectors by name, from the ``social_crm.connectors`` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from connectors.errors import UnknownConnectorError

if TYPE_CHECKING:
    from connectors.base import Connector

GROUP = "social_crm.connectors"


def known_connectors() -> dict[str, str]:
    """Installed connector names and the object each entry point names."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def connector_class(name: str) -> type[Connector]:
    """Load the connector class registered as ``name``; unknown names list the known ones."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    known = ", ".join(sorted(known_connectors())) or "none installed"
    raise UnknownConnectorError(f"unknown connector type {name!r}; known connectors: {known}")
