"""Edits and deletions: where each status read can be re-read, by its URI, and the re-reading."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from connectors.base import Revision
from connectors.errors import AuthenticationError, ConnectorError, TransientConnectorError
from connectors.mastodon.client import _Instance
from connectors.mastodon.parse import _utc_datetime, status_text

LOGGER = logging.getLogger(__name__)

REFRESH_BUDGET_RESERVE = 0.2  # refresh leaves this share of the rate-limit budget to polling
URI_MEMORY = 50_000  # statuses whose (instance, local id) the connector remembers for refresh


class _StatusIndex:
    """Where each status seen can be re-read, (instance host, local id) by URI, and the refresh."""

    def __init__(self, instances: Mapping[str, _Instance], primary: str) -> None:
        self._instances = instances
        self._primary = primary  # the host whose search resolves URIs not seen since start-up
        self._lock = threading.Lock()
        self._where: OrderedDict[str, tuple[str, str]] = OrderedDict()  # uri -> (host, id)
        self._uri_of: dict[tuple[str, str], str] = {}  # (host, id) -> uri
        self._unresolvable: OrderedDict[str, None] = OrderedDict()  # uris search did not find

    def uri_of(self, host: str, status_id: str) -> str | None:
        """The URI of a status seen through ``host`` with local id ``status_id``, if remembered."""
        return self._uri_of.get((host, status_id))

    def remember(self, uri: str, host: str, status_id: str) -> None:
        """Note where a status can be re-read: the first instance it was seen through."""
        with self._lock:
            if uri in self._where:
                self._where.move_to_end(uri)
                return
            self._where[uri] = (host, status_id)
            self._uri_of[(host, status_id)] = uri
            while len(self._where) > URI_MEMORY:
                _, old = self._where.popitem(last=False)
                self._uri_of.pop(old, None)

    def refresh(self, native_ids: Sequence[str], *, locators: Mapping[str, str]) -> list[Revision]:
        """The current text of each status still readable, deleted ones flagged.

        A status is re-read with ``status(id)`` on the instance it was first seen through:
        its locator (``host/local id``, stored with the mention, so it outlives a restart)
        or what this process remembers; a URI known to neither is found with
        ``search_v2(uri, resolve=True)`` or skipped.
        404 means deleted (or no longer visible). Refresh leaves a fifth of each budget to
        polling: it stops early, returning what it has (raising when it has nothing).
        """
        revisions: list[Revision] = []
        for uri in native_ids:
            try:
                where = self._located(locators.get(uri)) or self._locate(uri)
                if where is None:
                    continue
                host, status_id = where
                instance = self._instances[host]
                status = instance.call(
                    "refresh",
                    lambda i=instance, s=status_id: i.client.status(s),
                    missing_ok=True,
                    reserve=REFRESH_BUDGET_RESERVE,
                )
            except AuthenticationError:
                raise
            except ConnectorError as exc:
                if not revisions:
                    raise
                LOGGER.info("mastodon refresh: stopped after %d: %s", len(revisions), exc)
                return revisions
            if status is None:
                revisions.append(Revision(native_id=uri, text="", deleted=True))
                continue
            original = status.get("reblog") or status
            edited = original.get("edited_at")
            revisions.append(
                Revision(
                    native_id=uri,
                    text=status_text(original),
                    edited_at=_utc_datetime(edited) if edited else None,
                )
            )
        return revisions

    def _located(self, locator: str | None) -> tuple[str, str] | None:
        """(host, local id) from a stored locator, if it names an instance still configured."""
        if not locator:
            return None
        host, _, status_id = locator.rpartition("/")
        return (host, status_id) if host in self._instances and status_id else None

    def _locate(self, uri: str) -> tuple[str, str] | None:
        """(host, local id) of a status URI: remembered, or resolved by search on the primary."""
        with self._lock:
            known = self._where.get(uri)
        if known is not None:
            return known
        if uri in self._unresolvable:
            return None
        instance = self._instances[self._primary]
        try:
            result = instance.call(
                "refresh",
                lambda: instance.client.search_v2(
                    uri, resolve=True, result_type="statuses", exclude_unreviewed=False
                ),
                missing_ok=True,
                reserve=REFRESH_BUDGET_RESERVE,
            )
        except (AuthenticationError, TransientConnectorError):
            raise
        except ConnectorError:
            result = None  # the server will not resolve it
        statuses = result.get("statuses") if isinstance(result, Mapping) else None
        for status in statuses or []:
            if isinstance(status, Mapping) and status.get("uri") == uri:
                self.remember(uri, instance.host, str(status["id"]))
                return instance.host, str(status["id"])
        self._unresolvable[uri] = None  # not asked again until restart
        while len(self._unresolvable) > URI_MEMORY:
            self._unresolvable.popitem(last=False)
        return None
