"""A fake Mastodon instance that speaks the real REST wire format, for tests and the demo.

It serves the read endpoints a listener needs (hashtag timeline, notifications, single
statuses and notifications, account lookup and statuses, search, credentials, instance
info) and posting a status as the token's owner (``POST /api/v1/statuses``: replies,
visibility, the ``Idempotency-Key`` header kept ``idempotency_seconds``), with
Mastodon's paging (``max_id`` / ``since_id`` / ``min_id`` / ``limit`` and optional
``Link`` headers), rate-limit headers and bearer-token check, shaped after
responses recorded from a real Mastodon 4.6 server; a minimal server-sent-events
streaming API (health, hashtag and user streams); and scenario controls for tests:
scripted failures (status codes, slow answers, broken JSON, an exhausted rate limit, a
revoked token), a seeded random fault injector, edits, deletions, federation of a
status to a second fake, and for posts: failing them (``fail_next_posts``, nothing
posted), dropping the connection once the status is posted (``drop_next_posts``) or
holding the answer until released (``hold_next_post``).
A direct status is visible only to its author and the accounts it mentions.
"""

from __future__ import annotations

import bisect
import contextlib
import html
import json
import queue
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from social_crm.demo.servers.local import LocalServer, PostHold, drop_connection

JSON = dict[str, Any]

VERSION = "4.6.4"
DEFAULT_LIMIT = 20
MAX_LIMIT = 40
RATELIMIT_PERIOD_SECONDS = 300
FAULT_KINDS = ("429", "500", "json", "slow")  # what the random fault injector chooses from
STREAMING_PREFIX = "/api/v1/streaming"
STATUSES_PATH = "/api/v1/statuses"
VISIBILITIES = ("public", "unlisted", "private", "direct")
MAX_CHARACTERS = 500  # what the instance info advertises
IDEMPOTENCY_SECONDS = 3600.0  # how long Mastodon keeps an Idempotency-Key
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Hashtags, mentions and links in posted text, as Mastodon's own formatter finds them.
_TOKEN = re.compile(
    r"(?P<url>https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'])"
    r"|(?<![\w/@])@(?P<mention>\w+(?:@[\w.-]+\w(?::\d+)?)?)"
    r"|(?<![\w/&])#(?P<tag>\w*[^\W\d]\w*)"
)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake served: method, path and the decoded query parameters."""

    method: str
    path: str
    query: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """One fault the fake served instead of (or before) a normal answer."""

    path: str
    kind: str  # "429", "500" (or another status), "json" or "slow"


@dataclass(slots=True)
class _Fault:
    """A scripted fault waiting for its requests."""

    kind: str  # "status", "json" or "slow"
    count: int
    path: str | None  # a path prefix, None: any API request
    method: str | None = None  # only requests with this method; None: any
    status: int = 500
    seconds: float = 0.0
    reset_in: float | None = 1.0  # 429 only; None: a proxy's 429, no rate-limit headers


@dataclass(slots=True)
class _Subscriber:
    """One open streaming connection: what it listens to and its event queue."""

    stream: str  # "hashtag" or "user"
    viewer: str | None
    tag: str = ""
    local: bool = False
    notifications_only: bool = False
    events: queue.Queue[tuple[str, str] | None] = field(default_factory=queue.Queue)


@dataclass(slots=True)
class _Account:
    """An account as stored; serialised by FakeMastodon._account_json."""

    id: str
    username: str
    domain: str | None  # None: local to the fake instance
    display_name: str
    note: str
    followers: int
    created_at: datetime
    statuses: int = 0
    last_status_at: datetime | None = None
    indexable: bool = True  # opted in to full-text search
    bot: bool = False  # flagged as an automated account
    # Profile fields: (name, value, verified with rel=me); URL values are shown as links.
    fields: list[tuple[str, str, bool]] = field(default_factory=list)
    url: str | None = None  # set on copies of accounts federated from another fake
    uri: str | None = None

    @property
    def acct(self) -> str:
        """``user`` for local accounts, ``user@domain`` for remote ones."""
        return f"{self.username}@{self.domain}" if self.domain else self.username


@dataclass(slots=True)
class _Status:
    """A status as stored; serialised by FakeMastodon._status_json."""

    id: str
    account_id: str
    content: str
    created_at: datetime
    visibility: str
    language: str | None
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    tags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # account ids
    reblog_of_id: str | None = None
    replies: int = 0
    reblogs: int = 0
    favourites: int = 0
    edited_at: datetime | None = None
    media: list[tuple[str, str]] = field(default_factory=list)  # (type, description)
    poll: list[str] = field(default_factory=list)  # the options of its poll
    quote_of_id: str | None = None  # the status it quotes
    uri: str | None = None  # set on copies federated from another fake
    url: str | None = None
    copies: list[tuple[FakeMastodon, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Notification:
    """A notification as stored; serialised by FakeMastodon._notification_json."""

    id: str
    type: str
    created_at: datetime
    account_id: str  # who caused it
    recipient_id: str
    status_id: str | None


class FakeMastodon:
    """An in-memory Mastodon instance served over HTTP on 127.0.0.1 until stopped."""

    def __init__(
        self,
        *,
        access_token: str = "demo-token",
        owner: str = "brand",
        rate_limit: int = 300,
        link_headers: bool = True,
        streaming: bool = True,
        search: bool = True,
        fault_rate: float = 0.0,
        seed: int = 0,
        heartbeat_seconds: float = 0.2,
        idempotency_seconds: float = IDEMPOTENCY_SECONDS,
    ) -> None:
        self.access_token = access_token
        self.owner = owner
        self.rate_limit = rate_limit
        self._defaults = (link_headers, streaming, search)
        self.link_headers = link_headers  # False: answer lists without Link headers
        self.streaming_enabled = streaming  # False: every streaming endpoint answers 404
        self.search_enabled = search  # False: /api/v2/search answers 404, as on servers without it
        self.heartbeat_seconds = heartbeat_seconds  # how often streams send a comment line
        self.idempotency_seconds = idempotency_seconds  # how long an Idempotency-Key holds
        self.ignore_types_filter = False  # True: notifications of every type, whatever is asked
        # The streaming URL the instance info advertises (None: this server's own), e.g. a
        # wss:// one that this plain-http server cannot serve.
        self.streaming_url: str | None = None
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._last_id = 0
        self._seq = 0
        self._accounts: dict[str, _Account] = {}
        self._by_acct: dict[str, str] = {}  # lower-cased acct -> account id
        self._statuses: dict[str, _Status] = {}  # insertion order is id order
        self._status_keys: list[int] = []  # the statuses' ids as numbers, ascending
        self._notifications: list[_Notification] = []
        self._issued: set[str] = set()  # every status and notification id handed out
        self._requests: list[RecordedRequest] = []
        self._subscribers: list[_Subscriber] = []
        self._faults: list[_Fault] = []
        self._drops = 0  # posts still to answer by dropping the connection
        self._holds: list[PostHold] = []  # posts still to answer only once released
        # (account id, Idempotency-Key) -> (status id, when it expires on time.monotonic())
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._posted: list[str] = []  # ids of the statuses posted through the API
        self._injected: list[InjectedFault] = []
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = FAULT_KINDS
        self._fault_slow_seconds = 2.0
        self._fault_reset_in: float | None = None
        self._random = random.Random(seed)
        self._revoked = False
        self._window_end = 0.0
        self._used = 0
        self._map = Map(
            [
                Rule("/api/v1/timelines/tag/<tag>", endpoint="tag_timeline"),
                Rule("/api/v1/notifications", endpoint="notifications"),
                Rule("/api/v1/notifications/<id>", endpoint="notification"),
                Rule(STATUSES_PATH, endpoint="statuses"),
                Rule("/api/v1/statuses/<id>", endpoint="status"),
                Rule("/api/v1/statuses/<id>/context", endpoint="status_context"),
                Rule("/api/v1/accounts/verify_credentials", endpoint="verify_credentials"),
                Rule("/api/v1/accounts/lookup", endpoint="account_lookup"),
                Rule("/api/v1/accounts/<id>", endpoint="account"),
                Rule("/api/v1/accounts/<id>/statuses", endpoint="account_statuses"),
                Rule("/api/v2/search", endpoint="search"),
                Rule("/api/v1/instance", endpoint="instance_v1"),
                Rule("/api/v2/instance", endpoint="instance_v2"),
                Rule(f"{STREAMING_PREFIX}/health", endpoint="stream_health"),
                Rule(f"{STREAMING_PREFIX}/hashtag", endpoint="stream_hashtag"),
                Rule(f"{STREAMING_PREFIX}/hashtag/local", endpoint="stream_hashtag_local"),
                Rule(f"{STREAMING_PREFIX}/user", endpoint="stream_user"),
                Rule(f"{STREAMING_PREFIX}/user/notification", endpoint="stream_notifications"),
            ],
            strict_slashes=False,
            merge_slashes=False,
        )
        self._server = LocalServer(self._wsgi)
        self.reset()
        if fault_rate:
            self.inject_faults(fault_rate, seed=seed)

    def reset(self) -> None:
        """Forget every account but the owner, every status, notification, request and fault.

        Link headers, streaming and search go back to the constructor's settings; scripted
        faults are dropped, the random fault injector is off, the token is valid again,
        the rate-limit window starts afresh and open streams are disconnected.
        """
        with self._lock:
            self._accounts.clear()
            self._by_acct.clear()
            self._statuses.clear()
            self._status_keys.clear()
            self._notifications.clear()
            self._issued.clear()
            self._requests.clear()
            self._faults.clear()
            self._drops = 0
            self._holds.clear()
            self._idempotency.clear()
            self._posted.clear()
            self._injected.clear()
            self._fault_rate = 0.0
            self._revoked = False
            self._window_end = 0.0
            self._used = 0
            self.link_headers, self.streaming_enabled, self.search_enabled = self._defaults
            self.ignore_types_filter = False
            self.streaming_url = None
            self.close_silently = False
            self.disconnect_streams()
            self.add_account(self.owner, display_name=self.owner.capitalize())

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def close_silently(self) -> bool:
        """Whether connections are closed after each answer without saying so (as some
        servers and proxies do): a client reusing one gets no answer at all."""
        return self._server.close_silently

    @close_silently.setter
    def close_silently(self, value: bool) -> None:
        self._server.close_silently = value

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT`` (no trailing slash)."""
        return self._server.url

    @property
    def host(self) -> str:
        """The instance domain used in accts and URIs: ``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self._server.port}"

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; open streams end."""
        self._closing.set()
        self.disconnect_streams()
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests served so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def api_requests(self, path: str | None = None) -> list[RecordedRequest]:
        """The requests served so far whose path starts with ``path`` (None: all of them)."""
        return [r for r in self.requests if path is None or r.path.startswith(path)]

    @property
    def injected_faults(self) -> list[InjectedFault]:
        """Every fault served so far, scripted or random, oldest first."""
        with self._lock:
            return list(self._injected)

    @property
    def fault_counts(self) -> dict[str, int]:
        """How many faults of each kind were served so far."""
        with self._lock:
            return dict(Counter(fault.kind for fault in self._injected))

    # -- scenario controls -------------------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        *,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
        reset_in: float | None = 1.0,
    ) -> None:
        """Answer the next ``count`` API requests (under ``path``, with ``method``, if given)
        with ``status``.

        A 429 carries Mastodon's rate-limit headers (none left, the window resets in
        ``reset_in`` seconds); with ``reset_in=None`` it is a reverse proxy's bare 429.
        """
        with self._lock:
            self._faults.append(
                _Fault("status", count, path, method=method, status=status, reset_in=reset_in)
            )

    def fail_next_posts(self, status: int = 500, *, count: int = 1) -> None:
        """Answer the next ``count`` status posts with ``status``: nothing is posted."""
        self.fail_next(status, count=count, path=STATUSES_PATH, method="POST")

    def drop_next_posts(self, *, count: int = 1) -> None:
        """Post the next ``count`` statuses, then close each connection without an answer:
        the client cannot tell whether its status was posted."""
        with self._lock:
            self._drops += count

    def hold_next_post(self, *, timeout: float = 60.0) -> PostHold:
        """Post the next status, then hold its answer until the returned hold is released
        (or ``timeout`` seconds pass); its ``made`` event says when the status is posted."""
        hold = PostHold(timeout=timeout)
        with self._lock:
            self._holds.append(hold)
        return hold

    @property
    def posted(self) -> list[str]:
        """The ids of the statuses posted through the API, oldest first (a post answered
        from its Idempotency-Key adds none)."""
        with self._lock:
            return list(self._posted)

    def slow_next(self, seconds: float, *, count: int = 1, path: str | None = None) -> None:
        """Delay the next ``count`` API answers (under ``path``) by ``seconds`` each."""
        with self._lock:
            self._faults.append(_Fault("slow", count, path, seconds=seconds))

    def break_json_next(self, *, count: int = 1, path: str | None = None) -> None:
        """Cut the JSON body of the next ``count`` API answers (under ``path``) in half."""
        with self._lock:
            self._faults.append(_Fault("json", count, path))

    def exhaust_ratelimit(self, *, reset_in: float = 60.0) -> None:
        """Use up the rate-limit budget: every API request gets 429 for ``reset_in`` seconds."""
        with self._lock:
            self._window_end = time.time() + reset_in
            self._used = self.rate_limit

    def revoke_token(self) -> None:
        """Revoke the access token: from now on every request carrying it gets 401."""
        with self._lock:
            self._revoked = True

    def inject_faults(
        self,
        rate: float,
        *,
        seed: int = 0,
        kinds: Sequence[str] = FAULT_KINDS,
        slow_seconds: float = 2.0,
        reset_in: float | None = None,
    ) -> None:
        """Fail a seeded-random ``rate`` of API requests with one of ``kinds`` (0 turns off).

        Kinds: "429" (a reverse proxy's bare 429 with ``Retry-After: 1``, or with
        ``reset_in`` Mastodon's own: budget spent, resetting in ``reset_in`` s), "500",
        "json" (a cut body) and "slow" (answered after ``slow_seconds``). Faults never
        change data: a failed request had no effect; the same seed gives the same faults.
        """
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be among {FAULT_KINDS}, got {list(kinds)}")
        with self._lock:
            self._fault_rate = rate
            self._random = random.Random(seed)
            self._fault_kinds = tuple(kinds)
            self._fault_slow_seconds = slow_seconds
            self._fault_reset_in = reset_in

    def disconnect_streams(self) -> None:
        """End every open streaming connection (clients see the server go away)."""
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.events.put(None)
            self._subscribers.clear()

    @property
    def stream_count(self) -> int:
        """How many streaming connections are open."""
        with self._lock:
            return len(self._subscribers)

    # -- publishing API ----------------------------------------------------------------

    def add_account(
        self,
        username: str,
        *,
        display_name: str = "",
        followers: int = 0,
        note: str = "",
        remote_domain: str | None = None,
        indexable: bool = True,
        fields: Sequence[tuple[str, str, bool]] = (),
        bot: bool = False,
    ) -> JSON:
        """Create an account (remote when ``remote_domain`` is given) and return its JSON.

        Only statuses of ``indexable`` accounts (opted in) are found by full-text search.
        ``fields`` are profile fields (name, value, verified by a ``rel=me`` link back);
        ``bot`` flags an automated account.
        """
        with self._lock:
            account = _Account(
                id=self._next_id(),
                username=username,
                domain=remote_domain.lower() if remote_domain else None,
                display_name=display_name,
                note=note,
                followers=followers,
                created_at=datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0),
                indexable=indexable,
                fields=list(fields),
                bot=bot,
            )
            key = account.acct.lower()
            if key in self._by_acct:
                raise ValueError(f"account {account.acct!r} already exists")
            self._accounts[account.id] = account
            self._by_acct[key] = account.id
            return self._account_json(account)

    def post(
        self,
        username: str,
        text: str,
        *,
        in_reply_to: str | None = None,
        created_at: datetime | None = None,
        tags: Sequence[str] | None = None,
        mention: str | None = None,
        favourites: int = 0,
        reblogs: int = 0,
        visibility: str = "public",
        language: str | None = "en",
        media: Sequence[tuple[str, str]] = (),
        poll: Sequence[str] = (),
        quote: str | None = None,
    ) -> str:
        """Publish a status as ``username`` (a local username or ``user@domain``); its id.

        Hashtags, links and ``@user`` mentions of known accounts in ``text`` are linked the
        way Mastodon does; ``tags`` and ``mention`` are added to the text when missing there.
        Every mentioned local account other than the author gets a "mention" notification.
        ``media`` are attachments (type, description), ``poll`` a poll's options, ``quote``
        the id of a status it quotes (its content then starts with Mastodon's
        ``RE: <url>`` fallback paragraph).
        """
        with self._lock:
            author = self._account(username)
            for extra in tags or ():
                name = extra.lstrip("#")
                if name.lower() not in {t.lower() for t in _hashtags(text)}:
                    text = f"{text} #{name}"
            if mention is not None:
                acct = mention.lstrip("@")
                if acct.lower() not in {m.lower() for m in _mentions(text)}:
                    text = f"@{acct} {text}"
            parent = None
            if in_reply_to is not None:
                parent = self._statuses.get(in_reply_to)
                if parent is None:
                    raise KeyError(f"no status {in_reply_to!r} to reply to")
            content, tag_names, mentioned = self._format(text)
            if quote is not None:
                quoted_url = self._status_json(self._status(quote), viewer=None)["url"]
                content = f'<p class="quote-inline">RE: {_link_html(quoted_url)}</p>{content}'
            when = _utc(created_at) if created_at else datetime.now(UTC)
            status = _Status(
                id=self._next_id(),
                account_id=author.id,
                content=content,
                created_at=when,
                visibility=visibility,
                language=language,
                in_reply_to_id=parent.id if parent else None,
                in_reply_to_account_id=parent.account_id if parent else None,
                tags=tag_names,
                mentions=[a.id for a in mentioned],
                favourites=favourites,
                reblogs=reblogs,
                media=list(media),
                poll=list(poll),
                quote_of_id=quote,
            )
            self._store(status)
            if parent:
                parent.replies += 1
            author.statuses += 1
            author.last_status_at = when
            self._publish_update(status)
            for account in mentioned:
                if account.domain is None and account.id != author.id:
                    self._notify("mention", author, account, status)
            return status.id

    def favourite(self, username: str, status_id: str) -> str:
        """``username`` favourites a status; its local author gets a "favourite" notification."""
        with self._lock:
            account = self._account(username)
            status = self._status(status_id)
            status.favourites += 1
            return self._notify("favourite", account, self._accounts[status.account_id], status)

    def reblog(self, username: str, status_id: str) -> str:
        """``username`` boosts a status; returns the id of the reblog wrapper status."""
        with self._lock:
            account = self._account(username)
            original = self._status(status_id)
            original.reblogs += 1
            wrapper = _Status(
                id=self._next_id(),
                account_id=account.id,
                content="",
                created_at=datetime.now(UTC),
                visibility=original.visibility,
                language=None,
                reblog_of_id=original.id,
            )
            self._store(wrapper)
            account.statuses += 1
            self._notify("reblog", account, self._accounts[original.account_id], original)
            return wrapper.id

    def follow(self, username: str, target: str) -> str:
        """``username`` follows ``target``; a local target gets a "follow" notification."""
        with self._lock:
            account = self._account(username)
            other = self._account(target)
            other.followers += 1
            return self._notify("follow", account, other, None)

    def status_json(self, status_id: str) -> JSON:
        """The JSON the API serves for one status, as the token's owner sees it."""
        with self._lock:
            return self._status_json(self._status(status_id), viewer=self._owner_id())

    def edit(self, status_id: str, new_text: str, *, edited_at: datetime | None = None) -> None:
        """The author edits a status: new text and tags, ``edited_at`` set; copies follow."""
        with self._lock:
            status = self._status(status_id)
            if status.reblog_of_id is not None:
                raise ValueError(f"status {status_id!r} is a boost; boosts cannot be edited")
            content, tag_names, mentioned = self._format(new_text)
            when = _utc(edited_at) if edited_at else datetime.now(UTC)
            self._apply_edit(status, content, tag_names, when)
            status.mentions = [a.id for a in mentioned]
            copies = list(status.copies)
        for other, copy_id in copies:
            with other._lock:
                copy = other._statuses.get(copy_id)
                if copy is not None:
                    other._apply_edit(copy, content, tag_names, when)

    def delete(self, status_id: str) -> None:
        """The author deletes a status: it answers 404 from now on; its boosts, notifications
        and federated copies go with it."""
        with self._lock:
            status = self._status(status_id)
            doomed = {status_id} | {
                s.id for s in self._statuses.values() if s.reblog_of_id == status_id
            }
            for gone in doomed:
                removed = self._statuses.pop(gone)
                keys = self._status_keys
                del keys[bisect.bisect_left(keys, int(gone))]
                self._accounts[removed.account_id].statuses -= 1
            self._notifications = [n for n in self._notifications if n.status_id not in doomed]
            for subscriber in self._subscribers:
                subscriber.events.put(("delete", status_id))
            copies = list(status.copies)
        for other, copy_id in copies:
            with contextlib.suppress(KeyError):  # already gone there
                other.delete(copy_id)

    def federate(self, status_id: str, other: FakeMastodon) -> str:
        """Copy a status into ``other`` as a remote status: same URI and URL, a new local id.

        The author becomes a remote account there (``user@<this host>`` for local authors).
        Later edits and deletions here reach the copy. Returns the copy's id in ``other``.
        """
        with self._lock:
            status = self._status(status_id)
            if status.reblog_of_id is not None:
                raise ValueError(f"status {status_id!r} is a boost; federate the original")
            body = self._status_json(status, viewer=None)
            author = self._accounts[status.account_id]
            domain = author.domain or self.host
            parents = {
                copy_id
                for parent in [self._statuses.get(status.in_reply_to_id or "")]
                if parent is not None
                for target, copy_id in parent.copies
                if target is other
            }
        with other._lock:
            account_id = other._by_acct.get(f"{author.username}@{domain}".lower())
            if account_id is None:
                other.add_account(
                    author.username,
                    display_name=author.display_name,
                    followers=author.followers,
                    note=author.note,
                    remote_domain=domain,
                    indexable=author.indexable,
                    fields=author.fields,
                )
                account_id = other._by_acct[f"{author.username}@{domain}".lower()]
                remote = other._accounts[account_id]
                remote.url, remote.uri = body["account"]["url"], body["account"]["uri"]
            parent = other._statuses.get(next(iter(parents))) if parents else None
            copy = _Status(
                id=other._next_id(),
                account_id=account_id,
                content=status.content,
                created_at=status.created_at,
                visibility=status.visibility,
                language=status.language,
                in_reply_to_id=parent.id if parent else None,
                in_reply_to_account_id=parent.account_id if parent else None,
                tags=list(status.tags),
                favourites=status.favourites,
                reblogs=status.reblogs,
                edited_at=status.edited_at,
                media=list(status.media),
                poll=list(status.poll),
                uri=body["uri"],
                url=body["url"],
            )
            other._store(copy)
            other._accounts[account_id].statuses += 1
            other._publish_update(copy)
        with self._lock:
            status.copies.append((other, copy.id))
        return copy.id

    # -- internals: data ---------------------------------------------------------------

    def _apply_edit(self, status: _Status, content: str, tags: list[str], when: datetime) -> None:
        status.content, status.tags, status.edited_at = content, tags, when
        self._publish_update(status, event="status.update")

    def _store(self, status: _Status) -> None:
        self._statuses[status.id] = status
        bisect.insort(self._status_keys, int(status.id))

    def _publish_update(self, status: _Status, *, event: str = "update") -> None:
        """Send a new or edited public status to the hashtag streams that match it."""
        if status.reblog_of_id is not None or status.visibility != "public":
            return
        is_local = self._accounts[status.account_id].domain is None
        for subscriber in self._subscribers:
            if subscriber.stream != "hashtag" or subscriber.tag not in status.tags:
                continue
            if subscriber.local and not is_local:
                continue
            body = self._status_json(status, viewer=subscriber.viewer)
            subscriber.events.put((event, _json_text(body)))

    def _next_id(self) -> str:
        """A snowflake-like id: milliseconds << 16 | sequence, strictly increasing."""
        self._seq = (self._seq + 1) & 0xFFFF
        candidate = (int(time.time() * 1000) << 16) | self._seq
        self._last_id = max(candidate, self._last_id + 1)
        self._issued.add(str(self._last_id))
        return str(self._last_id)

    def _account(self, acct: str) -> _Account:
        account_id = self._by_acct.get(acct.lstrip("@").lower())
        if account_id is None:
            raise KeyError(f"no account {acct!r}; add it with add_account()")
        return self._accounts[account_id]

    def _local_acct(self, acct: str) -> str:
        """An acct as this server keys it: lower case, its own domain dropped."""
        acct = acct.lstrip("@").lower()
        suffix = f"@{self.host}".lower()
        return acct[: -len(suffix)] if acct.endswith(suffix) else acct

    def _visible_to(self, status: _Status, viewer: str | None) -> bool:
        """Whether ``viewer`` (an account id; None: anonymous) may read ``status``: a direct
        one only its author and the accounts it mentions."""
        if status.visibility != "direct":
            return True
        return viewer is not None and (viewer == status.account_id or viewer in status.mentions)

    def _status(self, status_id: str) -> _Status:
        try:
            return self._statuses[status_id]
        except KeyError:
            raise KeyError(f"no status {status_id!r}") from None

    def _owner_id(self) -> str:
        return self._by_acct[self.owner.lower()]

    def _notify(
        self, kind: str, actor: _Account, recipient: _Account, status: _Status | None
    ) -> str:
        notification = _Notification(
            id=str(len(self._notifications) + 1),
            type=kind,
            created_at=datetime.now(UTC),
            account_id=actor.id,
            recipient_id=recipient.id,
            status_id=status.id if status else None,
        )
        self._notifications.append(notification)
        self._issued.add(notification.id)
        for subscriber in self._subscribers:
            if subscriber.stream == "user" and subscriber.viewer == recipient.id:
                body = self._notification_json(notification, viewer=recipient.id)
                subscriber.events.put(("notification", _json_text(body)))
        return notification.id

    def _format(self, text: str) -> tuple[str, list[str], list[_Account]]:
        """Text to Mastodon's HTML: paragraphs, line breaks, linked hashtags/mentions/URLs."""
        tags: list[str] = []
        mentioned: list[_Account] = []

        def render(chunk: str) -> str:
            out: list[str] = []
            pos = 0
            for match in _TOKEN.finditer(chunk):
                out.append(_escape(chunk[pos : match.start()]))
                pos = match.end()
                if match.group("url"):
                    out.append(_link_html(match.group("url")))
                elif match.group("tag"):
                    name = match.group("tag")
                    if name.lower() not in tags:
                        tags.append(name.lower())
                    out.append(
                        f'<a href="{self.url}/tags/{_escape(name.lower())}" '
                        f'class="mention hashtag" rel="tag">#<span>{_escape(name)}</span></a>'
                    )
                else:
                    account_id = self._by_acct.get(self._local_acct(match.group("mention")))
                    if account_id is None:
                        out.append(_escape(match.group(0)))
                        continue
                    account = self._accounts[account_id]
                    if account not in mentioned:
                        mentioned.append(account)
                    out.append(
                        f'<span class="h-card" translate="no"><a href="'
                        f'{_escape(self._account_url(account))}" class="u-url mention">'
                        f"@<span>{_escape(account.username)}</span></a></span>"
                    )
            out.append(_escape(chunk[pos:]))
            return "".join(out)

        paragraphs = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n\n")]
        body = "".join(
            "<p>" + "<br />".join(render(line) for line in p.split("\n")) + "</p>"
            for p in paragraphs
            if p.strip()
        )
        return body, tags, mentioned

    # -- internals: JSON ---------------------------------------------------------------

    def _account_url(self, account: _Account) -> str:
        if account.url:
            return account.url
        if account.domain:
            return f"https://{account.domain}/@{account.username}"
        return f"{self.url}/@{account.username}"

    def _account_uri(self, account: _Account) -> str:
        if account.uri:
            return account.uri
        if account.domain:
            return f"https://{account.domain}/users/{account.username}"
        return f"{self.url}/ap/users/{account.id}"

    def _account_json(self, account: _Account) -> JSON:
        avatar = f"{self.url}/avatars/original/missing.png"
        header = f"{self.url}/headers/original/missing.png"
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.acct,
            "display_name": account.display_name,
            "locked": False,
            "bot": account.bot,
            "discoverable": True,
            "indexable": account.indexable,
            "group": False,
            "created_at": _iso(account.created_at),
            "note": f"<p>{_escape(account.note)}</p>" if account.note else "",
            "url": self._account_url(account),
            "uri": self._account_uri(account),
            "avatar": avatar,
            "avatar_static": avatar,
            "avatar_description": "",
            "header": header,
            "header_static": header,
            "header_description": "",
            "followers_count": account.followers,
            "following_count": 0,
            "statuses_count": account.statuses,
            "last_status_at": (
                account.last_status_at.date().isoformat() if account.last_status_at else None
            ),
            "hide_collections": None,
            "show_media": True,
            "show_media_replies": True,
            "show_featured": True,
            "noindex": False,
            "feature_approval": {"automatic": [], "manual": [], "current_user": "denied"},
            "emojis": [],
            "roles": [],
            "fields": [
                {
                    "name": name,
                    "value": _field_html(value),
                    "verified_at": _iso(account.created_at) if verified else None,
                }
                for name, value, verified in account.fields
            ],
        }

    def _status_json(self, status: _Status, *, viewer: str | None) -> JSON:
        """A status as ``viewer`` (an account id, None: anonymous) gets it from the API."""
        account = self._accounts[status.account_id]
        uri: str = status.uri or f"{self._account_uri(account)}/statuses/{status.id}"
        url: str | None = status.url or f"{self._account_url(account)}/{status.id}"
        reblog = None
        if status.reblog_of_id is not None:
            reblog = self._status_json(self._statuses[status.reblog_of_id], viewer=viewer)
            uri = f"{self._account_uri(account)}/statuses/{status.id}/activity"
            url = None
        body: JSON = {
            "id": status.id,
            "created_at": _iso(status.created_at),
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": status.visibility,
            "language": status.language,
            "uri": uri,
            "url": url,
            "replies_count": status.replies,
            "reblogs_count": status.reblogs,
            "favourites_count": status.favourites,
            "quotes_count": 0,
            "edited_at": _iso(status.edited_at) if status.edited_at else None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
        }
        # Real Mastodon adds "pinned" only on the viewer's own pinnable statuses.
        if (
            viewer == status.account_id
            and reblog is None
            and status.visibility in {"public", "unlisted", "private"}
        ):
            body["pinned"] = False
        body.update(
            {
                "content": status.content,
                "filtered": [],
                "reblog": reblog,
                "application": (
                    None if account.domain else {"name": "social-crm fake", "website": None}
                ),
                "account": self._account_json(account),
                "media_attachments": [
                    {
                        "id": f"{status.id}{n}",
                        "type": kind,
                        "url": f"{self.url}/system/media/{status.id}/{n}.png",
                        "preview_url": f"{self.url}/system/media/{status.id}/{n}_small.png",
                        "remote_url": None,
                        "description": description or None,
                        "blurhash": None,
                        "meta": {},
                    }
                    for n, (kind, description) in enumerate(status.media)
                ],
                "mentions": [
                    {
                        "id": m.id,
                        "username": m.username,
                        "url": self._account_url(m),
                        "acct": m.acct,
                    }
                    for m in (self._accounts[i] for i in status.mentions)
                ],
                "tags": [{"name": t, "url": f"{self.url}/tags/{t}"} for t in status.tags],
                "emojis": [],
                "tagged_collections": [],
                "quote": self._quote_json(status, viewer=viewer),
                "card": None,
                "poll": self._poll_json(status),
                "quote_approval": {
                    "automatic": ["public"],
                    "manual": [],
                    "current_user": "automatic",
                },
            }
        )
        return body

    def _quote_json(self, status: _Status, *, viewer: str | None) -> JSON | None:
        """Mastodon 4.4+'s ``quote``: its state and the quoted status (None: no quote)."""
        if status.quote_of_id is None:
            return None
        quoted = self._statuses.get(status.quote_of_id)
        if quoted is None:
            return {"state": "deleted", "quoted_status": None}
        return {"state": "accepted", "quoted_status": self._status_json(quoted, viewer=viewer)}

    def _poll_json(self, status: _Status) -> JSON | None:
        if not status.poll:
            return None
        return {
            "id": status.id,
            "expires_at": None,
            "expired": False,
            "multiple": False,
            "votes_count": 0,
            "voters_count": 0,
            "options": [{"title": title, "votes_count": 0} for title in status.poll],
            "emojis": [],
            "voted": False,
            "own_votes": [],
        }

    def _notification_json(self, notification: _Notification, *, viewer: str | None) -> JSON:
        status = (
            self._status_json(self._statuses[notification.status_id], viewer=viewer)
            if notification.status_id
            else None
        )
        body: JSON = {
            "id": notification.id,
            "type": notification.type,
            "created_at": _iso(notification.created_at),
            "group_key": f"ungrouped-{notification.id}",
            "account": self._account_json(self._accounts[notification.account_id]),
        }
        if status is not None:
            body["status"] = status
        return body

    def _instance_v1(self) -> JSON:
        return {
            "uri": self.host,
            "title": "Fake Mastodon",
            "short_description": "",
            "description": "",
            "email": "",
            "version": VERSION,
            "urls": {"streaming_api": self.streaming_url or f"ws://{self.host}"},
            "stats": {
                "user_count": sum(1 for a in self._accounts.values() if a.domain is None),
                "status_count": len(self._statuses),
                "domain_count": len({a.domain for a in self._accounts.values() if a.domain}),
            },
            "thumbnail": f"{self.url}/packs/images/preview.png",
            "languages": ["en"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": {
                "accounts": {"max_featured_tags": 10},
                "statuses": {
                    "max_characters": MAX_CHARACTERS,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23,
                },
                "media_attachments": {"supported_mime_types": ["image/jpeg", "image/png"]},
                "polls": {
                    "max_options": 4,
                    "max_characters_per_option": 50,
                    "min_expiration": 300,
                    "max_expiration": 2629746,
                },
            },
            "contact_account": None,
            "rules": [],
        }

    def _instance_v2(self) -> JSON:
        public = {"local": "public", "remote": "public"}
        return {
            "domain": self.host,
            "title": "Fake Mastodon",
            "version": VERSION,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "",
            "usage": {"users": {"active_month": 0}},
            "thumbnail": {"url": f"{self.url}/packs/images/preview.png"},
            "icon": [],
            "languages": ["en"],
            "configuration": {
                "urls": {"streaming": self.streaming_url or f"ws://{self.host}", "status": None},
                "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                "statuses": {
                    "max_characters": MAX_CHARACTERS,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23,
                },
                "translation": {"enabled": False},
                "timelines_access": {
                    "live_feeds": public,
                    "hashtag_feeds": public,
                    "trending_link_feeds": public,
                },
                "limited_federation": False,
            },
            "registrations": {
                "enabled": False,
                "approval_required": False,
                "reason_required": False,
                "message": None,
                "min_age": None,
                "url": None,
            },
            "api_versions": {"mastodon": 11},
            "contact": {"email": "", "account": None},
            "rules": [],
        }

    # -- internals: HTTP ---------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        streaming = request.path.startswith(STREAMING_PREFIX)
        with self._lock:
            self._requests.append(
                RecordedRequest(request.method, request.path, request.args.to_dict(flat=False))
            )
            fault = None if streaming else self._take_fault(request.path, request.method)
            posts_before = len(self._posted)
            # The budget is charged on arrival, so a slow answer cannot charge a later test.
            charged = not streaming and (fault is None or fault.kind != "status")
            over = charged and self._over_ratelimit()
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)  # outside the lock: other requests go on meanwhile
        with self._lock:
            if streaming:
                response = self._dispatch(request)
            elif fault is not None and fault.kind == "status":
                response = self._fault_response(fault)
            else:
                if over:
                    response = _json_response({"error": "Too many requests"}, 429)
                else:
                    response = self._dispatch(request)
                self._add_ratelimit_headers(response)
                if fault is not None and fault.kind == "json":
                    body = response.get_data()
                    response.set_data(body[: max(1, len(body) // 2)])
            posted = request.method == "POST" and request.path == STATUSES_PATH
            drop = posted and response.status_code == 200 and self._drops > 0
            if drop:
                self._drops -= 1
            made = len(self._posted) > posts_before
            hold = self._holds.pop(0) if made and self._holds else None
        if hold is not None:
            hold.hold()  # outside the lock: the fake answers everything else meanwhile
        if drop:
            drop_connection(environ)  # the answer below then meets a closed connection
        return response(environ, start_response)

    def _take_fault(self, path: str, method: str) -> _Fault | None:
        """The fault to serve for this request, if any: scripted ones first, then random."""
        for fault in self._faults:
            if (fault.path is None or path.startswith(fault.path)) and (
                fault.method is None or fault.method == method
            ):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                break
        else:
            if not self._fault_rate or self._random.random() >= self._fault_rate:
                return None
            kind = self._random.choice(self._fault_kinds)
            fault = _Fault(
                "status" if kind in {"429", "500"} else kind,
                1,
                None,
                status=int(kind) if kind.isdigit() else 500,
                seconds=self._fault_slow_seconds,
                reset_in=self._fault_reset_in,
            )
        label = str(fault.status) if fault.kind == "status" else fault.kind
        self._injected.append(InjectedFault(path, label))
        return fault

    def _fault_response(self, fault: _Fault) -> Response:
        """A scripted error answer; a 429 says the (untouched) budget resets soon."""
        if fault.status == 429 and fault.reset_in is None:
            response = Response(
                "<html><body><h1>429 Too Many Requests</h1></body></html>",
                status=429,
                content_type="text/html; charset=utf-8",
            )
            response.headers["Retry-After"] = "1"
            return response
        if fault.status == 429:
            response = _json_response({"error": "Too many requests"}, 429)
            reset = datetime.fromtimestamp(time.time() + fault.reset_in, UTC)
            response.headers["x-ratelimit-limit"] = str(self.rate_limit)
            response.headers["x-ratelimit-remaining"] = "0"
            response.headers["x-ratelimit-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            return response
        if fault.status >= 500:
            return Response(
                "<html><body><h1>We're sorry, but something went wrong.</h1></body></html>",
                status=fault.status,
                content_type="text/html; charset=utf-8",
            )
        return _json_response({"error": f"HTTP {fault.status}"}, fault.status)

    def _dispatch(self, request: Request) -> Response:
        try:
            endpoint, values = self._map.bind_to_environ(request.environ).match()
        except NotFound:
            return _json_response({"error": "Record not found"}, 404)
        except HTTPException as exc:  # e.g. 405 for a POST to a GET route
            return _json_response({"error": exc.name}, exc.code or 500)
        posting = request.method == "POST" and endpoint == "statuses"
        if request.method not in {"GET", "HEAD"} and not posting:
            return _json_response({"error": "Record not found"}, 404)
        if endpoint == "statuses" and not posting:
            return _json_response({"error": "Record not found"}, 404)
        if endpoint.startswith("stream_") and not self.streaming_enabled:
            return _json_response({"error": "Not Found"}, 404)
        if endpoint == "search" and not self.search_enabled:
            return _json_response({"error": "Record not found"}, 404)
        viewer, failure = self._authenticate(request, required=endpoint in _NEEDS_TOKEN)
        if failure is not None:
            return failure
        if posting:
            return self._post_status(request, viewer=viewer)
        handler: Callable[..., Response] = getattr(self, f"_get_{endpoint}")
        return handler(request, viewer=viewer, **values)

    def _authenticate(
        self, request: Request, *, required: bool
    ) -> tuple[str | None, Response | None]:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            if required:
                return None, _json_response({"error": "The access token is invalid"}, 401)
            return None, None
        if scheme.lower() != "bearer" or token.strip() != self.access_token or self._revoked:
            return None, _json_response({"error": "The access token is invalid"}, 401)
        return self._owner_id(), None

    def _over_ratelimit(self) -> bool:
        now = time.time()
        if now >= self._window_end:
            self._window_end = (now // RATELIMIT_PERIOD_SECONDS + 1) * RATELIMIT_PERIOD_SECONDS
            self._used = 0
        if self._used >= self.rate_limit:
            return True
        self._used += 1
        return False

    def _add_ratelimit_headers(self, response: Response) -> None:
        reset = datetime.fromtimestamp(self._window_end, UTC)
        response.headers["x-ratelimit-limit"] = str(self.rate_limit)
        response.headers["x-ratelimit-remaining"] = str(max(0, self.rate_limit - self._used))
        response.headers["x-ratelimit-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _get_tag_timeline(self, request: Request, *, viewer: str | None, tag: str) -> Response:
        local = _flag(request.args.get("local"))
        remote = _flag(request.args.get("remote"))
        lowered = tag.lower()

        def listed(status: _Status) -> bool:
            if status.reblog_of_id is not None or status.visibility != "public":
                return False
            if lowered not in status.tags:
                return False
            is_local = self._accounts[status.account_id].domain is None
            return not ((local and not is_local) or (remote and is_local))

        items = [(status.id, status) for status in self._newer_than(request, listed)]
        items.reverse()
        page = _paginate(items, request, issued=self._issued)
        permitted = {k: request.args.getlist(k) for k in ("limit", "local", "remote", "only_media")}
        return _paged_response(
            request,
            [self._status_json(s, viewer=viewer) for s in page],
            [s.id for s in page],
            permitted,
            links=self.link_headers,
        )

    def _newer_than(self, request: Request, listed: Callable[[_Status], bool]) -> list[_Status]:
        """The ``listed`` statuses newer than the request's ``min_id`` or ``since_id`` (all
        of them without either), newest first: a poll for what is new costs what is new, not
        everything the server holds. A ``min_id`` page (without ``max_id``) holds the oldest
        of the newer ones, so only those are read: paging through a backlog costs a page
        per request, as with a real server's index."""
        args = request.args
        min_id = _int(args.get("min_id"), None)
        keys = self._status_keys
        if min_id is not None and not args.get("max_id"):
            limit, found = _limit(args.get("limit")), []
            for at in range(bisect.bisect_right(keys, min_id), len(keys)):
                if len(found) >= limit:
                    break
                status = self._statuses[str(keys[at])]
                if listed(status):
                    found.append(status)
            return found[::-1]
        floor = min_id if min_id is not None else _int(args.get("since_id"), None)
        start = 0 if floor is None else bisect.bisect_right(keys, floor)
        newer = (self._statuses[str(key)] for key in reversed(keys[start:]))
        return [status for status in newer if listed(status)]

    def _get_notifications(self, request: Request, *, viewer: str | None) -> Response:
        types = set(request.args.getlist("types[]")) or None
        if self.ignore_types_filter:
            types = None  # as servers that do not implement the filter
        exclude = set(request.args.getlist("exclude_types[]"))
        from_account = request.args.get("account_id")
        items = [
            (n.id, n)
            for n in self._notifications
            if n.recipient_id == viewer
            and (types is None or n.type in types)
            and n.type not in exclude
            and (from_account is None or n.account_id == from_account)
        ]
        page = _paginate(items, request, issued=self._issued)
        permitted = {
            k: request.args.getlist(k)
            for k in ("limit", "types[]", "exclude_types[]", "account_id")
        }
        return _paged_response(
            request,
            [self._notification_json(n, viewer=viewer) for n in page],
            [n.id for n in page],
            permitted,
            links=self.link_headers,
        )

    def _get_notification(self, request: Request, *, viewer: str | None, id: str) -> Response:
        for notification in self._notifications:
            if notification.id == id and notification.recipient_id == viewer:
                return _json_response(self._notification_json(notification, viewer=viewer))
        return _json_response({"error": "Record not found"}, 404)

    def _get_status(self, request: Request, *, viewer: str | None, id: str) -> Response:
        status = self._statuses.get(id)
        if status is None or not self._visible_to(status, viewer):
            return _json_response({"error": "Record not found"}, 404)
        return _json_response(self._status_json(status, viewer=viewer))

    def _get_status_context(self, request: Request, *, viewer: str | None, id: str) -> Response:
        """The statuses a status replies to, oldest first, up to one that is not visible, and
        the visible replies to it and to them, in id order."""
        status = self._statuses.get(id)
        if status is None or not self._visible_to(status, viewer):
            return _json_response({"error": "Record not found"}, 404)
        ancestors: list[_Status] = []
        parent = self._statuses.get(status.in_reply_to_id or "")
        while parent is not None and self._visible_to(parent, viewer):
            ancestors.insert(0, parent)
            parent = self._statuses.get(parent.in_reply_to_id or "")
        thread = {id}
        descendants = []
        for candidate in self._statuses.values():  # id order: a reply comes after its parent
            if candidate.in_reply_to_id in thread and self._visible_to(candidate, viewer):
                thread.add(candidate.id)
                descendants.append(candidate)
        return _json_response(
            {
                "ancestors": [self._status_json(s, viewer=viewer) for s in ancestors],
                "descendants": [self._status_json(s, viewer=viewer) for s in descendants],
            }
        )

    def _post_status(self, request: Request, *, viewer: str | None) -> Response:
        """``POST /api/v1/statuses`` as the token's owner; a known Idempotency-Key answers
        the status it posted before (until the key expires) and posts nothing."""
        params = request.get_json(silent=True) if request.is_json else request.form
        params = params if isinstance(params, dict) else request.form.to_dict()
        owner = self._accounts[viewer or self._owner_id()]
        key = request.headers.get("Idempotency-Key")
        now = time.monotonic()
        if key:
            known = self._idempotency.get((owner.id, key))
            if known is not None and known[1] > now and known[0] in self._statuses:
                return _json_response(self._status_json(self._statuses[known[0]], viewer=owner.id))
        text = str(params.get("status") or "")
        visibility = str(params.get("visibility") or "public")
        failure = _status_failure(text, visibility)
        if failure is not None:
            return _json_response({"error": failure}, 422)
        parent_id = params.get("in_reply_to_id") or None
        if parent_id is not None:
            parent = self._statuses.get(str(parent_id))
            if parent is None or parent.reblog_of_id or not self._visible_to(parent, owner.id):
                return _json_response({"error": REPLY_NOT_FOUND}, 404)
        status_id = self.post(
            owner.username,
            text,
            in_reply_to=str(parent_id) if parent_id is not None else None,
            visibility=visibility,
            language=str(params.get("language") or "en"),
        )
        self._posted.append(status_id)
        if key:
            self._idempotency[(owner.id, key)] = (status_id, now + self.idempotency_seconds)
        return _json_response(self._status_json(self._statuses[status_id], viewer=owner.id))

    def _get_verify_credentials(self, request: Request, *, viewer: str | None) -> Response:
        account = self._accounts[self._owner_id()]
        body = self._account_json(account)
        body["source"] = {
            "privacy": "public",
            "sensitive": False,
            "language": "en",
            "note": account.note,
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": None,
            "discoverable": True,
            "indexable": True,
            "attribution_domains": [],
            "quote_policy": "public",
        }
        body["role"] = {
            "id": "-99",
            "name": "",
            "permissions": "65536",
            "color": "",
            "highlighted": False,
        }
        return _json_response(body)

    def _get_instance_v1(self, request: Request, *, viewer: str | None) -> Response:
        return _json_response(self._instance_v1())

    def _get_instance_v2(self, request: Request, *, viewer: str | None) -> Response:
        return _json_response(self._instance_v2())

    def _get_account_lookup(self, request: Request, *, viewer: str | None) -> Response:
        acct = request.args.get("acct", "").strip().lstrip("@").lower()
        local_suffix = f"@{self.host}".lower()
        if acct.endswith(local_suffix):
            acct = acct[: -len(local_suffix)]
        account_id = self._by_acct.get(acct)
        if account_id is None:
            return _json_response({"error": "Record not found"}, 404)
        return _json_response(self._account_json(self._accounts[account_id]))

    def _get_account(self, request: Request, *, viewer: str | None, id: str) -> Response:
        account = self._accounts.get(id)
        if account is None:
            return _json_response({"error": "Record not found"}, 404)
        return _json_response(self._account_json(account))

    def _get_account_statuses(self, request: Request, *, viewer: str | None, id: str) -> Response:
        if id not in self._accounts:
            return _json_response({"error": "Record not found"}, 404)
        exclude_replies = _flag(request.args.get("exclude_replies"))
        exclude_reblogs = _flag(request.args.get("exclude_reblogs"))
        tagged = (request.args.get("tagged") or "").lstrip("#").lower()
        nothing = _flag(request.args.get("only_media")) or _flag(request.args.get("pinned"))
        items = []
        for status in self._statuses.values():
            if nothing or status.account_id != id:
                continue
            if status.visibility not in {"public", "unlisted"}:
                continue
            if exclude_replies and status.in_reply_to_id is not None:
                continue
            if exclude_reblogs and status.reblog_of_id is not None:
                continue
            if tagged and tagged not in status.tags:
                continue
            items.append((status.id, status))
        page = _paginate(items, request, issued=self._issued)
        permitted = {
            k: request.args.getlist(k)
            for k in ("limit", "exclude_replies", "exclude_reblogs", "only_media", "tagged")
        }
        return _paged_response(
            request,
            [self._status_json(s, viewer=viewer) for s in page],
            [s.id for s in page],
            permitted,
            links=self.link_headers,
        )

    def _get_search(self, request: Request, *, viewer: str | None) -> Response:
        """Mastodon's v2 search: a URL finds that status; words find statuses of indexable
        authors containing them all, newest first (``min_id``/``max_id``/``offset``/``limit``)."""
        q = request.args.get("q", "").strip()
        kind = request.args.get("type")
        offset = _int(request.args.get("offset"), 0)
        if viewer is None and (offset or _flag(request.args.get("resolve"))):
            return _json_response(
                {"error": "Search queries pagination is not supported without authentication"},
                401,
            )
        limit = _limit(request.args.get("limit"))
        min_id = _int(request.args.get("min_id"), None)
        max_id = _int(request.args.get("max_id"), None)
        statuses: list[_Status] = []
        accounts: list[_Account] = []
        if kind in (None, "statuses") and q:
            if re.match(r"^https?://", q):
                for status in self._statuses.values():
                    if not self._visible_to(status, viewer):
                        continue
                    body = self._status_json(status, viewer=None)
                    if status.reblog_of_id is None and q in {body["uri"], body["url"]}:
                        statuses = [status]
                        break
            else:
                words = q.lower().split()
                for status in reversed(self._statuses.values()):
                    if status.reblog_of_id is not None or status.visibility != "public":
                        continue
                    if not self._accounts[status.account_id].indexable:
                        continue
                    if min_id is not None and int(status.id) <= min_id:
                        continue
                    if max_id is not None and int(status.id) >= max_id:
                        continue
                    text = html.unescape(re.sub(r"<[^>]+>", " ", status.content)).lower()
                    if all(word in text for word in words):
                        statuses.append(status)
                statuses = statuses[offset : offset + limit]
        if kind in (None, "accounts") and q:
            needle = q.lstrip("@").lower()
            accounts = [a for a in self._accounts.values() if needle in a.acct.lower()]
            accounts = accounts[offset : offset + limit]
        return _json_response(
            {
                "accounts": [self._account_json(a) for a in accounts],
                "statuses": [self._status_json(s, viewer=viewer) for s in statuses],
                "hashtags": [],
                "collections": [],
            }
        )

    # -- internals: streaming ----------------------------------------------------------

    def _get_stream_health(self, request: Request, *, viewer: str | None) -> Response:
        return Response("OK", content_type="text/plain; charset=utf-8")

    def _get_stream_hashtag(self, request: Request, *, viewer: str | None) -> Response:
        return self._open_stream(request, "hashtag", viewer)

    def _get_stream_hashtag_local(self, request: Request, *, viewer: str | None) -> Response:
        return self._open_stream(request, "hashtag", viewer, local=True)

    def _get_stream_user(self, request: Request, *, viewer: str | None) -> Response:
        return self._open_stream(request, "user", viewer)

    def _get_stream_notifications(self, request: Request, *, viewer: str | None) -> Response:
        return self._open_stream(request, "user", viewer, notifications_only=True)

    def _open_stream(
        self,
        request: Request,
        stream: str,
        viewer: str | None,
        *,
        local: bool = False,
        notifications_only: bool = False,
    ) -> Response:
        """A server-sent-events answer that stays open: heartbeats, then events as they come."""
        tag = (request.args.get("tag") or "").lstrip("#").lower()
        if stream == "hashtag" and not tag:
            return _json_response({"error": "Missing tag name parameter"}, 400)
        subscriber = _Subscriber(
            stream, viewer, tag=tag, local=local, notifications_only=notifications_only
        )
        self._subscribers.append(subscriber)  # under the lock: no event is missed from now on
        response = Response(
            self._stream_events(subscriber),
            content_type="text/event-stream",
            direct_passthrough=True,
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response

    def _stream_events(self, subscriber: _Subscriber) -> Iterator[bytes]:
        """The bytes of one stream: ``:)`` first, ``:thump`` heartbeats, ``event:/data:`` pairs."""
        try:
            yield b":)\n"
            while not self._closing.is_set():
                try:
                    event = subscriber.events.get(timeout=self.heartbeat_seconds)
                except queue.Empty:
                    yield b":thump\n"
                    continue
                if event is None:
                    return
                name, payload = event
                yield f"event: {name}\ndata: {payload}\n\n".encode()
        finally:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)


_NEEDS_TOKEN = frozenset(
    {
        "statuses",
        "notifications",
        "notification",
        "verify_credentials",
        "stream_user",
        "stream_notifications",
    }
)


def _status_failure(text: str, visibility: str) -> str | None:
    """Mastodon's validation error for a new status's text and visibility, if any."""
    if visibility not in VISIBILITIES:
        return "Validation failed: Visibility is not included in the list"
    if not text.strip():
        return "Validation failed: Text can't be blank"
    if len(text) > MAX_CHARACTERS:
        return f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded"
    return None


def _paginate(items: list[tuple[str, Any]], request: Request, *, issued: set[str]) -> list[Any]:
    """Mastodon's id paging over ``items`` (oldest first); the page comes newest first.

    Like servers whose ids are not plain numbers, a ``min_id`` this server never issued
    (``0``, say) answers an empty page.
    """
    if request.args.get("min_id") and request.args["min_id"] not in issued:
        return []

    def bound(name: str) -> int | None:
        value = request.args.get(name, "")
        return int(value) if value.isdigit() else None

    limit = _limit(request.args.get("limit"))
    max_id, since_id, min_id = bound("max_id"), bound("since_id"), bound("min_id")
    keyed = [(int(key), item) for key, item in items]
    if max_id is not None:
        keyed = [(k, i) for k, i in keyed if k < max_id]
    if min_id is not None:
        # The items just after min_id: the oldest of the newer ones, served newest first.
        newer = [i for k, i in keyed if k > min_id]
        return list(reversed(newer[:limit]))
    if since_id is not None:
        keyed = [(k, i) for k, i in keyed if k > since_id]
    return [i for _, i in reversed(keyed[-limit:])] if limit else []


def _int(raw: str | None, default: int | None) -> Any:
    """A non-negative integer query parameter, or ``default`` when absent or not a number."""
    return int(raw) if raw and raw.isdigit() else default


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        return min(abs(int(raw)), MAX_LIMIT)
    except ValueError:
        return DEFAULT_LIMIT


def _paged_response(
    request: Request,
    body: list[JSON],
    ids: list[str],
    permitted: dict[str, list[str]],
    *,
    links: bool = True,
) -> Response:
    """A JSON list with Mastodon's ``Link`` header (next: older, prev: newer) when non-empty."""
    response = _json_response(body)
    if ids and links:
        base = request.base_url

        def link(rel: str, key: str, value: str) -> str:
            params = {k: v for k, v in permitted.items() if v}
            params[key] = [value]
            # Rails sorts query keys alphabetically.
            query = urlencode(sorted(params.items()), doseq=True)
            return f'<{base}?{query}>; rel="{rel}"'

        response.headers["Link"] = (
            f"{link('next', 'max_id', ids[-1])}, {link('prev', 'min_id', ids[0])}"
        )
    return response


def _json_text(body: Any) -> str:
    """Compact JSON; a lone surrogate, which UTF-8 cannot carry, escaped as ``\\udXXX``."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _json_response(body: Any, status: int = 200) -> Response:
    response = Response(
        _json_text(body),
        status=status,
        content_type="application/json; charset=utf-8",
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Vary"] = "Authorization, Origin"
    return response


def _link_html(url: str) -> str:
    """A URL as Mastodon links it: the scheme hidden, the display cut after 30 characters."""
    scheme, sep, rest = url.partition("://")
    prefix = f"{scheme}{sep}"
    display, hidden = rest[:30], rest[30:]
    shown_class = "ellipsis" if hidden else ""
    return (
        f'<a href="{_escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{_escape(prefix)}</span>'
        f'<span class="{shown_class}">{_escape(display)}</span>'
        f'<span class="invisible">{_escape(hidden)}</span></a>'
    )


def _field_html(value: str) -> str:
    """A profile field's value as Mastodon shows it: a URL as a ``rel="me"`` link."""
    if re.fullmatch(r"https?://\S+", value):
        return _link_html(value).replace('rel="nofollow noopener"', 'rel="nofollow noopener me"')
    return _escape(value)


def _escape(text: str) -> str:
    """HTML-escape text the way Rails does (``'`` as ``&#39;``)."""
    return html.escape(text).replace("&#x27;", "&#39;")


def _hashtags(text: str) -> list[str]:
    return [m.group("tag") for m in _TOKEN.finditer(text) if m.group("tag")]


def _mentions(text: str) -> list[str]:
    return [m.group("mention") for m in _TOKEN.finditer(text) if m.group("mention")]


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true"}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """Mastodon's timestamp format: UTC with milliseconds and a Z."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )
