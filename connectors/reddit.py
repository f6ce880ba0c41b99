"""The Reddit connector: each brand's subreddits, keyword search and inbox mentions, with praw.

Sources of a brand (each one request per poll in steady state, more only when over a
page of items arrived since the last poll):

- ``{brand}:r/{a+b+c}:new`` and ``{brand}:r/{a+b+c}:comments``: the watched subreddits'
  new submissions and comments, one multireddit listing each;
- ``{brand}:search``: site-wide search for the brand's keywords (phrases quoted, OR-ed
  into one query while it fits), sorted by new; submissions only;
- ``{brand}:inbox``: ``/message/mentions`` of the account the connector logs in as, for
  the brand whose ``reddit_account`` (``accounts.reddit`` in the configuration) is that
  account (script apps with a password only).

Replies (Replyable) are posted as the account the connector logs in as: a comment under
a submission or comment (``POST /api/comment``), or a private message to the author
(``POST /api/compose``). Before posting, ``inspect`` reads the target's thread
(``/comments/<id>``, newest first) for its state and the account's replies to it, and
``/message/sent`` for messages to its author: Reddit has no idempotency key, so that read
is what finds a reply posted just before a crash.

Paging walks back from the newest item with ``after=`` until it meets an item not newer
than the cursor; a source whose first poll found nothing stores the time it started
listening instead (connectors.listening) and walks back to that time. Reddit ids grow
over time, so "newer" compares the base36 id of the cursor's fullname; unlike
``before=<cursor>`` this keeps working when the cursor item is deleted or removed.
Failures are mapped here, once; the daemon owns retries and backoff, so prawcore's own
retries of 5xx answers and timeouts (with sleeps of up to 6 s) are cut
short by ``_Requestor``, which also keeps the rate-limit budget all sources share.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import praw
import prawcore
import requests
from praw.models import Comment, Message, Submission
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import (
    Author,
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
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TargetUnavailable,
    TransientConnectorError,
)
from connectors.listening import listening_since, started_at

LOGGER = logging.getLogger(__name__)

NETWORK = "reddit"
REDDIT_SITE = "https://www.reddit.com"
DELETED = "[deleted]"
REMOVED = "[removed]"
GONE_TEXTS = frozenset({DELETED, REMOVED})
DEFAULT_RETRY_AFTER = 60.0
MAX_INFO_IDS = 100  # /api/info takes at most 100 fullnames per request
MAX_QUERY_LENGTH = 512  # Reddit's limit on a search query
# Listening starts this long before the empty first poll: Reddit's clock and ours may differ.
LISTEN_GRACE = timedelta(minutes=1)
SERVER_ERROR_STATUSES = frozenset({500, 502, 503, 504, 520, 522})  # what prawcore retries
FULLNAME = re.compile(r"^(t1|t3)_([0-9a-z]+)$")
PLAIN_WORD = re.compile(r"^\w+$")
SEARCH_OPERATORS = frozenset({"or", "and", "not"})
PROFILE_BUDGET_FLOOR = 50.0  # requests left in the window below which profiles wait
PROFILES_PER_FETCH = 20  # new authors whose profile one fetch reads, at most
THREAD_LIMIT = 500  # comments one thread read lists at most (Reddit's own cap)
SENT_LIMIT = 100  # the account's newest private messages that inspect reads
MAX_SUBJECT_LENGTH = 100  # Reddit's limit on a private message's subject
# Reddit's refusals of a reply that name its target's state (TargetState.status).
TARGET_REFUSALS = {
    "THREAD_LOCKED": "locked",
    "TOO_OLD": "archived",
    "DELETED_COMMENT": "deleted",
    "DELETED_LINK": "deleted",
    "NO_THING_ID": "deleted",
    "USER_DOESNT_EXIST": "deleted",
}
TARGET_REASONS = {
    "locked": "the thread is locked",
    "archived": "the thread is archived (too old to reply to)",
    "deleted": "it was deleted (or removed, or its author's account is gone)",
    "removed": "moderators removed it",
}
RATELIMIT_WAIT = re.compile(r"(\d+) (millisecond|second|minute)s?")
# Removal categories that mean the author deleted it; any other one means it was removed.
DELETED_CATEGORIES = frozenset({"deleted", "author"})

# The item fields the conversion below reads (the fake's contract test checks them).
SUBMISSION_FIELDS = (
    "name",
    "title",
    "selftext",
    "author",
    "permalink",
    "created_utc",
    "score",
    "edited",
    "subreddit",
)
COMMENT_FIELDS = (
    "name",
    "body",
    "author",
    "parent_id",
    "created_utc",
    "score",
    "edited",
    "subreddit",
)
_Request = tuple[str, dict[str, str]]  # a listing's path and parameters
MALFORMED = (ValueError, KeyError, TypeError, AttributeError)  # from a response of odd shape


class RedditSettings(BaseModel):
    """The ``reddit`` connector's settings: a script or read-only app's credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    user_agent: str = Field("social-crm/0.1 (by social-crm)", min_length=7)
    username: str | None = None
    password: SecretStr | None = None
    base_url: str | None = Field(None, pattern=r"^https?://")
    timeout_seconds: float = Field(16.0, gt=0)
    page_size: int = Field(100, ge=1, le=100)
    max_pages_per_fetch: int = Field(10, ge=1, le=100)


@dataclass(frozen=True, slots=True)
class _Feed:
    """What one source polls: the listings walked back to its cursor, results merged."""

    requests: tuple[_Request, ...]


@dataclass(slots=True)
class _Budget:
    """The rate-limit window as the last answer's ``x-ratelimit-*`` headers described it."""

    remaining: float | None = None
    reset_at: float = 0.0  # time.monotonic() when the window resets

    def note(self, headers: Mapping[str, str]) -> None:
        """Update from an answer's headers (answers without them change nothing)."""
        if "x-ratelimit-remaining" not in headers:
            return
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            reset = float(headers.get("x-ratelimit-reset", "0"))
        except ValueError:
            return
        self.remaining = remaining
        self.reset_at = time.monotonic() + max(reset, 0.0)

    def wait(self) -> float:
        """Seconds until the window resets when its budget is spent, else 0."""
        if self.remaining is None or self.remaining >= 1:
            return 0.0
        return max(0.0, self.reset_at - time.monotonic())


class _NetworkFailure(prawcore.exceptions.PrawcoreException):
    """A timeout or connection failure, raised past prawcore's retries (the daemon retries)."""

    def __init__(self, original: Exception) -> None:
        super().__init__(f"{type(original).__name__}: {original}")
        self.original_exception = original


class _Requestor(prawcore.Requestor):
    """prawcore's requestor: one timeout, 5xx and timeouts not retried, the budget noted.

    praw builds it from ``requestor_class``/``requestor_kwargs``. Every request of one
    ``praw.Reddit`` goes through it, token requests included, so it sees every answer's
    ``x-ratelimit-*`` headers: the one budget all of a connector's sources share.
    """

    def __init__(self, *, timeout_seconds: float, budget: _Budget, **kwargs: Any) -> None:
        super().__init__(timeout=timeout_seconds, **kwargs)
        self.budget = budget

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Send one request with the configured timeout (prawcore always asks for 16 s)."""
        try:
            response = self._http.request(*args, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise _NetworkFailure(exc) from exc  # not a RequestException: prawcore won't retry
        self.budget.note(response.headers)
        if response.status_code in SERVER_ERROR_STATUSES:
            raise prawcore.exceptions.ServerError(response)  # before prawcore's retry loop
        if response.status_code == 408:
            raise prawcore.exceptions.ResponseException(response)
        return response


class RedditConnector:
    """Polls each brand's subreddits (one multireddit), keyword search and inbox mentions."""

    settings_model: ClassVar[type[BaseModel]] = RedditSettings
    network = NETWORK

    def __init__(self, settings: RedditSettings, *, watches: Sequence[Watch]) -> None:
        """Build the praw client (no request is made until the first fetch)."""
        self._settings = settings
        self._site_url = (settings.base_url or REDDIT_SITE).rstrip("/")
        endpoints: dict[str, str] = {}
        if settings.base_url:
            base = settings.base_url.rstrip("/")
            endpoints = {"oauth_url": base, "reddit_url": base, "short_url": base}
        credentials: dict[str, str] = {}
        if settings.username and settings.password:
            credentials = {
                "username": settings.username,
                "password": settings.password.get_secret_value(),
            }
        self._account = credentials.get("username")  # whom replies are posted as
        self._session = requests.Session()
        self._budget = _Budget()
        self._reddit = praw.Reddit(
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            user_agent=settings.user_agent,
            check_for_updates=False,
            check_for_async=False,
            ratelimit_seconds=0,  # a RATELIMIT refusal is raised, never slept on: the app waits
            requestor_class=_Requestor,
            requestor_kwargs={
                "session": self._session,
                "timeout_seconds": settings.timeout_seconds,
                "budget": self._budget,
            },
            **endpoints,
            **credentials,
        )
        self._feeds: dict[str, _Feed] = {}
        self._sources: list[Source] = []
        # Profiles read this process: lower-cased name -> (karma, profile); None: unreadable.
        self._profiles: dict[str, tuple[int, dict[str, Any]] | None] = {}
        for watch in watches:
            self._add_watch(watch, inbox_user=credentials.get("username"))

    def _add_watch(self, watch: Watch, *, inbox_user: str | None) -> None:
        if watch.subreddits:
            multireddit = "+".join(watch.subreddits)
            for listing in ("new", "comments"):
                path = f"r/{multireddit}/{listing}/"
                self._add(f"{watch.name}:r/{multireddit}:{listing}", watch, ((path, {}),))
        queries = search_queries(watch.keywords)
        if queries:
            requests_ = tuple(("search/", {"q": q, "sort": "new", "type": "link"}) for q in queries)
            self._add(f"{watch.name}:search", watch, requests_)
        account = _account_name(watch.reddit_account)
        if account is None:
            return
        if inbox_user is not None and account.lower() == inbox_user.lower():
            self._add(f"{watch.name}:inbox", watch, (("message/mentions/", {}),))
        elif inbox_user is None:
            LOGGER.info(
                "reddit: mentions of u/%s (%s) are not polled: that needs the account's "
                "username and password (a script app)",
                account,
                watch.name,
            )
        else:
            LOGGER.warning(
                "reddit: mentions of u/%s (%s) are not polled: the connector logs in as u/%s "
                "and can only read that account's inbox",
                account,
                watch.name,
                inbox_user,
            )

    def _add(self, key: str, watch: Watch, requests_: tuple[_Request, ...]) -> None:
        self._feeds[key] = _Feed(requests_)
        self._sources.append(Source(key=key, brand=watch.name, page_size=self._settings.page_size))

    def sources(self) -> Sequence[Source]:
        """Per brand: posts and comments of its subreddits, keyword search, inbox mentions."""
        return list(self._sources)

    def fetch(self, source: Source, cursor: str | None) -> Batch:
        """Everything new in ``source`` since the fullname ``cursor``, oldest first."""
        feed = self._feeds.get(source.key)
        if feed is None:
            raise ConnectorError(f"reddit: unknown source {source.key!r}")
        since = started_at(cursor)
        floor = None if since is not None else _cursor_number(cursor, source.key)
        started = datetime.now(UTC)
        found: dict[str, Any] = {}  # fullname -> praw item
        for path, params in feed.requests:
            self._walk_back(source.key, path, params, floor, since, found)
        items = sorted(found.values(), key=lambda item: _id_number(item.fullname))
        mentions: list[Mention] = []
        skipped: list[Skipped] = []
        for item in items:
            if not isinstance(item, Submission | Comment) or is_gone(item):
                continue
            try:
                mentions.append(self._mention(item, source))
            except MALFORMED as exc:  # one odd item: the rest of the page goes on
                skipped.append(
                    Skipped(
                        native_id=item.fullname,
                        error=f"unreadable {type(item).__name__.lower()}: {exc!r}",
                        excerpt=repr(vars(item))[:2000],
                    )
                )
        if items:
            next_cursor: str | None = items[-1].fullname
        elif cursor is None:
            next_cursor = listening_since(started - LISTEN_GRACE)  # nothing yet: listen from now
        else:
            next_cursor = cursor
        return Batch(
            mentions=self._with_profiles(source.key, mentions), cursor=next_cursor, skipped=skipped
        )

    def _with_profiles(self, what: str, mentions: list[Mention]) -> list[Mention]:
        """The mentions with their authors' profile and karma (as reach), read once per author.

        Profiles wait while the rate-limit budget runs low, and a fetch reads at most
        PROFILES_PER_FETCH of them: the listings come first.
        """
        budget = PROFILES_PER_FETCH
        out: list[Mention] = []
        for mention in mentions:
            name = mention.author.display_name
            key = name.lower()
            if key not in self._profiles and mention.author.handle != DELETED and budget > 0:
                remaining = self._budget.remaining
                if remaining is None or remaining >= PROFILE_BUDGET_FLOOR:
                    budget -= 1
                    self._read_profile(what, name)
            known = self._profiles.get(key)
            if known is not None:
                karma, profile = known
                author = replace(mention.author, followers=karma, profile=profile)
                mention = replace(mention, author=author)
            out.append(mention)
        return out

    def _read_profile(self, what: str, name: str) -> None:
        """Read ``/user/<name>/about`` into the profile cache; a failure never fails a fetch."""
        try:
            about = self._reddit.request(method="GET", path=f"user/{name}/about/")
            data = about["data"]
            karma = int(data.get("link_karma") or 0) + int(data.get("comment_karma") or 0)
            page = data.get("subreddit") or {}
            note = html.unescape(str(page.get("public_description") or ""))
        except (prawcore.exceptions.PrawcoreException, praw.exceptions.PRAWException) as exc:
            if isinstance(exc, prawcore.exceptions.NotFound | prawcore.exceptions.Forbidden):
                self._profiles[name.lower()] = None  # suspended or gone: not asked again
            LOGGER.debug("reddit %s: no profile for u/%s: %s", what, name, exc)
            return
        except MALFORMED as exc:
            self._profiles[name.lower()] = None
            LOGGER.debug("reddit %s: unreadable profile of u/%s: %r", what, name, exc)
            return
        self._profiles[name.lower()] = (karma, {"note": note, "fields": []})

    def refresh(
        self, native_ids: Sequence[str], *, locators: Mapping[str, str] | None = None
    ) -> list[Revision]:
        """The current text of each item (``/api/info``); deleted, removed or vanished: flagged.

        Fullnames are enough to re-read an item: Reddit's mentions carry no locator.
        """
        wanted = [nid for nid in dict.fromkeys(native_ids) if FULLNAME.match(nid)]
        if len(wanted) < len(set(native_ids)):
            LOGGER.debug("reddit refresh: ignoring ids that are not t1/t3 fullnames")
        revisions: list[Revision] = []
        for start in range(0, len(wanted), MAX_INFO_IDS):
            chunk = wanted[start : start + MAX_INFO_IDS]
            listing = self._listing("refresh", "api/info/", {"id": ",".join(chunk)})
            try:
                found = {
                    item.fullname: item
                    for item in listing.children
                    if isinstance(item, Submission | Comment)
                }
                revisions.extend(_revision(nid, found.get(nid)) for nid in chunk)
            except MALFORMED as exc:
                raise _malformed("refresh", "api/info/", exc) from exc
        return revisions

    def close(self) -> None:
        """Close the HTTP session praw uses."""
        self._session.close()

    # -- replies ----------------------------------------------------------------------------

    def reply_account(self) -> str:
        """``u/<username>``: the account the connector logs in as posts the replies."""
        return f"u/{self._poster('reply')}"

    def inspect(self, target: ReplyTarget) -> TargetState:
        """The target's state and the account's replies to it (comments under it, and private
        messages to its author since it was written), oldest first."""
        what = f"inspect {target.native_id}"
        account = self._poster(what).lower()
        kind, item_id = _target_parts(target, what)
        submission_id = item_id if kind == "t3" else _submission_id(target, what)
        params: dict[str, Any] = {"limit": THREAD_LIMIT, "sort": "new", "depth": 1}
        if kind == "t1":
            params.update(comment=item_id, depth=2, context=0)
        thread = self._read(what, f"comments/{submission_id}/", params)
        try:
            item, submission, children = _thread_parts(thread, target.native_id)
            if item is None or submission is None:
                return TargetState(status="deleted")  # gone from its thread, or the thread gone
            status = target_status(item, submission)
            replies = [
                self._posted(child)
                for child in children
                if isinstance(child, Comment)
                and _name(vars(child).get("author")).lower() == account
                and vars(child).get("parent_id") == target.native_id
            ]
            written = _created(item)
        except MALFORMED as exc:
            raise _malformed(what, "comments/", exc) from exc
        author = target.author_handle
        if author and author != DELETED:
            replies += self._messages_to(what, author, since=written)
        # Oldest first; within one second (Reddit's clock), by id: ids grow over time.
        replies.sort(
            key=lambda posted: (
                posted.posted_at or datetime.min.replace(tzinfo=UTC),
                _id_number(posted.native_id),
            )
        )
        return TargetState(status=status, account_replies=tuple(replies))

    def reply(self, outgoing: Outgoing) -> Posted:
        """Post ``outgoing`` once: a comment under its target, or a private message to the
        target's author. Raises TargetUnavailable when Reddit refuses it for its target."""
        target = outgoing.target
        what = f"reply to {target.native_id}"
        self._poster(what)
        kind, item_id = _target_parts(target, what)
        self._check_budget(what)
        if outgoing.private:
            return self._send_message(what, outgoing, kind)
        thing = self._reddit.submission(item_id) if kind == "t3" else self._reddit.comment(item_id)
        comment = self._post(what, lambda: thing.reply(outgoing.text))
        if not isinstance(comment, Comment):
            raise TransientConnectorError(
                f"reddit {what}: Reddit accepted the reply but did not return it; "
                "inspect the thread to find it"
            )
        try:
            return self._posted(comment)
        except MALFORMED as exc:
            raise _malformed(what, "api/comment/", exc) from exc

    def _send_message(self, what: str, outgoing: Outgoing, kind: str) -> Posted:
        """A private message to the target's author, found again in ``/message/sent``."""
        author = outgoing.target.author_handle
        if not author or author == DELETED:
            raise TargetUnavailable(
                f"reddit {what}: the author's account is deleted; no message can reach them",
                reason="deleted",
            )
        about = "post" if kind == "t3" else "comment"
        subject = (outgoing.subject.strip() or f"About your {about}")[:MAX_SUBJECT_LENGTH]
        started = datetime.now(UTC) - LISTEN_GRACE
        self._post(
            what,
            lambda: self._reddit.redditor(author).message(subject=subject, message=outgoing.text),
        )
        sent = self._messages_to(what, author, since=started)
        for message in reversed(sent):  # the newest match is the one just sent
            if message.text == readable(outgoing.text):
                return message
        raise TransientConnectorError(
            f"reddit {what}: the message was sent but is not listed in /message/sent yet; "
            "inspect finds it later"
        )

    def _messages_to(self, what: str, author: str, *, since: datetime) -> list[Posted]:
        """The account's private messages to ``author`` sent since ``since``, oldest first."""
        listing = self._read(what, "message/sent/", {"limit": SENT_LIMIT})
        found: list[Posted] = []
        try:
            for item in listing.children:
                data = vars(item)
                if not isinstance(item, Message) or str(data.get("dest") or "").lower() != (
                    author.lower()
                ):
                    continue
                if _created(item) < since:
                    continue
                found.append(
                    Posted(
                        native_id=item.fullname,
                        url=f"{self._site_url}/message/messages/{item.id}",
                        text=readable(data.get("body")),
                        posted_at=_utc(data["created_utc"]),
                        private=True,
                    )
                )
        except MALFORMED as exc:
            raise _malformed(what, "message/sent/", exc) from exc
        return found[::-1]  # the listing is newest first

    def _posted(self, comment: Comment) -> Posted:
        """A comment of the account as Posted (praw's Comment from a reply or a thread).

        The URL is built the same way from either (a reply's answer has no permalink).
        """
        created = vars(comment).get("created_utc")
        submission_id = _thread_id(comment).split("_", 1)[-1]
        path = f"/r/{comment.subreddit.display_name}/comments/{submission_id}/_/{comment.id}/"
        return Posted(
            native_id=comment.fullname,
            url=self._site_url + path,
            text=readable(vars(comment).get("body")),
            posted_at=_utc(created) if isinstance(created, int | float) else None,
        )

    def _poster(self, what: str) -> str:
        """The username replies are posted as; AuthenticationError when none is configured."""
        if self._account is None:
            raise AuthenticationError(
                f"reddit {what}: replying needs the account's username and password "
                "(a script app) in the reddit connector's settings"
            )
        return self._account

    def _read(self, what: str, path: str, params: dict[str, Any]) -> Any:
        """One GET for inspect, within the budget, failures mapped (a 404: the target is gone)."""
        self._check_budget(what)
        try:
            return self._reddit.get(path, params=params)
        except prawcore.exceptions.NotFound:
            return None
        except (prawcore.exceptions.PrawcoreException, praw.exceptions.PRAWException) as exc:
            raise translate_error(exc, what) from exc
        except MALFORMED as exc:
            raise _malformed(what, path, exc) from exc

    def _post(self, what: str, request: Callable[[], Any]) -> Any:
        """Send one post; Reddit's refusals become TargetUnavailable, RateLimitedError or a
        ConnectorError with Reddit's own words. Never sent twice (see _Requestor)."""
        try:
            return request()
        except praw.exceptions.RedditAPIException as exc:
            raise refusal_error(exc, what) from exc
        except prawcore.exceptions.Forbidden as exc:
            raise ConnectorError(
                f"reddit {what}: Reddit refused the post (HTTP 403): the account may be banned "
                "there, or the thread closed to it"
            ) from exc
        except (prawcore.exceptions.PrawcoreException, praw.exceptions.PRAWException) as exc:
            raise translate_error(exc, what) from exc
        except MALFORMED as exc:
            raise _malformed(what, "its answer", exc) from exc

    # -- requests ---------------------------------------------------------------------------

    def _walk_back(
        self,
        what: str,
        path: str,
        params: dict[str, str],
        floor: int | None,
        since: datetime | None,
        found: dict[str, Any],
    ) -> None:
        """Add one listing's items newer than ``floor`` (or created since ``since``) to
        ``found``, newest page first; with neither, the newest page only (first poll)."""
        after: str | None = None
        fallback: str | None = None  # the item before ``after``, should ``after`` vanish
        pages = self._settings.max_pages_per_fetch
        for _ in range(pages):
            children, next_after = self._page(what, path, params, after)
            if not children and fallback is not None:
                # Reddit answers an anchor deleted since the last page with an empty page:
                # page on from the item before it (an empty answer again means the end).
                LOGGER.debug(
                    "%s: %s after=%s was empty; paging from %s", what, path, after, fallback
                )
                children, next_after = self._page(what, path, params, fallback)
            met_cursor = False
            for item in children:
                if (floor is not None and _id_number(item.fullname) <= floor) or (
                    since is not None and _created(item) < since
                ):
                    met_cursor = True
                    break
                found.setdefault(item.fullname, item)
            first_poll = floor is None and since is None
            if first_poll or met_cursor or not children or next_after is None:
                return  # first poll: the newest page only; else the cursor or the end was met
            after = next_after
            fallback = children[-2].fullname if len(children) > 1 else None
        LOGGER.warning(
            "%s: over %d items (%d pages) arrived since the last poll; older ones were skipped",
            what,
            pages * self._settings.page_size,
            pages,
        )

    def _page(
        self, what: str, path: str, params: dict[str, str], after: str | None
    ) -> tuple[list[Any], str | None]:
        """One listing page, newest first, and the ``after`` of the next one (None: the end)."""
        query: dict[str, str | int] = {**params, "limit": self._settings.page_size}
        if after is not None:
            query["after"] = after
        listing = self._listing(what, path, query)
        children = list(listing.children)
        LOGGER.debug("%s: %s after=%s -> %d items", what, path, after, len(children))
        return children, listing.after

    def _check_budget(self, what: str) -> None:
        """RateLimitedError while the rate-limit window's budget is spent."""
        wait = self._budget.wait()
        if wait > 0:
            raise RateLimitedError(
                f"reddit {what}: request budget spent; the window resets in {wait:.0f} s",
                retry_after=wait,
            )

    def _listing(self, what: str, path: str, params: dict[str, Any]) -> Any:
        """One GET that must answer a Listing, with every failure mapped for ``what``."""
        self._check_budget(what)
        try:
            result = self._reddit.get(path, params=params)
        except (prawcore.exceptions.PrawcoreException, praw.exceptions.PRAWException) as exc:
            if isinstance(exc, prawcore.exceptions.BadJSON):
                LOGGER.warning("reddit %s: malformed JSON from %s; retrying later", what, path)
            raise translate_error(exc, what) from exc
        except MALFORMED as exc:
            raise _malformed(what, path, exc) from exc
        if not isinstance(result, praw.models.Listing):
            LOGGER.warning("reddit %s: %s answered %s, not a Listing", what, path, type(result))
            raise TransientConnectorError(
                f"reddit {what}: expected a Listing from {path}, got {type(result).__name__}"
            )
        return result

    def _mention(self, item: Submission | Comment, source: Source) -> Mention:
        if isinstance(item, Submission):
            return mention_from_submission(
                item, brand=source.brand, source=source.key, site_url=self._site_url
            )
        return mention_from_comment(
            item, brand=source.brand, source=source.key, site_url=self._site_url
        )


def search_queries(keywords: Sequence[str], *, max_length: int = MAX_QUERY_LENGTH) -> list[str]:
    """Reddit search queries for ``keywords``: phrases quoted, OR-ed while they fit."""
    terms: list[str] = []
    seen: set[str] = set()
    for keyword in keywords:
        cleaned = " ".join(keyword.replace('"', " ").split())
        if not cleaned or cleaned.lower() in seen:
            continue
        seen.add(cleaned.lower())
        plain = PLAIN_WORD.match(cleaned) and cleaned.lower() not in SEARCH_OPERATORS
        terms.append(cleaned if plain else f'"{cleaned}"')
    queries: list[str] = []
    for term in terms:
        if queries and len(queries[-1]) + len(" OR ") + len(term) <= max_length:
            queries[-1] += f" OR {term}"
        else:
            queries.append(term)
    return queries


def is_gone(item: Submission | Comment) -> bool:
    """Whether an item was deleted by its author or removed by moderators."""
    data = vars(item)
    if isinstance(item, Submission):
        return data.get("selftext") in GONE_TEXTS or bool(data.get("removed_by_category"))
    return data.get("body") in GONE_TEXTS


def mention_from_submission(
    sub: Submission, *, brand: str, source: str, site_url: str = REDDIT_SITE
) -> Mention:
    """A praw Submission as a Mention of ``brand``."""
    return Mention(
        network=NETWORK,
        native_id=sub.fullname,
        brand=brand,
        source=source,
        url=_absolute(site_url, str(vars(sub).get("permalink") or f"/comments/{sub.id}/")),
        author=_author(vars(sub).get("author"), site_url),
        text=_submission_text(sub),
        created_at=_utc(vars(sub)["created_utc"]),
        kind="post",
        thread_id=sub.fullname,
        parent_id=None,
        reach=_score(sub),
        edited_at=_edited_at(sub),
        community=_subreddit(sub),
    )


def mention_from_comment(
    comment: Comment, *, brand: str, source: str, site_url: str = REDDIT_SITE
) -> Mention:
    """A praw Comment as a Mention of ``brand``."""
    return Mention(
        network=NETWORK,
        native_id=comment.fullname,
        brand=brand,
        source=source,
        url=_absolute(site_url, _comment_permalink(comment)),
        author=_author(vars(comment).get("author"), site_url),
        text=readable(str(vars(comment).get("body") or "")),
        created_at=_utc(vars(comment)["created_utc"]),
        kind="comment",
        thread_id=_thread_id(comment),
        parent_id=vars(comment).get("parent_id") or None,
        reach=_score(comment),
        edited_at=_edited_at(comment),
        community=_subreddit(comment),
    )


def _subreddit(item: Submission | Comment) -> str | None:
    """The name of the item's subreddit (praw holds a lazy Subreddit, a raw answer a str)."""
    subreddit = vars(item).get("subreddit")
    name = getattr(subreddit, "display_name", subreddit)
    return str(name) if isinstance(name, str) and name else None


def _score(item: Submission | Comment) -> int:
    """The item's score; older inbox comments have none (read unguarded, praw would fetch it)."""
    score = vars(item).get("score")
    try:
        return int(score or 0)
    except (TypeError, ValueError):
        return 0


def target_status(item: Submission | Comment, submission: Submission) -> str:
    """Why nothing can be posted under ``item`` of ``submission``'s thread, or "open"."""
    data = vars(item)
    text = data.get("selftext") if isinstance(item, Submission) else data.get("body")
    category = data.get("removed_by_category")
    if text == REMOVED or (category and category not in DELETED_CATEGORIES):
        return "removed"
    if text == DELETED or category in DELETED_CATEGORIES or data.get("author") is None:
        return "deleted"
    thread = vars(submission)
    if data.get("archived") or thread.get("archived"):
        return "archived"
    if data.get("locked") or thread.get("locked"):
        return "locked"
    return "open"


def refusal_error(exc: praw.exceptions.RedditAPIException, what: str) -> ConnectorError:
    """Reddit's ``json.errors`` for a post as one ConnectorError, the target's state named."""
    for item in exc.items:
        message = item.message or ""
        if item.error_type == "RATELIMIT":
            return RateLimitedError(
                f"reddit {what}: Reddit asks to wait before posting again: {message}",
                retry_after=_ratelimit_wait(message),
            )
        reason = TARGET_REFUSALS.get(item.error_type)
        if reason is not None:
            return TargetUnavailable(
                f"reddit {what}: {TARGET_REASONS[reason]} ({item.error_type}: {message}); "
                "nothing was posted",
                reason=reason,
            )
    first = exc.items[0]
    return ConnectorError(f"reddit {what}: Reddit refused it: {first.error_type}: {first.message}")


def _ratelimit_wait(message: str) -> float:
    """Seconds a RATELIMIT message asks to wait ("take a break for 9 minutes"); else a minute."""
    match = RATELIMIT_WAIT.search(message)
    if match is None:
        return DEFAULT_RETRY_AFTER
    amount = int(match.group(1))
    return {"millisecond": 1.0, "second": float(amount), "minute": amount * 60.0}[match.group(2)]


def _target_parts(target: ReplyTarget, what: str) -> tuple[str, str]:
    """("t3" or "t1", base36 id) of a reply's target."""
    match = FULLNAME.match(target.native_id)
    if match is None:
        raise ConnectorError(f"reddit {what}: not a submission or comment fullname")
    return match.group(1), match.group(2)


def _submission_id(target: ReplyTarget, what: str) -> str:
    """The base36 id of a comment target's submission (its thread id)."""
    match = FULLNAME.match(target.thread_id)
    if match is None or match.group(1) != "t3":
        raise ConnectorError(
            f"reddit {what}: thread id {target.thread_id!r} is not a submission fullname"
        )
    return match.group(2)


def _thread_parts(
    thread: Any, fullname: str
) -> tuple[Submission | Comment | None, Submission | None, list[Any]]:
    """(the target, its submission, the target's replies) from a ``/comments/<id>`` answer.

    None for the target when the thread (a 404) or the target is not in the answer.
    """
    if thread is None:
        return None, None, []
    submissions, comments = thread
    submission = next(iter(submissions.children), None)
    if not isinstance(submission, Submission):
        raise TypeError(f"a thread without its submission: {submissions!r}")
    top = list(comments.children)
    if submission.fullname == fullname:
        return submission, submission, top
    item = next((c for c in top if isinstance(c, Comment) and c.fullname == fullname), None)
    replies = list(vars(item).get("_replies") or []) if item is not None else []
    return item, submission, replies


def _name(redditor: Any) -> str:
    """A praw Redditor's name; "" for a deleted author (praw gives None)."""
    return str(getattr(redditor, "name", "") or "")


def _revision(native_id: str, item: Submission | Comment | None) -> Revision:
    """An item's current state; None (no longer returned at all) counts as deleted."""
    if item is None or is_gone(item):
        return Revision(native_id=native_id, text="", deleted=True)
    text = (
        _submission_text(item) if isinstance(item, Submission) else readable(vars(item).get("body"))
    )
    return Revision(native_id=native_id, text=text, edited_at=_edited_at(item))


def _submission_text(sub: Submission) -> str:
    """Title and body as people read them, with what a link, gallery, poll or crosspost shows."""
    data = vars(sub)
    parts = [readable(data.get("title")), readable(data.get("selftext"))]
    crossposted = data.get("crosspost_parent_list")
    if isinstance(crossposted, list) and crossposted and isinstance(crossposted[0], Mapping):
        original = crossposted[0]
        where = original.get("subreddit_name_prefixed") or "another post"
        parts.append(f"Crosspost from {where}: {readable(original.get('title'))}")
        parts.append(readable(original.get("selftext")))
        if original.get("is_self") is False:
            parts.append(str(original.get("url") or ""))
    elif data.get("is_gallery"):
        parts += _gallery_lines(data.get("gallery_data"))
    elif data.get("is_self") is False and data.get("url"):
        parts.append(str(data["url"]))  # a link post: where it points
    parts.append(_poll_line(data.get("poll_data")))
    return "\n\n".join(part.strip() for part in parts if part.strip())


def readable(markdown: Any) -> str:
    """Reddit markdown with its HTML character references decoded, as Reddit renders them.

    ``&#x200B;`` (the zero-width space Reddit's editor puts in empty paragraphs) is
    dropped: it shows nothing.
    """
    if not markdown:
        return ""
    return html.unescape(str(markdown)).replace("\u200b", "")


def _gallery_lines(gallery: Any) -> list[str]:
    """``[gallery of N images]`` and each caption."""
    items = gallery.get("items") if isinstance(gallery, Mapping) else None
    if not isinstance(items, list):
        return ["[gallery]"]
    captions = [readable(item.get("caption")) for item in items if isinstance(item, Mapping)]
    noun = "image" if len(items) == 1 else "images"
    return [f"[gallery of {len(items)} {noun}]", *(f"[image: {c}]" for c in captions if c)]


def _poll_line(poll: Any) -> str:
    """``Poll: a / b / c``; praw hands out a PollData, a raw answer a dict."""
    if poll is None:
        return ""
    options = poll.get("options") if isinstance(poll, Mapping) else getattr(poll, "options", None)
    texts = [
        readable(option.get("text") if isinstance(option, Mapping) else getattr(option, "text", ""))
        for option in options or []
    ]
    texts = [text for text in texts if text]
    return "Poll: " + " / ".join(texts) if texts else ""


def _edited_at(item: Submission | Comment) -> datetime | None:
    """``edited`` is false, or (for years now) the edit's timestamp."""
    edited = vars(item).get("edited")
    if isinstance(edited, bool) or not isinstance(edited, int | float):
        return None
    return _utc(edited)


def _thread_id(comment: Comment) -> str:
    """The fullname of the comment's submission (inbox comments carry no link_id)."""
    link_id = vars(comment).get("link_id")
    if link_id:
        return str(link_id)
    return str(comment.submission.fullname)  # praw derives it from ``context``, offline


def _comment_permalink(comment: Comment) -> str:
    """The comment's permalink; older listings and the inbox omit it, so rebuild it."""
    data = vars(comment)
    if data.get("permalink"):
        return str(data["permalink"])
    if data.get("context"):
        return str(data["context"]).split("?", 1)[0]
    submission_id = _thread_id(comment).split("_", 1)[-1]
    return f"/r/{comment.subreddit.display_name}/comments/{submission_id}/_/{comment.id}/"


def _author(redditor: Any, site_url: str) -> Author:
    """praw gives None for a deleted author, else a lazy Redditor with ``name``."""
    name = str(getattr(redditor, "name", redditor) or "")  # absent or odd: as if deleted
    if redditor is None or not name:
        return Author(network=NETWORK, handle=DELETED, display_name=DELETED)
    return Author(
        network=NETWORK,
        handle=name.lower(),
        display_name=name,
        followers=0,
        url=f"{site_url}/user/{name}",
    )


def _account_name(configured: str | None) -> str | None:
    """A configured Reddit account without ``u/`` or ``/u/``; None when unset."""
    if not configured:
        return None
    return re.sub(r"^/?u/", "", configured.strip()) or None


def _id_number(fullname: str) -> int:
    """The base36 id of a fullname (``t1_abc`` -> int("abc", 36)); ids grow over time."""
    return int(fullname.partition("_")[2], 36)


def _created(item: Submission | Comment) -> datetime:
    """When an item was created; one without ``created_utc`` counts as new (kept, not lost)."""
    created = vars(item).get("created_utc")
    if not isinstance(created, int | float):
        return datetime.max.replace(tzinfo=UTC)
    return _utc(created)


def _cursor_number(cursor: str | None, what: str) -> int | None:
    """The id number of a stored cursor; an unreadable one counts as none (first poll)."""
    if cursor is None:
        return None
    if not FULLNAME.match(cursor):
        LOGGER.warning("reddit %s: ignoring unreadable cursor %r", what, cursor)
        return None
    return _id_number(cursor)


def _absolute(site_url: str, permalink: str) -> str:
    if permalink.startswith(("http://", "https://")):
        return permalink
    return site_url + permalink


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(float(timestamp), tz=UTC)


def _malformed(what: str, where: str, exc: Exception) -> TransientConnectorError:
    LOGGER.warning("reddit %s: malformed response from %s (%r); retrying later", what, where, exc)
    return TransientConnectorError(f"reddit {what}: malformed response from {where}: {exc!r}")


def translate_error(exc: Exception, source: str) -> ConnectorError:
    """One library exception as a ConnectorError for ``source``."""
    if isinstance(exc, prawcore.exceptions.OAuthException):
        return AuthenticationError(f"reddit {source}: credentials refused: {exc}")
    if isinstance(exc, prawcore.exceptions.TooManyRequests):
        return RateLimitedError(
            f"reddit {source}: rate limited (HTTP 429)", retry_after=_retry_after(exc.response)
        )
    if isinstance(exc, prawcore.exceptions.ResponseException):
        status = exc.response.status_code
        if status in (401, 403):
            return AuthenticationError(f"reddit {source}: access refused (HTTP {status})")
        if isinstance(exc, prawcore.exceptions.ServerError | prawcore.exceptions.BadJSON):
            return TransientConnectorError(f"reddit {source}: server error: {exc}")
        if status >= 500 or status == 408:
            return TransientConnectorError(f"reddit {source}: server error (HTTP {status})")
        return ConnectorError(f"reddit {source}: request refused: {exc}")
    if isinstance(exc, prawcore.exceptions.RequestException | _NetworkFailure):
        return TransientConnectorError(
            f"reddit {source}: network error: {exc.original_exception!r}"
        )
    if isinstance(exc, praw.exceptions.RedditAPIException):
        return ConnectorError(f"reddit {source}: API error: {exc}")
    return ConnectorError(f"reddit {source}: {type(exc).__name__}: {exc}")


def _retry_after(response: requests.Response) -> float:
    """Seconds to wait: Retry-After, else the rate-limit window's reset, else a minute."""
    for header in ("retry-after", "x-ratelimit-reset"):
        value = response.headers.get(header)
        if value:
            try:
                return max(float(value), 0.0)
            except ValueError:
                continue
    return DEFAULT_RETRY_AFTER
