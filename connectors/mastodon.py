"""Mastodon connector: hashtag timelines (on one or more instances), mentions of the brand
account, statuses of chosen accounts and full-text search, polled with ``min_id`` or fed by
the streaming API, plus re-reading of stored statuses for edits and deletions.

Every request goes through Mastodon.py, one client per instance, and every library error is
translated once, in ``MastodonConnector._call``, into connectors.errors' ConnectorError tree.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from mastodon import Mastodon, StreamListener
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonVersionError,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import Author, Batch, Mention, Revision, Source, Watch
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TransientConnectorError,
)

LOGGER = logging.getLogger(__name__)

NETWORK = "mastodon"
DEFAULT_RETRY_AFTER_SECONDS = 60.0
MAX_PAGES_PER_FETCH = 1000  # 40 000 statuses: a safety stop against a server that ignores min_id
MAX_SEARCH_PAGES = 10  # per keyword and fetch: search is newest first, paged by offset
REFRESH_BUDGET_RESERVE = 0.2  # refresh leaves this share of the rate-limit budget to polling
URI_MEMORY = 50_000  # statuses whose (instance, local id) the connector remembers for refresh
STREAM_READ_TIMEOUT_SECONDS = 90.0  # servers send a heartbeat comment well within this
STREAM_RETRY_SECONDS = 2.0  # first reconnect delay; doubles up to STREAM_RETRY_MAX_SECONDS
STREAM_RETRY_MAX_SECONDS = 300.0
STREAM_RESYNC_SECONDS = 900.0  # even with a healthy stream, poll this often to be sure
STREAM_BUFFER_LIMIT = 10_000  # items kept per source between fetches; beyond, poll instead
# Reasons a streaming server gives when it will never stream to us (compared lower-cased).
STREAM_REFUSALS = frozenset(
    {"not found", "unauthorized", "forbidden", "method not allowed", "gone", "not implemented"}
)
EMPTY_CURSOR = "0"  # below every id: the cursor of a timeline that was empty when first read
SEARCH_REFUSALS = frozenset({400, 403, 404, 405, 410, 422, 501})
ACCT = re.compile(r"^[A-Za-z0-9_]+(?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?(?:@[A-Za-z0-9.-]+(?::\d+)?)?$")

T = TypeVar("T")


class InstanceSettings(BaseModel):
    """One more instance whose hashtag timelines are read, with its own token if it needs one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base_url: str = Field(pattern=r"^https?://[^/\s]+")
    access_token: SecretStr | None = None  # many servers need one for hashtag timelines


class MastodonSettings(BaseModel):
    """The ``connectors.mastodon`` section of the configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base_url: str = Field(pattern=r"^https?://[^/\s]+")
    access_token: SecretStr
    timeout_seconds: float = Field(16.0, gt=0)
    page_size: int = Field(40, ge=1, le=40)
    extra_instances: list[InstanceSettings] = []  # more instances' hashtag timelines
    accounts: list[str] = []  # accts (user@instance) whose own statuses every brand reads
    search: bool = False  # full-text search of each brand's keywords (opted-in posts only)
    streaming: bool = False  # stream hashtags and mentions; polling stays the fallback

    @field_validator("accounts")
    @classmethod
    def _normalise_accounts(cls, accounts: list[str]) -> list[str]:
        normalised: list[str] = []
        for acct in accounts:
            acct = acct.strip().lstrip("@").lower()
            if not ACCT.match(acct):
                raise ValueError(f"{acct!r} is not an account handle like user@instance")
            if acct not in normalised:
                normalised.append(acct)
        return normalised

    @model_validator(mode="after")
    def _distinct_instances(self) -> MastodonSettings:
        hosts = [instance_domain(self.api_base_url)]
        for extra in self.extra_instances:
            host = instance_domain(extra.api_base_url)
            if host in hosts:
                raise ValueError(f"extra_instances: {host} is listed twice (or is api_base_url)")
            hosts.append(host)
        return self


@dataclass(slots=True)
class _Instance:
    """One server the connector reads, through its own Mastodon.py client (one budget)."""

    host: str  # from the api base URL: names sources and keys the refresh map
    client: Mastodon
    settings: InstanceSettings
    has_token: bool
    domain: str | None = None  # the server's own domain for accts, read once from the server


@dataclass(frozen=True, slots=True)
class _Target:
    """What one source reads, and where."""

    kind: Literal["tag", "mentions", "account", "search"]
    host: str
    tag: str = ""
    acct: str = ""
    keywords: tuple[str, ...] = ()


class MastodonConnector:
    """Turns new statuses from hashtags, mentions, accounts and search into Mentions."""

    settings_model: ClassVar[type[BaseModel]] = MastodonSettings
    network = NETWORK

    def __init__(self, settings: MastodonSettings, *, watches: Sequence[Watch]) -> None:
        self.settings = settings
        self.watches = list(watches)
        self.instance = instance_domain(settings.api_base_url)
        primary = InstanceSettings(
            api_base_url=settings.api_base_url, access_token=settings.access_token
        )
        self._instances: dict[str, _Instance] = {}
        for entry in [primary, *settings.extra_instances]:
            host = instance_domain(entry.api_base_url)
            self._instances[host] = _Instance(
                host=host,
                client=self._new_client(entry),
                settings=entry,
                has_token=entry.access_token is not None,
            )
        self._lock = threading.RLock()
        self._targets: dict[str, _Target] = {}
        self._sources: list[Source] = []
        self._account_ids: dict[str, str] = {}  # acct -> id on the primary instance
        self._search_refused = False
        self._where: OrderedDict[str, tuple[str, str]] = OrderedDict()  # uri -> (host, id)
        self._uri_of: dict[tuple[str, str], str] = {}  # (host, id) -> uri
        self._unresolvable: OrderedDict[str, None] = OrderedDict()  # uris search did not find
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._closed = False
        extra_hosts = [instance_domain(e.api_base_url) for e in settings.extra_instances]
        for watch in self.watches:
            for tag in watch.hashtags:
                self._add_source(
                    f"{watch.name}:tag:{tag}", watch.name, _Target("tag", self.instance, tag=tag)
                )
                for host in extra_hosts:
                    self._add_source(
                        f"{watch.name}:tag:{tag}@{host}", watch.name, _Target("tag", host, tag=tag)
                    )
            if watch.mastodon_account:
                self._add_source(
                    f"{watch.name}:mentions", watch.name, _Target("mentions", self.instance)
                )
            for acct in settings.accounts:
                self._add_source(
                    f"{watch.name}:account:{acct}",
                    watch.name,
                    _Target("account", self.instance, acct=acct),
                )
            if settings.search and watch.keywords:
                self._add_source(
                    f"{watch.name}:search",
                    watch.name,
                    _Target("search", self.instance, keywords=tuple(watch.keywords)),
                )

    def _new_client(self, entry: InstanceSettings) -> Mastodon:
        """A Mastodon.py client that throws on 429 instead of sleeping."""
        return Mastodon(
            access_token=entry.access_token.get_secret_value() if entry.access_token else None,
            api_base_url=entry.api_base_url,
            request_timeout=self.settings.timeout_seconds,
            ratelimit_method="throw",
        )

    def _add_source(self, key: str, brand: str, target: _Target) -> None:
        """Register one source, once; its page size lets the daemon pace its polling."""
        if key not in self._targets:
            self._targets[key] = target
            self._sources.append(Source(key=key, brand=brand, page_size=self.settings.page_size))

    def sources(self) -> Sequence[Source]:
        """Per brand: its hashtags on every instance, its mentions, watched accounts, search.

        A source fed by a stream that has not been refused has no page size: a fetch that
        drains the stream's buffer costs no request, so the daemon keeps it at its fastest
        pace rather than slowing it down while it is quiet.
        """
        return [
            replace(source, page_size=None) if self._streamed(source.key) else source
            for source in self._sources
        ]

    def _streamed(self, key: str) -> bool:
        """Whether ``key`` is (or is about to be) fed by a stream that was not refused."""
        target = self._targets[key]
        if not self.settings.streaming or target.kind not in {"tag", "mentions"}:
            return False
        with self._lock:
            stream = self._streams.get(_stream_key(target))
        return stream is None or not stream.refused

    # -- fetching -------------------------------------------------------------------------

    def fetch(self, source: Source, cursor: str | None) -> Batch:
        """New in ``source`` since ``cursor`` (a status or notification id), oldest first."""
        target = self._targets.get(source.key)
        if target is None:
            raise ConnectorError(f"mastodon: unknown source {source.key!r}")
        instance = self._instances[target.host]
        stream = self._stream_for(source.key, target)
        if stream is not None:
            drained = stream.drain(source.key, cursor)
            if drained is not None:
                try:
                    newest = _newest_id([_item_id(i) for i in drained], cursor)
                    batch = self._batch(source, target, instance, drained, newest)
                except ConnectorError:
                    stream.invalidate(source.key)  # the drained items are gone: poll next
                    raise
                stream.delivered(source.key, batch.cursor, [_item_id(i) for i in drained])
                return batch
        ticket = stream.before_poll(source.key) if stream is not None else None
        if target.kind == "search":
            newest_first = self._collect_search(source, target, instance, cursor)
            newest = _newest_id([_item_id(i) for i in newest_first], cursor)
        else:  # the server's order says which is newest: ids are compared nowhere
            newest_first = self._collect(source, target, instance, cursor)
            newest = _item_id(newest_first[0]) if newest_first else cursor
            if newest is None:
                # Empty so far: from now on everything is new, read from the start (a None
                # cursor would take only the newest page of a first burst, losing the rest).
                newest = EMPTY_CURSOR
        batch = self._batch(source, target, instance, newest_first[::-1], newest)
        if stream is not None and ticket is not None:
            stream.after_poll(source.key, ticket, batch.cursor, [_item_id(i) for i in newest_first])
        return batch

    def _collect(
        self, source: Source, target: _Target, instance: _Instance, cursor: str | None
    ) -> list[Any]:
        """Statuses or notifications newer than ``cursor``, newest first, with no gap.

        Pages go forward in time: ``min_id`` answers hold the items just after it. The next
        page follows the ``Link: rel="prev"`` header when the server sends one
        (``fetch_previous``), else asks with ``min_id`` = the newest id of the last page.
        """
        page_size = self.settings.page_size
        request = self._request(source, target, instance)
        page = self._page(source, instance, lambda: request(cursor, page_size))
        if cursor is None:
            return list(page)
        collected: list[Any] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES_PER_FETCH):
            fresh = [item for item in page if _item_id(item) not in seen]
            if not fresh:
                break
            seen.update(_item_id(item) for item in fresh)
            collected[:0] = fresh  # each page is newer than the ones before it
            if len(page) < page_size:
                break
            previous = page
            if getattr(previous, "_pagination_prev", None):
                page = self._page(
                    source,
                    instance,
                    lambda page=previous: instance.client.fetch_previous(page) or [],
                )
            else:
                newest = _item_id(previous[0])
                page = self._page(source, instance, lambda at=newest: request(at, page_size))
        else:
            LOGGER.warning(
                "mastodon %s: stopped after %d pages; more remain", source.key, MAX_PAGES_PER_FETCH
            )
        return collected

    def _request(
        self, source: Source, target: _Target, instance: _Instance
    ) -> Callable[[str | None, int], Any]:
        """The Mastodon.py call for one page of ``target``: (min_id, limit) -> items."""
        client = instance.client
        if target.kind == "tag":
            return lambda min_id, limit: client.timeline_hashtag(
                target.tag, min_id=min_id, limit=limit
            )
        if target.kind == "mentions":
            return lambda min_id, limit: client.notifications(
                types=["mention"], min_id=min_id, limit=limit
            )
        account_id = self._account_id(source, instance, target.acct)
        # The account's own words: boosts left out, replies kept.
        return lambda min_id, limit: client.account_statuses(
            account_id, min_id=min_id, limit=limit, exclude_reblogs=True
        )

    def _account_id(self, source: Source, instance: _Instance, acct: str) -> str:
        """The local id of a watched account, looked up once with ``account_lookup``."""
        known = self._account_ids.get(acct)
        if known is not None:
            return known
        account = self._call(
            instance, source.key, lambda: instance.client.account_lookup(acct), missing_ok=True
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
        page = self._call(instance, source.key, request)
        _check_items(page, source, instance)
        return page

    def _collect_search(
        self, source: Source, target: _Target, instance: _Instance, cursor: str | None
    ) -> list[Any]:
        """Statuses matching any keyword, newer than ``cursor``, newest first.

        Mastodon's search is newest first and turns ``min_id`` into an ``after:`` filter on
        the creation time (to the second), so pages go back by offset until one is short or
        reaches the cursor, and ids not newer than the cursor are dropped here. Words of one
        query must all match, hence one query per keyword. Mastodon only indexes opted-in
        posts (``indexable`` accounts), so search complements hashtags and mentions.
        """
        if self._search_refused:
            return []
        page_size = self.settings.page_size
        found: dict[str, Any] = {}
        for keyword in target.keywords:
            offset = 0
            for _ in range(MAX_SEARCH_PAGES):
                result = self._search(source, instance, keyword, cursor, offset, page_size)
                if result is None:
                    return []
                statuses = result.get("statuses") if isinstance(result, Mapping) else None
                _check_items(statuses, source, instance)
                for status in statuses:
                    found.setdefault(_item_id(status), status)
                if cursor is None or len(statuses) < page_size:
                    break
                if any(_id_key(_item_id(s)) <= _id_key(cursor) for s in statuses):
                    break  # newest first: the rest was seen before
                offset += len(statuses)
            else:
                LOGGER.warning(
                    "mastodon %s: more than %d new matches for %r; older ones skipped",
                    source.key,
                    MAX_SEARCH_PAGES * page_size,
                    keyword,
                )
        items = [
            status
            for status_id, status in found.items()
            if cursor is None or _id_key(status_id) > _id_key(cursor)
        ]
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
            return self._call(
                instance,
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
                self._search_refused = True
                LOGGER.warning(
                    "mastodon %s: %s refuses full-text search (HTTP %s); "
                    "search stays off until restart",
                    source.key,
                    instance.host,
                    status,
                )
                return None
            raise

    def _batch(
        self,
        source: Source,
        target: _Target,
        instance: _Instance,
        oldest_first: Sequence[Any],
        new_cursor: str | None,
    ) -> Batch:
        """Mentions from statuses or notifications (oldest first), with ``new_cursor``."""
        if not oldest_first:
            return Batch(mentions=[], cursor=new_cursor)
        domain = self._domain(source, instance)
        mentions: list[Mention] = []
        for item in oldest_first:
            status = item.get("status") if target.kind == "mentions" else item
            if not isinstance(status, Mapping):
                continue
            try:
                mention = mention_from_status(
                    status, brand=source.brand, source=source.key, instance=domain
                )
            except (KeyError, TypeError, ValueError) as exc:
                LOGGER.warning(
                    "mastodon %s: skipping malformed status %r: %s",
                    source.key,
                    status.get("id"),
                    exc,
                )
                continue
            original = status.get("reblog") or status
            self._remember(mention.native_id, instance.host, str(original["id"]))
            parent = original.get("in_reply_to_id")
            if parent is not None:
                parent_uri = self._uri_of.get((instance.host, str(parent)))
                if parent_uri is not None:
                    mention = replace(mention, parent_id=parent_uri)
            mentions.append(mention)
        return Batch(mentions=mentions, cursor=new_cursor)

    def _domain(self, source: Source, instance: _Instance) -> str:
        """The server's own domain, as local accts are qualified with (read once per server)."""
        if instance.domain is not None:
            return instance.domain
        info = self._call(instance, source.key, instance.client.instance_v2, missing_ok=True)
        domain = info.get("domain") if isinstance(info, Mapping) else None
        if not domain:
            info = self._call(instance, source.key, instance.client.instance_v1, missing_ok=True)
            domain = info.get("uri") if isinstance(info, Mapping) else None
        instance.domain = str(domain).lower() if domain else instance.host
        return instance.domain

    def _remember(self, uri: str, host: str, status_id: str) -> None:
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

    # -- one boundary for every request ---------------------------------------------------

    def _call(
        self,
        instance: _Instance,
        key: str,
        request: Callable[[], T],
        *,
        missing_ok: bool = False,
        reserve: float = 0.0,
    ) -> T | None:
        """Run one Mastodon.py request within the instance's budget; errors become ours.

        Mastodon.py's ``ratelimit_method="throw"`` raises only on a 429; it does not stop
        when ``x-ratelimit-remaining`` reaches 0. So a spent budget (less ``reserve``, a
        share kept for others) is checked here first and answered without a request.
        ``missing_ok``: a 404 returns None.
        """
        self._check_budget(instance, key, reserve=reserve)
        try:
            return request()
        except MastodonNotFoundError as exc:
            if missing_ok:
                return None
            raise self._translate(exc, key, instance) from exc
        except MastodonError as exc:
            raise self._translate(exc, key, instance) from exc

    def _check_budget(self, instance: _Instance, key: str, *, reserve: float = 0.0) -> None:
        """Raise RateLimitedError when the budget (less ``reserve`` of it) is spent until reset."""
        client = instance.client
        retry_after = _seconds_until(client.ratelimit_reset)
        if retry_after is None:
            return
        remaining = client.ratelimit_remaining
        floor = (client.ratelimit_limit or 0) * reserve
        if isinstance(remaining, int | float) and remaining <= floor:
            raise RateLimitedError(
                f"mastodon {key}: rate limit of {instance.host} spent; retry in {retry_after:.0f}s",
                retry_after=retry_after,
            )

    def _translate(self, exc: MastodonError, key: str, instance: _Instance) -> ConnectorError:
        """One Mastodon.py error as a ConnectorError, with one clear message."""
        host = instance.host
        status = _status_code(exc)
        if isinstance(exc, MastodonUnauthorizedError) or (status == 403 and instance.has_token):
            if not instance.has_token:
                return ConnectorError(
                    f"mastodon {key}: {host} requires an access token for this; "
                    "give its extra_instances entry an access_token"
                )
            return AuthenticationError(
                f"mastodon {key}: {host} refused the access token "
                f"(HTTP {status}: revoked, expired or missing a read scope)"
            )
        if isinstance(exc, MastodonRatelimitError) or status == 429:
            # Until the budget's reset if the 429 said it is spent; a bare 429 (a proxy's,
            # without rate-limit headers) leaves the budget as it was: wait a default time.
            retry_after = _seconds_until(instance.client.ratelimit_reset)
            remaining = instance.client.ratelimit_remaining
            if retry_after is None or (isinstance(remaining, int | float) and remaining > 0):
                retry_after = DEFAULT_RETRY_AFTER_SECONDS
            return RateLimitedError(
                f"mastodon {key}: rate limited by {host}; retry in {retry_after:.0f}s",
                retry_after=retry_after,
            )
        if isinstance(exc, MastodonNetworkError):
            return TransientConnectorError(f"mastodon {key}: {host} unreachable or too slow: {exc}")
        if isinstance(exc, MastodonServerError) or (status is not None and status >= 500):
            return TransientConnectorError(f"mastodon {key}: {host} failed (HTTP {status})")
        if isinstance(exc, MastodonAPIError) and status is None:
            if "parse response as JSON" in str(exc.args[0] if exc.args else ""):
                LOGGER.warning("mastodon %s: %s sent a response that is not JSON", key, host)
                return TransientConnectorError(f"mastodon {key}: malformed JSON from {host}")
            return TransientConnectorError(f"mastodon {key}: bad answer from {host}: {exc}")
        if isinstance(exc, MastodonVersionError):
            return TransientConnectorError(
                f"mastodon {key}: could not read the server version of {host}: {exc}"
            )
        if status is not None:
            return ConnectorError(f"mastodon {key}: {host} refused the request (HTTP {status})")
        return ConnectorError(f"mastodon {key}: {exc}")

    # -- edits and deletions --------------------------------------------------------------

    def refresh(self, native_ids: Sequence[str]) -> list[Revision]:
        """The current text of each status still readable, deleted ones flagged.

        A status is re-read with ``status(id)`` on the instance it was first seen through; a
        URI not seen since start-up is found with ``search_v2(uri, resolve=True)`` or skipped.
        404 means deleted (or no longer visible). Refresh leaves a fifth of each budget to
        polling: it stops early, returning what it has (raising when it has nothing).
        """
        revisions: list[Revision] = []
        for uri in native_ids:
            try:
                where = self._locate(uri)
                if where is None:
                    continue
                host, status_id = where
                instance = self._instances[host]
                status = self._call(
                    instance,
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

    def _locate(self, uri: str) -> tuple[str, str] | None:
        """(host, local id) of a status URI: remembered, or resolved by search on the primary."""
        with self._lock:
            known = self._where.get(uri)
        if known is not None:
            return known
        if uri in self._unresolvable:
            return None
        instance = self._instances[self.instance]
        try:
            result = self._call(
                instance,
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
                self._remember(uri, instance.host, str(status["id"]))
                return instance.host, str(status["id"])
        self._unresolvable[uri] = None  # not asked again until restart
        while len(self._unresolvable) > URI_MEMORY:
            self._unresolvable.popitem(last=False)
        return None

    # -- streaming ------------------------------------------------------------------------

    def _stream_for(self, key: str, target: _Target) -> _Stream | None:
        """The stream that feeds ``target`` (started on first use), or None: poll only."""
        if self._closed or not self.settings.streaming or target.kind not in {"tag", "mentions"}:
            return None
        stream_key = _stream_key(target)
        with self._lock:
            stream = self._streams.get(stream_key)
            if stream is None:
                instance = self._instances[target.host]
                if target.kind == "tag":
                    name = f"#{target.tag}@{target.host}"

                    def open_stream(client: Mastodon, listener: StreamListener) -> None:
                        client.stream_hashtag(
                            target.tag, listener, timeout=STREAM_READ_TIMEOUT_SECONDS
                        )
                else:
                    name = f"user@{target.host}"

                    def open_stream(client: Mastodon, listener: StreamListener) -> None:
                        client.stream_user(listener, timeout=STREAM_READ_TIMEOUT_SECONDS)

                stream = _Stream(
                    name=name,
                    kind=target.kind,
                    client=self._new_client(instance.settings),
                    open_stream=open_stream,
                )
                self._streams[stream_key] = stream
                stream.start()
            stream.subscribe(key)
        return None if stream.refused else stream

    def stream_status(self) -> dict[str, str]:
        """Each stream's state: "connected", "connecting" or "refused" (polling only)."""
        with self._lock:
            return {stream.name: stream.state for stream in self._streams.values()}

    def close(self) -> None:
        """Stop the streams and close every client's HTTP session."""
        with self._lock:
            self._closed = True
            streams = list(self._streams.values())
        for stream in streams:
            stream.close()
        for instance in self._instances.values():
            instance.client.session.close()


# -- streaming ------------------------------------------------------------------------------


class _Closed(Exception):
    """Raised inside a stream's callbacks to end it when the connector closes."""


@dataclass(slots=True)
class _Buffer:
    """What one stream holds for one source between fetches."""

    items: deque[tuple[int, Any]] = field(default_factory=deque)  # (sequence, item)
    caught_up: int | None = None  # the connection a poll covered up to its start
    cursor: str | None = None  # the cursor last returned for the source
    polled_at: float = 0.0
    returned: OrderedDict[str, None] = field(default_factory=OrderedDict)  # recent ids

    def note_returned(self, ids: Sequence[str]) -> None:
        """Remember ids handed out, so a buffered copy is not handed out again."""
        for item_id in ids:
            self.returned[item_id] = None
            self.returned.move_to_end(item_id)
        while len(self.returned) > STREAM_BUFFER_LIMIT:
            self.returned.popitem(last=False)


class _Listener(StreamListener):
    """Mastodon.py stream callbacks that feed a _Stream."""

    def __init__(self, stream: _Stream) -> None:
        self._stream = stream

    def handle_stream(self, response: Any) -> None:
        """The connection is open: mark it, read events until it ends, then mark that."""
        self._stream.connected(response)
        try:
            super().handle_stream(response)
        finally:
            self._stream.disconnected()

    def on_update(self, status: Any) -> None:
        """A new status in a hashtag stream."""
        if self._stream.kind == "tag" and isinstance(status, Mapping) and "id" in status:
            self._stream.push(status)

    def on_notification(self, notification: Any) -> None:
        """A notification in the user stream: mentions are kept."""
        if (
            self._stream.kind == "mentions"
            and isinstance(notification, Mapping)
            and notification.get("type") == "mention"
            and "id" in notification
        ):
            self._stream.push(notification)

    def handle_heartbeat(self) -> None:
        """A keep-alive line: a chance to stop when the connector closes."""
        self._stream.beat()

    def on_unknown_event(self, name: str, unknown_event: Any = None) -> None:
        """Events this listener has no use for are ignored."""


class _Stream:
    """One streaming connection, kept open by a daemon thread, buffering items per source.

    A source drains its buffer instead of polling only when the connection that is open now
    was already open when the source's last poll started (so poll + stream leave no gap),
    the cursor the caller passes is the one last returned, and the last poll is recent.
    A refusal (404, 401, a failed health check) ends the stream for good: polling only.
    """

    def __init__(
        self,
        *,
        name: str,
        kind: str,
        client: Mastodon,
        open_stream: Callable[[Mastodon, StreamListener], None],
    ) -> None:
        self.name = name
        self.kind = kind
        self.refused = False
        self._client = client
        self._open_stream = open_stream
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connected = False
        self._generation = 0
        self._sequence = 0
        self._response: Any = None
        self._received = False
        self._buffers: dict[str, _Buffer] = {}
        self._thread = threading.Thread(
            target=self._run, name=f"mastodon-stream {name}", daemon=True
        )

    @property
    def state(self) -> str:
        """ "connected", "connecting" or "refused"."""
        if self.refused:
            return "refused"
        return "connected" if self._connected else "connecting"

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def subscribe(self, key: str) -> None:
        """Keep a buffer for source ``key``."""
        with self._lock:
            self._buffers.setdefault(key, _Buffer())

    # -- called from fetch ----------------------------------------------------------------

    def drain(self, key: str, cursor: str | None) -> list[Any] | None:
        """The items buffered for ``key`` since the last fetch, or None when it must poll."""
        with self._lock:
            buffer = self._buffers[key]
            if (
                not self._connected
                or buffer.caught_up != self._generation
                or cursor != buffer.cursor
                or time.monotonic() - buffer.polled_at > STREAM_RESYNC_SECONDS
            ):
                return None
            items = [item for _, item in buffer.items if _item_id(item) not in buffer.returned]
            buffer.items.clear()
            unique: dict[str, Any] = {}
            for item in items:
                unique.setdefault(_item_id(item), item)
            return list(unique.values())

    def invalidate(self, key: str) -> None:
        """The next fetch of ``key`` must poll."""
        with self._lock:
            self._buffers[key].caught_up = None

    def delivered(self, key: str, cursor: str | None, ids: Sequence[str]) -> None:
        """A drained batch was returned with ``cursor``."""
        with self._lock:
            buffer = self._buffers[key]
            buffer.cursor = cursor
            buffer.note_returned(ids)

    def before_poll(self, key: str) -> tuple[int | None, int]:
        """A ticket for a poll starting now: (open connection or None, buffer position)."""
        with self._lock:
            return (self._generation if self._connected else None), self._sequence

    def after_poll(
        self, key: str, ticket: tuple[int | None, int], cursor: str | None, ids: Sequence[str]
    ) -> None:
        """A poll succeeded: what was buffered before it started is covered by it."""
        generation, position = ticket
        with self._lock:
            buffer = self._buffers[key]
            while buffer.items and buffer.items[0][0] <= position:
                buffer.items.popleft()
            still_open = self._connected and generation == self._generation
            buffer.caught_up = generation if still_open else None
            buffer.cursor = cursor
            buffer.polled_at = time.monotonic()
            buffer.note_returned(ids)

    # -- called from the stream thread ----------------------------------------------------

    def connected(self, response: Any) -> None:
        """A connection is open."""
        with self._lock:
            self._response = response
            self._generation += 1
            self._connected = True
        LOGGER.info("mastodon stream %s: connected", self.name)

    def disconnected(self) -> None:
        """The connection ended."""
        with self._lock:
            self._connected = False
            self._response = None

    def push(self, item: Any) -> None:
        """An item arrived: buffer it for every subscribed source."""
        with self._lock:
            self._received = True
            self._sequence += 1
            for buffer in self._buffers.values():
                if len(buffer.items) >= STREAM_BUFFER_LIMIT:
                    buffer.items.clear()
                    buffer.caught_up = None  # too much to hold: the next fetch polls
                buffer.items.append((self._sequence, item))
        self.beat()

    def beat(self) -> None:
        """Stop reading when the connector closes."""
        if self._closing.is_set():
            raise _Closed

    def _run(self) -> None:
        """Check health once, then stream; reconnect with backoff until closed or refused."""
        delay = STREAM_RETRY_SECONDS
        checked = False
        while not self._closing.is_set():
            self._received = False
            try:
                if not checked:
                    if not self._client.stream_healthy():
                        self._refuse("the streaming health check did not answer OK")
                        return
                    checked = True
                self._open_stream(self._client, _Listener(self))
                reason = "the server ended the stream"
            except _Closed:
                return
            except MastodonNetworkError as exc:
                if self._closing.is_set():
                    return
                refusal = str(exc).rpartition(":")[2].strip().lower()
                if "could not connect to streaming server" in str(exc).lower() and (
                    refusal in STREAM_REFUSALS
                ):
                    self._refuse(str(exc))
                    return
                reason = str(exc)
            except MastodonAPIError as exc:  # from the health check
                status = _status_code(exc)
                if status is not None and 400 <= status < 500 and status != 429:
                    self._refuse(f"HTTP {status} from the streaming health check")
                    return
                reason = f"health check failed: {exc}"
            except Exception as exc:  # a stream thread must not die of a surprise
                if self._closing.is_set():
                    return
                reason = f"{type(exc).__name__}: {exc}"
            if self._received:
                delay = STREAM_RETRY_SECONDS
            wait = delay * random.uniform(0.8, 1.2)
            LOGGER.info(
                "mastodon stream %s: %s; reconnecting in %.0fs (polling meanwhile)",
                self.name,
                reason,
                wait,
            )
            self._closing.wait(wait)
            delay = min(delay * 2, STREAM_RETRY_MAX_SECONDS)

    def _refuse(self, reason: str) -> None:
        """Give up streaming for good, with one log line."""
        self.refused = True
        LOGGER.warning(
            "mastodon stream %s refused (%s); polling instead from now on", self.name, reason
        )

    def close(self) -> None:
        """Stop the thread: wake it and cut its connection."""
        self._closing.set()
        with self._lock:
            response = self._response
        if response is not None:
            _abort(response)
        self._thread.join(timeout=2)
        self._client.session.close()


def _abort(response: Any) -> None:
    """Cut a streaming response's socket so a blocked read returns at once."""
    try:
        sock = response.raw._fp.fp.raw._sock
        sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        with contextlib.suppress(Exception):  # a broken connection may fail to close too
            response.close()


# -- conversion -----------------------------------------------------------------------------


def instance_domain(api_base_url: str) -> str:
    """The instance's domain as accts use it: ``host`` or ``host:port`` (default ports dropped)."""
    parts = urlsplit(api_base_url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is None or (parts.scheme, port) in {("http", 80), ("https", 443)}:
        return host
    return f"{host}:{port}"


def status_text(status: Mapping[str, Any]) -> str:
    """A status's readable text: the content warning, then the content as plain text."""
    text = html_to_text(status.get("content") or "")
    spoiler = (status.get("spoiler_text") or "").strip()
    if spoiler:
        text = f"{spoiler}\n\n{text}" if text else spoiler
    return text


def mention_from_status(
    status: Mapping[str, Any], *, brand: str, source: str, instance: str
) -> Mention:
    """A status (Mastodon.py object or JSON dict) as a Mention; a boost becomes its original.

    ``instance`` is the domain of the server it was read from: it qualifies local accts, so
    a status has the same native id (its URI), URL and author handle through any server.
    """
    reblog = status.get("reblog")
    if reblog:
        status = reblog
    account = status["account"]
    acct = str(account["acct"]).lower()
    handle = acct if "@" in acct else f"{acct}@{instance.lower()}"
    status_id = str(status["id"])
    parent = status.get("in_reply_to_id")
    edited = status.get("edited_at")
    return Mention(
        network=NETWORK,
        native_id=str(status["uri"]),
        brand=brand,
        source=source,
        url=str(status.get("url") or status["uri"]),
        author=Author(
            network=NETWORK,
            handle=handle,
            display_name=account.get("display_name") or "",
            followers=int(account.get("followers_count") or 0),
            url=account.get("url") or "",
        ),
        text=status_text(status),
        created_at=_utc_datetime(status["created_at"]),
        kind="status",
        thread_id=f"{instance}/{parent or status_id}",
        parent_id=f"{instance}/{parent}" if parent else None,
        reach=int(status.get("favourites_count") or 0) + int(status.get("reblogs_count") or 0),
        edited_at=_utc_datetime(edited) if edited else None,
    )


def _stream_key(target: _Target) -> tuple[str, str]:
    """The stream that can feed ``target``: a hashtag's, or the user stream (tag "")."""
    return target.host, target.tag if target.kind == "tag" else ""


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


def _newest_id(ids: Sequence[str], cursor: str | None) -> str | None:
    """The newest of ``ids`` and ``cursor``, by id order: for items that arrive in no order."""
    return max([*ids, *([cursor] if cursor else [])], key=_id_key, default=cursor)


def _item_id(item: Mapping[str, Any]) -> str:
    """An item's id as the opaque string it is (Mastodon.py may hand out ints)."""
    return str(item["id"])


def _id_key(item_id: str) -> tuple[int, str]:
    """Order of ids: Mastodon snowflakes, Pleroma flake ids and ULIDs sort by (length, text)."""
    return len(item_id), item_id


def _seconds_until(reset: Any) -> float | None:
    """Seconds until a rate-limit reset (epoch seconds), at least 1; None if none pending."""
    if not isinstance(reset, int | float):
        return None
    left = float(reset) - time.time()
    return max(1.0, left) if left > 0 else None


def _utc_datetime(value: datetime | str) -> datetime:
    """A timezone-aware UTC datetime from Mastodon.py's datetime or the JSON ISO string."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _status_code(exc: BaseException | None) -> int | None:
    """The HTTP status Mastodon.py put in an API error's args, if any."""
    if not isinstance(exc, MastodonAPIError):
        return None
    for arg in exc.args[1:2]:
        if isinstance(arg, int):
            return arg
    return None


# -- HTML to text -------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "div",
        "dl",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "ul",
    }
)
_LINE_TAGS = frozenset({"dd", "dt", "li", "tr"})
_HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title"})
_HTML_SPACE = " \t\n\r\f"


class _TextExtractor(HTMLParser):
    """Collects the readable text of status HTML: blocks as paragraphs, <br> as newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._chunks: list[str] = []
        self._owed = 0  # newlines owed before the next text
        self._hidden = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element."""
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag == "br":
            self._owed = min(self._owed + 1, 2)
        elif tag in _BLOCK_TAGS:
            self._owed = 2
            if tag == "pre":
                self._pre += 1
        elif tag in _LINE_TAGS:
            self._owed = max(self._owed, 1)

    def handle_endtag(self, tag: str) -> None:
        """Close an element."""
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self._owed = 2
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag in _LINE_TAGS:
            self._owed = max(self._owed, 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A self-closing element: ``<br/>`` breaks a line, others open and close."""
        self.handle_starttag(tag, attrs)
        if tag != "br":
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        """Text: whitespace collapsed as a browser would, except inside <pre>."""
        if self._hidden:
            return
        if not self._pre:
            data = _collapse_space(data)
            if self._owed or not self._chunks or self._chunks[-1].endswith(("\n", " ")):
                data = data.lstrip(" ")
        if not data:
            return
        if self._chunks and self._owed:
            self._chunks.append("\n" * self._owed)
        self._owed = 0
        self._chunks.append(data)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """Markup like ``<![x[`` that the stdlib rejects is skipped like a bogus comment."""
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i)
            return -1 if end < 0 else end + 1

    def text(self) -> str:
        """The collected text, trailing spaces and blank edges removed."""
        lines = "".join(self._chunks).split("\n")
        return "\n".join(line.rstrip(_HTML_SPACE) for line in lines).strip(_HTML_SPACE)


def _collapse_space(data: str) -> str:
    """Runs of HTML whitespace as one space."""
    out: list[str] = []
    in_space = False
    for char in data:
        if char in _HTML_SPACE:
            if not in_space:
                out.append(" ")
            in_space = True
        else:
            out.append(char)
            in_space = False
    return "".join(out)


def html_to_text(html: str) -> str:
    """Status HTML as readable plain text: paragraphs, line breaks, link text, entities."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.text()
