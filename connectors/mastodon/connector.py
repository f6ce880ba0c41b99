"""Mastodon connector: hashtag timelines (on one or more instances), mentions of the brand
account, statuses of chosen accounts and full-text search, polled with ``min_id`` or fed by
the streaming API, plus re-reading of stored statuses for edits and deletions, and replies
from the account of ``access_token`` (replies.py).

Every request goes through Mastodon.py, one client per instance, and every library error is
translated once, in ``_Instance.call`` (client.py), into connectors.errors' ConnectorError tree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from mastodon import Mastodon, StreamListener
from pydantic import BaseModel

from connectors.base import (
    Batch,
    Mention,
    Outgoing,
    Posted,
    ReplyTarget,
    Revision,
    Skipped,
    Source,
    TargetState,
    Watch,
)
from connectors.errors import ConnectorError
from connectors.listening import listening_since, started_at
from connectors.mastodon.client import _Instance, _new_client
from connectors.mastodon.parse import (
    NETWORK,
    _item_id,
    _newest_id,
    instance_domain,
    mention_from_status,
)
from connectors.mastodon.polling import _Poller, _Target
from connectors.mastodon.refresh import _StatusIndex
from connectors.mastodon.replies import _Replies
from connectors.mastodon.settings import InstanceSettings, MastodonSettings
from connectors.mastodon.stream import STREAM_READ_TIMEOUT_SECONDS, _Stream
from connectors.mastodon.threads import _Threads

LOGGER = logging.getLogger(__name__)

# Listening starts this long before the empty first poll: the server's clock and ours may differ.
LISTEN_GRACE = timedelta(minutes=1)


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
                client=_new_client(entry, settings.timeout_seconds),
                settings=entry,
                has_token=entry.access_token is not None,
            )
        self._lock = threading.RLock()
        self._targets: dict[str, _Target] = {}
        self._sources: list[Source] = []
        self._poller = _Poller(settings.page_size, settings.max_pages_per_fetch)
        self._index = _StatusIndex(self._instances, self.instance)
        self._threads = _Threads(self._index)
        self._replies = _Replies(self._instances[self.instance])
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._closed = False
        # Search that never finds what the timelines show is reported once (_check_search).
        self._keywords = {watch.name: tuple(k.lower() for k in watch.keywords) for watch in watches}
        self._started = datetime.now(UTC)
        self._timeline_matches: dict[str, int] = {}  # brand -> new statuses with a keyword
        self._matches_at_last_search: dict[str, int] = {}
        self._search_found: set[str] = set()  # brands whose search found something
        self._search_silence_reported = False
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
        since = started_at(cursor)
        last_id = None if since is not None else cursor  # the id the source stopped at
        started = datetime.now(UTC)
        stream = self._stream_for(source.key, target)
        if stream is not None:
            drained = stream.drain(source.key, cursor)
            if drained is not None:
                try:
                    newest = _newest_id([_item_id(i) for i in drained], last_id) or cursor
                    batch = self._batch(source, target, instance, drained, newest)
                except ConnectorError:
                    stream.invalidate(source.key)  # the drained items are gone: poll next
                    raise
                stream.delivered(source.key, batch.cursor, [_item_id(i) for i in drained])
                self._check_search(source, target, batch)
                return batch
        ticket = stream.before_poll(source.key) if stream is not None else None
        more = False
        if target.kind == "search":
            newest_first = self._poller.collect_search(source, target, instance, cursor)
            newest = _newest_id([_item_id(i) for i in newest_first], last_id) or cursor
        else:  # the server's order says which is newest: ids are compared nowhere
            if since is not None:
                newest_first = self._poller.collect_since(source, target, instance, since)
            else:
                newest_first, more = self._poller.collect(source, target, instance, cursor)
            newest = _item_id(newest_first[0]) if newest_first else cursor
        if newest is None:
            # Nothing yet: listen from now on. No id is invented (a server may answer an id
            # it never issued with nothing, for ever), and None would read only the newest
            # page of a first burst, losing the rest.
            newest = listening_since(started - LISTEN_GRACE)
        batch = self._batch(source, target, instance, newest_first[::-1], newest)
        self._check_search(source, target, batch)
        # A poll that stopped short of now does not cover what the stream buffered meanwhile:
        # the stream is trusted again after a poll that reached the end.
        if stream is not None and ticket is not None and not more:
            stream.after_poll(source.key, ticket, batch.cursor, [_item_id(i) for i in newest_first])
        batch.more = more
        return batch

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
        domain = instance.own_domain(source.key)
        mentions: list[Mention] = []
        skipped: list[Skipped] = []
        for item in oldest_first:
            if target.kind == "mentions" and item.get("type") != "mention":
                continue  # favourites, follows...: some servers ignore the types[] filter
            status = item.get("status") if target.kind == "mentions" else item
            if not isinstance(status, Mapping):
                continue
            try:
                original = status.get("reblog") or status
                parent, root = self._threads.resolve(source.key, instance, original)
                mention = mention_from_status(
                    status,
                    brand=source.brand,
                    source=source.key,
                    instance=domain,
                    parent=parent,
                    root=root,
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                # One odd status: kept for inspection (and logged) by the app, the page goes on.
                skipped.append(
                    Skipped(
                        native_id=str(status.get("uri") or f"{instance.host}/{status.get('id')}"),
                        error=f"unreadable status: {exc!r}",
                        excerpt=repr(dict(status))[:2000],
                    )
                )
                continue
            self._index.remember(mention.native_id, instance.host, str(original["id"]))
            self._threads.note(mention.native_id, mention.thread_id)
            mention = replace(mention, locator=f"{instance.host}/{original['id']}")
            mentions.append(mention)
        return Batch(mentions=mentions, cursor=new_cursor, skipped=skipped)

    def _check_search(self, source: Source, target: _Target, batch: Batch) -> None:
        """Report once when search finds nothing although the timelines show keyword matches.

        Servers without a full-text index (or where authors did not opt in) answer search
        with nothing, not an error: without this line the search source just looks quiet.
        """
        brand = source.brand
        keywords = self._keywords.get(brand, ())
        if target.kind != "search":
            matches = sum(
                m.created_at >= self._started and any(k in m.text.lower() for k in keywords)
                for m in batch.mentions
            )
            self._timeline_matches[brand] = self._timeline_matches.get(brand, 0) + matches
            return
        if batch.mentions:
            self._search_found.add(brand)
            return
        # Matches seen before the previous search poll had a whole interval to be indexed.
        seen = self._matches_at_last_search.get(brand, 0)
        self._matches_at_last_search[brand] = self._timeline_matches.get(brand, 0)
        if seen and brand not in self._search_found and not self._search_silence_reported:
            self._search_silence_reported = True
            LOGGER.warning(
                "mastodon %s: search on %s found nothing, although the timelines showed %d "
                "status(es) with these keywords; the server may not index them (search off, "
                "or authors not opted in); hashtags and mentions are still read",
                source.key,
                target.host,
                seen,
            )

    # -- edits and deletions --------------------------------------------------------------

    def refresh(
        self, native_ids: Sequence[str], *, locators: Mapping[str, str] | None = None
    ) -> list[Revision]:
        """The current text of each status still readable, deleted ones flagged (refresh.py).

        ``locators`` (``host/local id``, as fetch set them) say where each was read.
        """
        return self._index.refresh(native_ids, locators=locators or {})

    # -- replies --------------------------------------------------------------------------

    def reply_account(self) -> str:
        """``@user@instance``: the owner of ``access_token`` posts the replies."""
        return self._replies.account()[1]

    def inspect(self, target: ReplyTarget) -> TargetState:
        """Whether the target still exists, and the account's replies to it (replies.py)."""
        return self._replies.inspect(target)

    def reply(self, outgoing: Outgoing) -> Posted:
        """Post ``outgoing`` on the own instance, once per Idempotency-Key (replies.py)."""
        return self._replies.reply(outgoing)

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
                    client=_new_client(instance.settings, self.settings.timeout_seconds),
                    open_stream=open_stream,
                )
                self._streams[stream_key] = stream
                stream.start()
            stream.subscribe(key)
        return None if stream.refused else stream

    def release(self, source: Source) -> None:
        """Drop what the stream kept for ``source``; close a stream no source reads any more.

        A refused stream is kept (it holds no connection): streaming is not tried again.
        """
        target = self._targets.get(source.key)
        if target is None:
            return
        stream_key = _stream_key(target)
        with self._lock:
            stream = self._streams.get(stream_key)
            if stream is None or not stream.unsubscribe(source.key) or stream.refused:
                return
            del self._streams[stream_key]  # a later fetch starts a new one
        stream.close()
        LOGGER.info("mastodon stream %s closed: no source of this process reads it", stream.name)

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


def _stream_key(target: _Target) -> tuple[str, str]:
    """The stream that can feed ``target``: a hashtag's, or the user stream (tag "")."""
    return target.host, target.tag if target.kind == "tag" else ""
