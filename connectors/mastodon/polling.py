"""Polling, one source at a time: timelines and notifications paged forward from the cursor
with ``min_id`` (or, for a source that has seen nothing yet, back with ``max_id`` to the time
it started listening), and full-text search paged back by offset to the cursor."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.base import Source
from connectors.errors import ConnectorError, TransientConnectorError
from connectors.listening import started_at
from connectors.mastodon.client import _Instance, _status_code
from connectors.mastodon.parse import _id_key, _item_id, _utc_datetime

LOGGER = logging.getLogger(__name__)

MAX_PAGES_PER_FETCH = 1000  # 40 000 statuses: a safety stop against a server that ignores max_id
MAX_SEARCH_PAGES = 10  # per keyword and fetch: search is newest first, paged by offset
SEARCH_REFUSALS = frozenset({400, 403, 404, 405, 410, 422, 501})


@dataclass(frozen=True, slots=True)
class _Target:
    """What one source reads, and where."""

    kind: Literal["tag", "mentions", "account", "search"]
    host: str
    tag: str = ""
    acct: str = ""
    keywords: tuple[str, ...] = ()


class _Poller:
    """Reads pages for the sources of one connector; remembers account ids and a search refusal."""

    def __init__(self, page_size: int, max_pages: int) -> None:
        self.page_size = page_size
        self.max_pages = max_pages  # per forward fetch (collect)
        self.search_refused = False  # once a server refuses search, until restart
        self._account_ids: dict[str, str] = {}  # acct -> id on the primary instance

    def collect(
        self, source: Source, target: _Target, instance: _Instance, cursor: str | None
    ) -> tuple[list[Any], bool]:
        """Statuses or notifications newer than ``cursor``, newest first, with no gap, and
        whether more wait beyond them.

        Pages go forward in time: ``min_id`` answers hold the items just after it. The next
        page follows the ``Link: rel="prev"`` header when the server sends one
        (``fetch_previous``), else asks with ``min_id`` = the newest id of the last page.
        After ``max_pages`` pages the oldest of the new items are returned, with more to
        come: they follow the cursor without a gap, so the next fetch goes on from them.
        """
        page_size = self.page_size
        request = self._request(source, target, instance)
        page = self._page(source, instance, lambda: request(cursor, None, page_size))
        if cursor is None:
            return list(page), False
        collected: list[Any] = []
        seen: set[str] = set()
        for number in range(self.max_pages):
            if number:
                page = self._next_page(source, instance, request, page)
            fresh = [item for item in page if _item_id(item) not in seen]
            if not fresh:
                return collected, False
            seen.update(_item_id(item) for item in fresh)
            collected[:0] = fresh  # each page is newer than the ones before it
            if len(page) < page_size:
                return collected, False
        LOGGER.debug("mastodon %s: %d pages read; more remain", source.key, self.max_pages)
        return collected, True

    def _next_page(
        self,
        source: Source,
        instance: _Instance,
        request: Callable[[str | None, str | None, int], Any],
        previous: Any,
    ) -> Any:
        """The page after ``previous`` going forward: by its ``Link: rel="prev"`` when the
        server sent one, else with ``min_id`` = its newest id."""
        if getattr(previous, "_pagination_prev", None):
            return self._page(
                source, instance, lambda: instance.client.fetch_previous(previous) or []
            )
        newest = _item_id(previous[0])
        return self._page(source, instance, lambda: request(newest, None, self.page_size))

    def collect_since(
        self, source: Source, target: _Target, instance: _Instance, since: datetime
    ) -> list[Any]:
        """Statuses or notifications created since ``since``, newest first.

        For a source that has seen nothing yet: no id to page forward from, so pages go back
        from the newest with ``max_id`` until one reaches ``since`` or the timeline's end.
        """
        page_size = self.page_size
        request = self._request(source, target, instance)
        collected: list[Any] = []
        seen: set[str] = set()
        max_id: str | None = None
        for _ in range(MAX_PAGES_PER_FETCH):
            page = self._page(source, instance, lambda at=max_id: request(None, at, page_size))
            fresh = [item for item in page if _item_id(item) not in seen]
            seen.update(_item_id(item) for item in fresh)
            newer = [item for item in fresh if _created(item) >= since]
            collected.extend(newer)
            if len(newer) < len(fresh) or not fresh or len(page) < page_size:
                return collected
            max_id = _item_id(page[-1])
        LOGGER.warning(
            "mastodon %s: stopped after %d pages; older ones were skipped",
            source.key,
            MAX_PAGES_PER_FETCH,
        )
        return collected

    def _request(
        self, source: Source, target: _Target, instance: _Instance
    ) -> Callable[[str | None, str | None, int], Any]:
        """The Mastodon.py call for one page of ``target``: (min_id, max_id, limit) -> items."""
        client = instance.client
        if target.kind == "tag":
            return lambda min_id, max_id, limit: client.timeline_hashtag(
                target.tag, min_id=min_id, max_id=max_id, limit=limit
            )
        if target.kind == "mentions":
            return lambda min_id, max_id, limit: client.notifications(
                types=["mention"], min_id=min_id, max_id=max_id, limit=limit
            )
        account_id = self._account_id(source, instance, target.acct)
        # The account's own words: boosts left out, replies kept.
        return lambda min_id, max_id, limit: client.account_statuses(
            account_id, min_id=min_id, max_id=max_id, limit=limit, exclude_reblogs=True
        )

    def _account_id(self, source: Source, instance: _Instance, acct: str) -> str:
        """The local id of a watched account, looked up once with ``account_lookup``."""
        known = self._account_ids.get(acct)
        if known is not None:
            return known
        account = instance.call(
            source.key, lambda: instance.client.account_lookup(acct), missing_ok=True
        )
        if account is None:
            raise ConnectorError(
                f"mastodon {source.key}: {instance.host} does not know the account {acct} "
                "(check the handle; an instance only knows remote accounts it has seen)"
            )
        self._account_ids[acct] = str(account["id"])
        return self._account_ids[acct]

    def _page(self, source: Source, instance: _Instance, request: Callable[[], Any]) -> Any:
        """One page of items with ids, or a warning and TransientConnectorError."""
        page = instance.call(source.key, request)
        _check_items(page, source, instance)
        return page

    def collect_search(
        self, source: Source, target: _Target, instance: _Instance, cursor: str | None
    ) -> list[Any]:
        """Statuses matching any keyword, newer than ``cursor``, newest first.

        Mastodon's search is newest first and turns ``min_id`` into an ``after:`` filter on
        the creation time (to the second), so pages go back by offset until one is short or
        reaches the cursor, and ids not newer than the cursor are dropped here. Words of one
        query must all match, hence one query per keyword. Mastodon only indexes opted-in
        posts (``indexable`` accounts), so search complements hashtags and mentions.
        """
        if self.search_refused:
            return []
        since = started_at(cursor)
        after = None if since is not None else cursor  # an id; a start time is checked here

        def seen_before(status: Any) -> bool:
            if since is not None:
                return _created(status) < since
            return cursor is not None and _id_key(_item_id(status)) <= _id_key(cursor)

        page_size = self.page_size
        found: dict[str, Any] = {}
        for keyword in target.keywords:
            offset = 0
            for _ in range(MAX_SEARCH_PAGES):
                result = self._search(source, instance, keyword, after, offset, page_size)
                if result is None:
                    return []
                statuses = result.get("statuses") if isinstance(result, Mapping) else None
                _check_items(statuses, source, instance)
                for status in statuses:
                    found.setdefault(_item_id(status), status)
                if cursor is None or len(statuses) < page_size:
                    break
                if any(seen_before(s) for s in statuses):
                    break  # newest first: the rest was seen before
                offset += len(statuses)
            else:
                LOGGER.warning(
                    "mastodon %s: more than %d new matches for %r; older ones skipped",
                    source.key,
                    MAX_SEARCH_PAGES * page_size,
                    keyword,
                )
        items = [status for status in found.values() if not seen_before(status)]
        return sorted(items, key=lambda status: _id_key(_item_id(status)), reverse=True)

    def _search(
        self,
        source: Source,
        instance: _Instance,
        keyword: str,
        cursor: str | None,
        offset: int,
        limit: int,
    ) -> Any:
        """One ``search_v2`` page; None (after one log line) when the server refuses search."""
        try:
            return instance.call(
                source.key,
                lambda: instance.client.search_v2(
                    keyword,
                    resolve=False,
                    result_type="statuses",
                    min_id=cursor,
                    offset=offset or None,
                    limit=limit,
                    exclude_unreviewed=False,
                ),
            )
        except ConnectorError as exc:
            status = _status_code(exc.__cause__)
            if status in SEARCH_REFUSALS:
                self.search_refused = True
                LOGGER.warning(
                    "mastodon %s: %s refuses full-text search (HTTP %s); "
                    "search stays off until restart",
                    source.key,
                    instance.host,
                    status,
                )
                return None
            raise


def _created(item: Mapping[str, Any]) -> datetime:
    """When a status or notification was created; unreadable counts as new (kept, not lost)."""
    try:
        return _utc_datetime(item["created_at"])
    except (KeyError, TypeError, ValueError):
        return datetime.max.replace(tzinfo=UTC)


def _check_items(page: Any, source: Source, instance: _Instance) -> None:
    """Warn and raise TransientConnectorError unless ``page`` is a list of items with ids."""
    if isinstance(page, list) and all(isinstance(i, Mapping) and "id" in i for i in page):
        return
    LOGGER.warning(
        "mastodon %s: %s answered %s where a list of items was expected",
        source.key,
        instance.host,
        type(page).__name__,
    )
    raise TransientConnectorError(f"mastodon {source.key}: malformed answer from {instance.host}")
