"""A fake Reddit that speaks the real wire format, for tests and the demo.

It answers the OAuth token endpoint, the subreddit ``new``, ``comments`` and ``search``
listings (multireddits ``a+b+c`` included), site-wide ``/search``, the inbox's
``/message/mentions`` and ``/message/sent``, ``/api/info``, a submission's thread
(``/comments/<id>``) and, for a password-grant user, replies (``POST /api/comment``) and
private messages (``POST /api/compose``) the way reddit.com does, so the real praw client
can be pointed at it with ``oauth_url=reddit_url=short_url=fake.url``. Items are built
in code with the fields real Reddit sends; the listing order is publication order (ids
are increasing base36 numbers shared by every kind). Deleted and removed items vanish
from listings and search and show ``[deleted]``/``[removed]`` in ``/api/info``. A reply
to a deleted item, or a removed comment, is refused with ``DELETED_LINK`` /
``DELETED_COMMENT``, in a locked thread with ``THREAD_LOCKED`` and in an archived one
with ``TOO_OLD``, in the ``json.errors`` list of a 200 answer as Reddit does.

Scenario controls (all public, all cleared by ``reset()``) make it misbehave the way
reddit.com does: ``fail_next`` (any status, 429 with ``retry-after`` or a spent window),
``delay_next`` (slower than the client's timeout), ``break_json_next``, ``expire_tokens``,
``set_rate_limit``, ``inject_faults`` (random faults from a seeded RNG) and
``on_api_request`` (a hook run before each API request is answered). Faults only ever
replace or delay an answer: no fault can lose or duplicate an item. Posts (replies and
messages) have their own controls: ``fail_next_posts`` (an error status, nothing
posted), ``ratelimit_next_posts`` (Reddit's ``RATELIMIT`` error) and ``drop_next_posts``
(the post is made, then the connection is closed without an answer) and
``hold_next_post`` (the post is made, its answer held until released).
"""

from __future__ import annotations

import bisect
import html
import json
import logging
import math
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from social_crm.demo.servers.local import LocalServer, PostHold, drop_connection

LOGGER = logging.getLogger(__name__)

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_INFO_IDS = 100
MAX_THREAD_LIMIT = 500  # comments one thread read returns at most
MAX_COMMENT_LENGTH = 10_000
MAX_SUBJECT_LENGTH = 100
SUBREDDIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
USER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
JSON_TYPE = "application/json; charset=UTF-8"
FIRST_ID = 36**6  # "1000000": seven-character base36 ids, as Reddit's are nowadays
FIRST_SUBREDDIT_ID = int("2qh00", 36)
FIRST_ACCOUNT_ID = int("1a0000", 36)
DELETED = "[deleted]"
REMOVED = "[removed]"
TRUE_VALUES = frozenset({"1", "true", "on", "yes"})
FAULT_KINDS = ("429", "500", "broken_json", "slow")
POST_ENDPOINTS = frozenset({"post_comment", "compose"})
# The fields of the comment POST /api/comment answers with (praw's recorded test_reply).
REPLY_FIELDS = (
    "subreddit_id",
    "banned_by",
    "removal_reason",
    "link_id",
    "likes",
    "replies",
    "user_reports",
    "saved",
    "id",
    "gilded",
    "archived",
    "report_reasons",
    "author",
    "parent_id",
    "score",
    "approved_by",
    "controversiality",
    "body",
    "edited",
    "author_flair_css_class",
    "downs",
    "body_html",
    "stickied",
    "subreddit",
    "score_hidden",
    "name",
    "created",
    "author_flair_text",
    "created_utc",
    "ups",
    "mod_reports",
    "num_reports",
    "distinguished",
)
SITE = "https://www.reddit.com"
_PROFILE_PATH = re.compile(
    r"^/user/[^/]+/about/?$"
)  # where links in posts point, as on the real site
HTTP_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

RequestHook = Callable[[str, dict[str, str]], None]
_DROP_ANSWER = "social_crm.fake_reddit.drop"  # environ key: close the connection unanswered


def to_base36(number: int) -> str:
    """Reddit's base36 spelling of a non-negative id number."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


@dataclass(frozen=True, slots=True)
class ServedRequest:
    """One HTTP request the fake answered."""

    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass(slots=True)
class _Subreddit:
    display_name: str
    number: int


@dataclass(slots=True)
class _Post:
    number: int
    subreddit: _Subreddit
    author: str
    title: str
    selftext: str
    created_utc: float
    score: int | None  # None: the listing omits it, as older inbox comments do
    edited: float | None = None
    deleted: bool = False  # by its author: author and selftext "[deleted]"
    removed: bool = False  # by moderators: selftext "[removed]"
    locked: bool = False  # by moderators: no new comments anywhere in the thread
    archived: bool = False  # too old: no new comments or votes
    kind_fields: dict[str, Any] = field(default_factory=dict)  # a link, gallery, poll, crosspost

    @property
    def fullname(self) -> str:
        return f"t3_{to_base36(self.number)}"

    @property
    def visible(self) -> bool:
        return not (self.deleted or self.removed)

    @property
    def shown_author(self) -> str:
        return DELETED if self.deleted else self.author


@dataclass(slots=True)
class _Comment:
    number: int
    post: _Post
    parent: str  # fullname of the parent post or comment
    author: str
    body: str
    created_utc: float
    score: int | None  # None: the listing omits it, as older inbox comments do
    edited: float | None = None
    deleted: bool = False  # by its author: author and body "[deleted]"
    removed: bool = False  # by moderators: body "[removed]", author hidden too
    locked: bool = False  # by moderators: no replies to it

    @property
    def fullname(self) -> str:
        return f"t1_{to_base36(self.number)}"

    @property
    def visible(self) -> bool:
        return not (self.deleted or self.removed)

    @property
    def shown_author(self) -> str:
        return DELETED if (self.deleted or self.removed) else self.author


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A private message sent through ``POST /api/compose``."""

    fullname: str  # t4_<base36>
    author: str
    dest: str
    subject: str
    body: str
    created_utc: float


@dataclass(slots=True)
class _PostFault:
    """What the next ``remaining`` posts meet: an error status, RATELIMIT, a dropped answer,
    or an answer held back until released."""

    kind: str  # "status", "ratelimit", "drop" or "hold"
    remaining: int
    status: int = 500
    seconds: float = 0.0
    hold: PostHold | None = None


@dataclass(slots=True)
class _Scenario:
    """What the next ``remaining`` API requests meet: an error status, a delay or bad JSON."""

    kind: str  # "status", "slow" or "broken_json"
    remaining: int
    status: int = 200
    retry_after: float | None = None
    reset: float | None = None
    delay: float = 0.0


@dataclass(slots=True)
class _FaultPlan:
    rate: float
    rng: random.Random
    kinds: tuple[str, ...]
    slow_seconds: float
    retry_after: float


@dataclass(frozen=True, slots=True)
class _Profile:
    """What ``/user/<name>/about`` shows of an account."""

    description: str = ""
    link_karma: int = 0
    comment_karma: int = 0
    followers: int = 0


@dataclass(slots=True)
class _Token:
    expiry: float  # time.monotonic()
    user: str | None  # the password grant's user; None for client_credentials


@dataclass(slots=True)
class _State:
    next_number: int = FIRST_ID
    subreddits: dict[str, _Subreddit] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)
    profiles: dict[str, _Profile] = field(default_factory=dict)  # lower-cased name -> profile
    posts: list[_Post] = field(default_factory=list)
    comments: list[_Comment] = field(default_factory=list)
    comment_counts: Counter[int] = field(default_factory=Counter)  # post number -> comments
    by_fullname: dict[str, _Post | _Comment] = field(default_factory=dict)
    messages: list[SentMessage] = field(default_factory=list)
    post_faults: list[_PostFault] = field(default_factory=list)
    tokens: dict[str, _Token] = field(default_factory=dict)
    served: list[ServedRequest] = field(default_factory=list)
    scenarios: list[_Scenario] = field(default_factory=list)
    faults: _FaultPlan | None = None
    fault_counts: Counter[str] = field(default_factory=Counter)
    hook: RequestHook | None = None
    window_start: float = field(default_factory=time.monotonic)
    window_used: int = 0


class FakeReddit:
    """An in-memory Reddit served over HTTP on 127.0.0.1, speaking the real wire format."""

    def __init__(
        self,
        *,
        client_id: str = "demo-client",
        client_secret: str = "demo-secret",
        users: Mapping[str, str] | None = None,
        ratelimit_limit: int = 100_000,
        ratelimit_window_seconds: int = 600,
        token_lifetime_seconds: int = 3600,
    ) -> None:
        """Credentials, password-grant users (None: any) and a generous rate-limit window."""
        self.client_id = client_id
        self.client_secret = client_secret
        self._initial_users = dict(users) if users is not None else None
        self.users: dict[str, str] | None = self._initial_users  # password grant: name -> pw
        self._ratelimit_limit = ratelimit_limit
        self._ratelimit_window = ratelimit_window_seconds
        self._token_lifetime = token_lifetime_seconds
        self._lock = threading.RLock()
        self._state = _State()
        self._server: LocalServer | None = None
        self._routes = Map(
            [
                Rule("/api/v1/access_token", endpoint="token", methods=["POST"]),
                Rule("/r/<subreddits>/new/", endpoint="new", methods=["GET"]),
                Rule("/r/<subreddits>/comments/", endpoint="comments", methods=["GET"]),
                Rule("/r/<subreddits>/search/", endpoint="search", methods=["GET"]),
                Rule("/search/", endpoint="search", methods=["GET"]),
                Rule("/message/mentions/", endpoint="mentions", methods=["GET"]),
                Rule("/message/sent/", endpoint="sent", methods=["GET"]),
                Rule("/comments/<article>/", endpoint="thread", methods=["GET"]),
                Rule("/comments/<article>/<slug>/", endpoint="thread", methods=["GET"]),
                Rule("/comments/<article>/<slug>/<comment>/", endpoint="thread", methods=["GET"]),
                Rule("/api/comment/", endpoint="post_comment", methods=["POST"]),
                Rule("/api/compose/", endpoint="compose", methods=["POST"]),
                Rule("/api/info/", endpoint="info", methods=["GET"]),
                Rule("/user/<name>/about/", endpoint="about", methods=["GET"]),
            ],
            strict_slashes=False,
        )

    # -- serving ---------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving on a free port of 127.0.0.1."""
        if self._server is not None:
            raise RuntimeError("FakeReddit is already started")
        self._server = LocalServer(self.wsgi_app).start()
        LOGGER.debug("fake reddit serving at %s", self._server.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL (no trailing slash); give it to praw as oauth_url and reddit_url."""
        if self._server is None:
            raise RuntimeError("FakeReddit is not started")
        return self._server.url

    @property
    def requests(self) -> list[ServedRequest]:
        """Every request served so far, token requests and errors included, oldest first."""
        with self._lock:
            return list(self._state.served)

    def api_requests(self, path: str | None = None) -> list[ServedRequest]:
        """API requests served (not token ones, nor profile reads: see ``profile_requests``),
        optionally only to ``path`` like "/r/a+b/new"."""
        return [
            r
            for r in self.requests
            if r.path != "/api/v1/access_token"
            and not _PROFILE_PATH.match(r.path)
            and (path is None or r.path.rstrip("/") == path.rstrip("/"))
        ]

    def profile_requests(self) -> list[ServedRequest]:
        """The ``/user/<name>/about`` requests served."""
        return [r for r in self.requests if _PROFILE_PATH.match(r.path)]

    def token_requests(self) -> list[ServedRequest]:
        """Requests to the token endpoint, oldest first."""
        return [r for r in self.requests if r.path == "/api/v1/access_token"]

    def reset(self) -> None:
        """Forget everything published, served, issued and scheduled; users back to the start."""
        with self._lock:
            self._state = _State()
            self.users = None if self._initial_users is None else dict(self._initial_users)

    # -- scenario controls ----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        reset: float | None = None,
    ) -> None:
        """Answer the next ``count`` API requests with ``status`` (e.g. 429, 500 or 503).

        ``retry_after`` adds a ``retry-after`` header; ``reset`` reports the rate-limit
        window as spent (``x-ratelimit-remaining: 0``) until it resets in ``reset`` seconds.
        """
        self._schedule(
            _Scenario("status", _count(count), status=status, retry_after=retry_after, reset=reset)
        )

    def delay_next(self, seconds: float, *, count: int = 1) -> None:
        """Answer the next ``count`` API requests only after ``seconds`` (then normally)."""
        if seconds < 0:
            raise ValueError("a delay cannot be negative")
        self._schedule(_Scenario("slow", _count(count), delay=seconds))

    def break_json_next(self, *, count: int = 1) -> None:
        """Answer the next ``count`` API requests with 200 and a truncated JSON body."""
        self._schedule(_Scenario("broken_json", _count(count)))

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (API calls with them get 401)."""
        with self._lock:
            self._state.tokens.clear()

    def set_rate_limit(self, *, remaining: int, reset_seconds: float) -> None:
        """Make the current rate-limit window have ``remaining`` requests left, for a while."""
        if not 0 <= reset_seconds <= self._ratelimit_window:
            raise ValueError(f"reset_seconds must lie within the {self._ratelimit_window} s window")
        with self._lock:
            state = self._state
            state.window_start = time.monotonic() - (self._ratelimit_window - reset_seconds)
            state.window_used = max(0, self._ratelimit_limit - remaining)

    def inject_faults(
        self,
        rate: float,
        *,
        seed: int | None = None,
        kinds: Sequence[str] = FAULT_KINDS,
        slow_seconds: float = 1.0,
        retry_after: float = 1.0,
    ) -> None:
        """Fail a ``rate`` share of API requests at random (seeded) with one of ``kinds``.

        Kinds: "429" (with ``retry-after: retry_after``), "500", "broken_json" and "slow"
        (answered after ``slow_seconds``: make that longer than the client's timeout).
        A rate of 0 turns faults off. Token requests are never faulted.
        """
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be some of {FAULT_KINDS}, got {list(kinds)}")
        if not 0 <= rate <= 1:
            raise ValueError("the fault rate is a share between 0 and 1")
        with self._lock:
            self._state.faults = (
                _FaultPlan(rate, random.Random(seed), tuple(kinds), slow_seconds, retry_after)
                if rate > 0
                else None
            )

    @property
    def fault_counts(self) -> dict[str, int]:
        """How many random faults of each kind were injected since the last reset."""
        with self._lock:
            return dict(self._state.fault_counts)

    def on_api_request(self, hook: RequestHook | None) -> None:
        """Call ``hook(path, query)`` before answering each API request (None: stop)."""
        with self._lock:
            self._state.hook = hook

    def fail_next_posts(self, status: int = 500, *, count: int = 1) -> None:
        """Answer the next ``count`` replies or messages with ``status``; nothing is posted."""
        self._schedule_post(_PostFault("status", _count(count), status=status))

    def ratelimit_next_posts(self, seconds: float, *, count: int = 1) -> None:
        """Refuse the next ``count`` posts with Reddit's ``RATELIMIT`` error ("take a break
        for N minutes/seconds"); nothing is posted."""
        if seconds < 0:
            raise ValueError("a wait cannot be negative")
        self._schedule_post(_PostFault("ratelimit", _count(count), seconds=seconds))

    def drop_next_posts(self, *, count: int = 1) -> None:
        """Make the next ``count`` posts, then close each connection without an answer: the
        client cannot tell whether it was posted."""
        self._schedule_post(_PostFault("drop", _count(count)))

    def hold_next_post(self, *, timeout: float = 60.0) -> PostHold:
        """Make the next reply or message, then hold its answer until the returned hold is
        released (or ``timeout`` seconds pass); its ``made`` event says when it is made."""
        hold = PostHold(timeout=timeout)
        self._schedule_post(_PostFault("hold", 1, hold=hold))
        return hold

    def _schedule_post(self, fault: _PostFault) -> None:
        with self._lock:
            self._state.post_faults.append(fault)

    def _schedule(self, scenario: _Scenario) -> None:
        with self._lock:
            self._state.scenarios.append(scenario)

    # -- publishing --------------------------------------------------------------------

    def submit(
        self,
        subreddit: str,
        *,
        author: str,
        title: str,
        selftext: str = "",
        created_utc: float | None = None,
        score: int | None = 1,
        link: str | None = None,
        gallery: Sequence[str] | None = None,
        poll: Sequence[str] = (),
        crosspost_of: str | None = None,
    ) -> str:
        """Publish a post in ``subreddit``; returns its fullname ``t3_<base36>``.

        A self post by default; ``link`` makes it a link post, ``gallery`` (one caption per
        image, "" for none) a gallery, ``poll`` a poll with those options, ``crosspost_of``
        (a fullname) a crosspost of that post.
        """
        name = re.sub(r"^/?r/", "", subreddit)
        if not SUBREDDIT_NAME.match(name):
            raise ValueError(f"not a valid subreddit name: {subreddit!r}")
        self._check_author(author)
        if not title:
            raise ValueError("a submission needs a title")
        with self._lock:
            state = self._state
            sub = state.subreddits.get(name.lower())
            if sub is None:
                sub = _Subreddit(name, FIRST_SUBREDDIT_ID + len(state.subreddits))
                state.subreddits[name.lower()] = sub
            post = _Post(
                number=self._take_number(),
                subreddit=sub,
                author=author,
                title=title,
                selftext=selftext,
                created_utc=_timestamp(created_utc),
                score=score,
            )
            post.kind_fields = self._kind_fields(post, link, gallery, poll, crosspost_of)
            state.posts.append(post)
            state.by_fullname[post.fullname] = post
            return post.fullname

    def set_profile(
        self,
        name: str,
        *,
        description: str = "",
        link_karma: int = 0,
        comment_karma: int = 0,
        followers: int = 0,
    ) -> None:
        """What ``/user/<name>/about`` shows: the profile's description, karma, followers."""
        self._check_author(name)
        with self._lock:
            self._state.profiles[name.lower()] = _Profile(
                description, link_karma, comment_karma, followers
            )

    def _kind_fields(
        self,
        post: _Post,
        link: str | None,
        gallery: Sequence[str] | None,
        poll: Sequence[str],
        crosspost_of: str | None,
    ) -> dict[str, Any]:
        """The fields that make a post a link, gallery, poll or crosspost, as Reddit sends them."""
        fields: dict[str, Any] = {}
        if link is not None:
            domain = re.sub(r"^https?://([^/]+).*$", r"\1", link)
            fields.update(is_self=False, url=link, domain=domain, thumbnail="default")
        if gallery is not None:
            ids = [f"m{post.number}x{n}" for n in range(len(gallery))]
            fields.update(
                is_self=False,
                is_gallery=True,
                url=f"{SITE}/gallery/{to_base36(post.number)}",
                domain="reddit.com",
                gallery_data={
                    "items": [
                        {"media_id": media_id, "id": n, **({"caption": c} if c else {})}
                        for n, (media_id, c) in enumerate(zip(ids, gallery, strict=True))
                    ]
                },
                media_metadata={
                    media_id: {"status": "valid", "e": "Image", "m": "image/jpeg", "id": media_id}
                    for media_id in ids
                },
            )
        if poll:
            fields["poll_data"] = {
                "prediction_status": None,
                "total_stake_amount": None,
                "voting_end_timestamp": int(post.created_utc * 1000) + 3 * 86_400_000,
                "options": [{"text": text, "id": str(n)} for n, text in enumerate(poll)],
                "vote_updates_remained": None,
                "is_prediction": False,
                "resolved_option_id": None,
                "user_won_amount": None,
                "user_selection": None,
                "total_vote_count": 0,
                "tournament_id": None,
            }
        if crosspost_of is not None:
            original = self._state.by_fullname.get(crosspost_of)
            if not isinstance(original, _Post):
                raise KeyError(f"no submission {crosspost_of!r} to crosspost")
            fields.update(
                is_self=False,
                url=_post_permalink(original),
                crosspost_parent=crosspost_of,
                crosspost_parent_list=[self._post_data(original, SITE)],
            )
        return fields

    def submit_many(
        self,
        subreddit: str,
        count: int,
        *,
        author: str = "poster",
        title: str = "post {n}",
        selftext: str = "",
    ) -> list[str]:
        """Publish ``count`` self posts (``{n}`` in ``title`` counts from 0), oldest first."""
        return [
            self.submit(subreddit, author=author, title=title.format(n=n), selftext=selftext)
            for n in range(count)
        ]

    def comment(
        self,
        parent_fullname: str,
        *,
        author: str,
        body: str,
        created_utc: float | None = None,
        score: int | None = 1,
    ) -> str:
        """Publish a comment replying to a submission or comment; returns ``t1_<base36>``."""
        self._check_author(author)
        if not body:
            raise ValueError("a comment needs a body")
        with self._lock:
            state = self._state
            parent = state.by_fullname.get(parent_fullname)
            if parent is None:
                raise KeyError(f"no submission or comment {parent_fullname!r}")
            post = parent if isinstance(parent, _Post) else parent.post
            comment = _Comment(
                number=self._take_number(),
                post=post,
                parent=parent_fullname,
                author=author,
                body=body,
                created_utc=_timestamp(created_utc),
                score=score,
            )
            state.comments.append(comment)
            state.comment_counts[post.number] += 1
            state.by_fullname[comment.fullname] = comment
            return comment.fullname

    def edit(self, fullname: str, new_text: str, *, edited_utc: float | None = None) -> None:
        """Change a comment's body or a self post's selftext, as its author; marks it edited."""
        with self._lock:
            item = self._existing(fullname)
            if not item.visible:
                raise ValueError(f"{fullname} is deleted or removed and cannot be edited")
            if isinstance(item, _Post):
                item.selftext = new_text
            else:
                if not new_text:
                    raise ValueError("a comment needs a body")
                item.body = new_text
            item.edited = float(time.time()) if edited_utc is None else float(edited_utc)

    def delete(self, fullname: str) -> None:
        """Delete an item as its author: author and text become ``[deleted]``."""
        with self._lock:
            self._existing(fullname).deleted = True

    def remove(self, fullname: str) -> None:
        """Remove an item as a moderator: its text becomes ``[removed]``."""
        with self._lock:
            self._existing(fullname).removed = True

    def lock(self, fullname: str) -> None:
        """Lock a submission (its whole thread) or one comment as a moderator: no replies."""
        with self._lock:
            self._existing(fullname).locked = True

    def archive(self, fullname: str) -> None:
        """Archive the thread of a submission or comment, as Reddit does to old threads."""
        with self._lock:
            item = self._existing(fullname)
            (item if isinstance(item, _Post) else item.post).archived = True

    def comments_by(self, author: str) -> list[str]:
        """The fullnames of every comment ``author`` wrote (gone ones too), oldest first."""
        with self._lock:
            return [c.fullname for c in self._state.comments if c.author.lower() == author.lower()]

    def parent_of(self, fullname: str) -> str:
        """The fullname of the submission or comment that comment ``fullname`` answers."""
        with self._lock:
            item = self._existing(fullname)
        if not isinstance(item, _Comment):
            raise KeyError(f"{fullname!r} is a submission, not a comment")
        return item.parent

    @property
    def messages(self) -> list[SentMessage]:
        """Every private message sent through the API, oldest first."""
        with self._lock:
            return list(self._state.messages)

    def _existing(self, fullname: str) -> _Post | _Comment:
        item = self._state.by_fullname.get(fullname)
        if item is None:
            raise KeyError(f"no submission or comment {fullname!r}")
        return item

    def _take_number(self) -> int:
        number = self._state.next_number
        self._state.next_number += 1
        return number

    def _check_author(self, author: str) -> None:
        if author != DELETED and not USER_NAME.match(author):
            raise ValueError(f"not a valid Reddit username: {author!r}")
        if author != DELETED:
            with self._lock:
                accounts = self._state.accounts
                accounts.setdefault(author.lower(), FIRST_ACCOUNT_ID + len(accounts))

    # -- WSGI ----------------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        """The WSGI entry point."""
        request = Request(environ)
        with self._lock:
            state = self._state  # a slow answer is logged where it began, even across reset()
        response = self._dispatch(request)
        with self._lock:
            state.served.append(
                ServedRequest(
                    method=request.method,
                    path=request.path,
                    query=request.args.to_dict(),
                    status=response.status_code,
                )
            )
        if environ.get(_DROP_ANSWER):
            drop_connection(environ)  # the answer below then meets a closed connection
        return response(environ, start_response)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Let the instance itself be used as a WSGI app."""
        return self.wsgi_app(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self._routes.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except MethodNotAllowed:
            return self._api_error(405)
        except NotFound:
            return self._api_error(404)
        except HTTPException as exc:  # e.g. a redirect werkzeug would suggest
            return self._api_error(exc.code or 400)
        if endpoint == "token":
            return self._token(request)
        with self._lock:
            hook = self._state.hook
        if hook is not None:
            hook(request.path, request.args.to_dict())
        user, refused = self._authorize(request)
        if refused is not None:
            return refused
        scenario = self._next_scenario()
        if scenario is not None and scenario.kind == "status":
            return self._scenario_error(scenario)
        if scenario is not None and scenario.kind == "slow":
            time.sleep(scenario.delay)
        response = self._endpoint(request, endpoint, values, user)
        if scenario is not None and scenario.kind == "broken_json":
            data = response.get_data()
            response.set_data(data[: max(1, len(data) // 2)])
        return response

    def _endpoint(
        self, request: Request, endpoint: str, values: dict[str, Any], user: str | None
    ) -> Response:
        if endpoint == "new":
            return self._listing(request, values["subreddits"], "t3")
        if endpoint == "comments":
            return self._listing(request, values["subreddits"], "t1")
        if endpoint == "search":
            return self._search(request, values.get("subreddits"))
        if endpoint == "mentions":
            return self._mentions(request, user)
        if endpoint == "about":
            return self._about(request, values["name"])
        if endpoint == "thread":
            return self._thread(request, values["article"], values.get("comment"))
        if endpoint == "sent":
            return self._sent(request, user)
        if endpoint in POST_ENDPOINTS:
            return self._post(request, endpoint, user)
        return self._info(request)

    def _next_scenario(self) -> _Scenario | None:
        """The scheduled scenario this request meets, else perhaps a random fault."""
        with self._lock:
            state = self._state
            if state.scenarios:
                scenario = state.scenarios[0]
                scenario.remaining -= 1
                if scenario.remaining <= 0:
                    state.scenarios.pop(0)
                return scenario
            plan = state.faults
            if plan is None or plan.rng.random() >= plan.rate:
                return None
            kind = plan.rng.choice(plan.kinds)
            state.fault_counts[kind] += 1
        if kind == "429":
            return _Scenario("status", 1, status=429, retry_after=plan.retry_after)
        if kind == "500":
            return _Scenario("status", 1, status=500)
        if kind == "slow":
            return _Scenario("slow", 1, delay=plan.slow_seconds)
        return _Scenario("broken_json", 1)

    def _scenario_error(self, scenario: _Scenario) -> Response:
        response = self._api_error(scenario.status)
        if scenario.retry_after is not None:
            response.headers["retry-after"] = str(int(math.ceil(scenario.retry_after)))
        if scenario.reset is not None:
            response.headers["x-ratelimit-remaining"] = "0.0"
            response.headers["x-ratelimit-reset"] = str(int(math.ceil(scenario.reset)))
        return response

    def _token(self, request: Request) -> Response:
        auth = request.authorization
        if (
            auth is None
            or auth.type != "basic"
            or auth.username != self.client_id
            or auth.password != self.client_secret
        ):
            return _json({"message": "Unauthorized", "error": 401}, status=401)
        grant = request.form.get("grant_type")
        user: str | None = None
        if grant == "password":
            username = request.form.get("username", "")
            password = request.form.get("password", "")
            known = self.users is None or self.users.get(username) == password
            if not username or not password or not known:
                return _json({"error": "invalid_grant"})
            user = username
        elif grant != "client_credentials":
            return _json({"error": "unsupported_grant_type"})
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._state.tokens[token] = _Token(time.monotonic() + self._token_lifetime, user)
        return _json(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self._token_lifetime,
                "scope": "*",
            }
        )

    def _authorize(self, request: Request) -> tuple[str | None, Response | None]:
        """The token's user (None: app-only), or the 401 answer to an unknown or expired one."""
        header = request.headers.get("Authorization", "")
        kind, _, value = header.partition(" ")
        with self._lock:
            token = self._state.tokens.get(value) if kind.lower() == "bearer" else None
            valid = token is not None and token.expiry > time.monotonic()
        if token is None or not valid:
            response = self._api_error(401)
            response.headers["www-authenticate"] = 'Bearer realm="reddit", error="invalid_token"'
            return None, response
        return token.user, None

    # -- endpoints -------------------------------------------------------------------------

    def _listing(self, request: Request, subreddits: str, kind: str) -> Response:
        names = [part.lower() for part in subreddits.split("+")]
        if not all(SUBREDDIT_NAME.match(name) for name in names):
            return self._api_error(404)
        everywhere = "all" in names
        wanted = set(names)
        with self._lock:
            state = self._state
            pool: list[_Post] | list[_Comment] = state.posts if kind == "t3" else state.comments
            return self._paged(
                request,
                pool,
                kind,
                keep=lambda item: (
                    item.visible
                    and (everywhere or _subreddit_of(item).display_name.lower() in wanted)
                ),
            )

    def _search(self, request: Request, subreddits: str | None) -> Response:
        """Submissions whose title or selftext match ``q``, newest first (only sort=new kept)."""
        restrict = subreddits is not None and (
            request.args.get("restrict_sr", "").lower() in TRUE_VALUES
        )
        wanted = {part.lower() for part in (subreddits or "").split("+")}
        if restrict and "all" in wanted:
            restrict = False
        kinds = (request.args.get("type") or "link").split(",")
        matches = query_matcher(request.args.get("q", ""))
        with self._lock:
            return self._paged(
                request,
                self._state.posts if "link" in kinds else [],
                "t3",
                keep=lambda post: (
                    post.visible
                    and (not restrict or post.subreddit.display_name.lower() in wanted)
                    and matches(f"{post.title}\n{post.selftext}")
                ),
                extra={"facets": {}},
            )

    def _mentions(self, request: Request, user: str | None) -> Response:
        """The password-grant user's username mentions: comments naming ``u/<user>``."""
        if user is None:
            return self._api_error(403)
        pattern = re.compile(rf"(?<![\w/])/?u/{re.escape(user)}(?![\w-])", re.IGNORECASE)
        with self._lock:
            return self._paged(
                request,
                self._state.comments,
                "t1",
                keep=lambda comment: (
                    comment.visible
                    and comment.author.lower() != user.lower()
                    and pattern.search(comment.body) is not None
                ),
                inbox_user=user,
            )

    def _info(self, request: Request) -> Response:
        """The items named in ``id`` (deleted and removed ones too), in the order asked."""
        wanted = [name for name in request.args.get("id", "").split(",") if name]
        if len(wanted) > MAX_INFO_IDS:
            return self._api_error(400)
        site = request.host_url.rstrip("/")
        with self._lock:
            by_fullname = self._state.by_fullname
            found = [by_fullname[name] for name in dict.fromkeys(wanted) if name in by_fullname]
            children = [
                {"kind": item.fullname[:2], "data": self._item_data(item, site)} for item in found
            ]
        body = _listing_body(children, after=None, before=None)
        return self._answer(request, body)

    def _thread(self, request: Request, article: str, comment: str | None) -> Response:
        """A submission and its comment tree (``[Listing(t3), Listing(t1...)]``), newest first
        with ``sort=new``; ``comment`` (or ``?comment=``) focuses on that comment's subtree.

        ``depth`` cuts the tree (a ``more`` stub stands for what is left out), ``limit`` the
        comments listed at the top level.
        """
        focus = request.args.get("comment") or comment
        depth = _int(request.args.get("depth"))
        limit = min(_int(request.args.get("limit")) or MAX_THREAD_LIMIT, MAX_THREAD_LIMIT)
        newest_first = request.args.get("sort") == "new"
        site = request.host_url.rstrip("/")
        with self._lock:
            post = self._state.by_fullname.get(f"t3_{article}")
            if not isinstance(post, _Post):
                return self._api_error(404)
            if focus:
                target = self._state.by_fullname.get(f"t1_{focus}")
                top = [target] if isinstance(target, _Comment) and target.post is post else []
            else:
                top = self._children(post.fullname)
            top = sorted(top, key=lambda c: c.number, reverse=newest_first)
            children = self._tree(
                top[:limit], site, level=0, depth=depth, newest_first=newest_first
            )
            if len(top) > limit:
                children.append(_more(post.fullname, top[limit:], level=0))
            body = [
                _listing_body(
                    [{"kind": "t3", "data": self._post_data(post, site)}], after=None, before=None
                ),
                _listing_body(children, after=None, before=None),
            ]
        return self._answer(request, body)

    def _children(self, parent: str) -> list[_Comment]:
        return [c for c in self._state.comments if c.parent == parent]

    def _tree(
        self,
        comments: Sequence[_Comment],
        site: str,
        *,
        level: int,
        depth: int | None,
        newest_first: bool,
    ) -> list[dict[str, Any]]:
        """Comments with their replies nested as listings, ``depth`` levels deep at most."""
        out = []
        for comment in comments:
            data = self._comment_data(comment, site)
            data["depth"] = level
            replies = sorted(
                self._children(comment.fullname), key=lambda c: c.number, reverse=newest_first
            )
            if replies and (depth is None or level + 1 < depth):
                nested = self._tree(
                    replies, site, level=level + 1, depth=depth, newest_first=newest_first
                )
                data["replies"] = _listing_body(nested, after=None, before=None)
            elif replies:
                more = [_more(comment.fullname, replies, level=level + 1)]
                data["replies"] = _listing_body(more, after=None, before=None)
            out.append({"kind": "t1", "data": data})
        return out

    def _sent(self, request: Request, user: str | None) -> Response:
        """``/message/sent``: the password-grant user's private messages, newest first."""
        if user is None:
            return self._api_error(403)
        limit = _limit(request.args.get("limit"))
        after = request.args.get("after")
        with self._lock:
            mine = [m for m in self._state.messages if m.author.lower() == user.lower()][::-1]
        if after:
            names = [m.fullname for m in mine]
            mine = mine[names.index(after) + 1 :] if after in names else []
        page = mine[:limit]
        body = _listing_body(
            [{"kind": "t4", "data": _message_data(m)} for m in page],
            after=page[-1].fullname if len(mine) > limit else None,
            before=None,
        )
        return self._answer(request, body)

    def _post(self, request: Request, endpoint: str, user: str | None) -> Response:
        """A reply or private message from the password-grant user, past any post fault."""
        if user is None:
            return self._api_error(403)  # an app-only token may not post
        with self._lock:
            faults = self._state.post_faults
            fault = faults[0] if faults else None
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.pop(0)
        if fault is not None and fault.kind == "status":
            return self._api_error(fault.status)
        if fault is not None and fault.kind == "ratelimit":
            return self._api_response(_ratelimit_body(fault.seconds))
        form = request.form
        with self._lock:
            if endpoint == "post_comment":
                body = self._post_comment(
                    form.get("thing_id", ""), form.get("text", ""), user, request
                )
            else:
                body = self._compose(
                    form.get("to", ""), form.get("subject", ""), form.get("text", ""), user
                )
        if fault is not None and fault.kind == "drop":
            request.environ[_DROP_ANSWER] = True
        if fault is not None and fault.hold is not None:
            fault.hold.hold()  # outside the lock: the fake answers everything else meanwhile
        return self._answer(request, body)

    def _post_comment(
        self, thing_id: str, text: str, user: str, request: Request
    ) -> dict[str, Any]:
        """``POST /api/comment``: the new comment, or Reddit's errors for the parent and text."""
        parent = self._state.by_fullname.get(thing_id)
        errors: list[list[str]] = []
        if parent is None:
            errors.append(["NO_THING_ID", "id not specified", "parent"])
        elif isinstance(parent, _Post) and parent.deleted:
            errors.append(
                ["DELETED_LINK", "the link you are commenting on has been deleted", "parent"]
            )
        elif isinstance(parent, _Comment) and not parent.visible:
            errors.append(["DELETED_COMMENT", "that comment has been deleted", "parent"])
        else:
            post = parent if isinstance(parent, _Post) else parent.post
            if post.archived:
                errors.append(
                    [
                        "TOO_OLD",
                        "that's a piece of history now; it's too late to reply to it",
                        "parent",
                    ]
                )
            elif post.locked or parent.locked:
                errors.append(["THREAD_LOCKED", "Comments are locked.", "parent"])
        errors.extend(_text_errors(text, "text", MAX_COMMENT_LENGTH))
        if errors:
            return {"json": {"errors": errors}}
        fullname = self.comment(thing_id, author=user, body=text)
        comment = self._state.by_fullname[fullname]
        full = self._comment_data(comment, request.host_url.rstrip("/"))
        data = {key: full.get(key) for key in REPLY_FIELDS}
        return {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}}

    def _compose(self, to: str, subject: str, text: str, user: str) -> dict[str, Any]:
        """``POST /api/compose``: a private message to a user, or Reddit's errors."""
        errors: list[list[str]] = []
        name = re.sub(r"^/?u/", "", to)
        if name.lower() not in self._state.accounts:
            errors.append(["USER_DOESNT_EXIST", "that user doesn't exist", "to"])
        if not subject.strip():
            errors.append(["NO_SUBJECT", "please enter a subject", "subject"])
        errors.extend(_text_errors(subject, "subject", MAX_SUBJECT_LENGTH, required=False))
        errors.extend(_text_errors(text, "text", MAX_COMMENT_LENGTH))
        if errors:
            return {"json": {"errors": errors}}
        message = SentMessage(
            fullname=f"t4_{to_base36(self._take_number())}",
            author=user,
            dest=name,
            subject=subject,
            body=text,
            created_utc=_timestamp(None),
        )
        self._state.messages.append(message)
        return {"json": {"errors": []}}

    def _paged(
        self,
        request: Request,
        pool: Sequence[_Post | _Comment],
        kind: str,
        *,
        keep: Callable[[Any], bool],
        extra: dict[str, Any] | None = None,
        inbox_user: str | None = None,
    ) -> Response:
        """One page of the items of ``pool`` (oldest first) that ``keep`` keeps, as a Listing,
        by ``limit``, ``after`` and ``before``."""
        limit = _limit(request.args.get("limit"))
        before = request.args.get("before") or None
        after = request.args.get("after") or None
        site = request.host_url.rstrip("/")
        page, newer, older = _page(
            self._state, pool, keep, kind, limit=limit, before=before, after=after
        )
        if inbox_user is not None:
            children = [
                {"kind": kind, "data": self._inbox_data(item, site, inbox_user)}
                for item in page
                if isinstance(item, _Comment)
            ]
        else:
            children = [{"kind": kind, "data": self._item_data(item, site)} for item in page]
        body = _listing_body(
            children,
            after=page[-1].fullname if older else None,
            before=page[0].fullname if newer else None,
            extra=extra,
        )
        return self._answer(request, body)

    def _answer(self, request: Request, body: Any) -> Response:
        if request.args.get("raw_json") != "1":
            body = _legacy_escape(body)
        return self._api_response(body)

    def _item_data(self, item: _Post | _Comment, site: str) -> dict[str, Any]:
        if isinstance(item, _Post):
            return self._post_data(item, site)
        return self._comment_data(item, site)

    def _post_data(self, post: _Post, site: str) -> dict[str, Any]:
        sub = post.subreddit
        selftext = _gone_marker(post) or post.selftext
        permalink = _post_permalink(post)
        num_comments = self._state.comment_counts[post.number]
        return {
            "approved_at_utc": None,
            "subreddit": sub.display_name,
            "selftext": selftext,
            "author_fullname": self._author_fullname(post.shown_author),
            "saved": False,
            "mod_reason_title": None,
            "gilded": 0,
            "clicked": False,
            "title": post.title,
            "link_flair_richtext": [],
            "subreddit_name_prefixed": f"r/{sub.display_name}",
            "hidden": False,
            "pwls": None,
            "link_flair_css_class": None,
            "downs": 0,
            "thumbnail_height": None,
            "top_awarded_type": None,
            "hide_score": False,
            "name": post.fullname,
            "quarantine": False,
            "link_flair_text_color": "dark",
            "upvote_ratio": 1.0,
            "author_flair_background_color": None,
            "subreddit_type": "public",
            "ups": post.score or 0,
            "total_awards_received": 0,
            "media_embed": {},
            "thumbnail_width": None,
            "author_flair_template_id": None,
            "is_original_content": False,
            "user_reports": [],
            "secure_media": None,
            "is_reddit_media_domain": False,
            "is_meta": False,
            "category": None,
            "secure_media_embed": {},
            "link_flair_text": None,
            "can_mod_post": False,
            **_score(post),
            "approved_by": None,
            "is_created_from_ads_ui": False,
            "author_premium": False,
            "thumbnail": "self",
            "edited": post.edited if post.edited is not None else False,
            "author_flair_css_class": None,
            "author_flair_richtext": [],
            "gildings": {},
            "content_categories": None,
            "is_self": True,
            "mod_note": None,
            "created": post.created_utc,
            "link_flair_type": "text",
            "wls": None,
            "removed_by_category": _removed_by_category(post),
            "banned_by": None,
            "author_flair_type": "text",
            "domain": f"self.{sub.display_name}",
            "allow_live_comments": False,
            "selftext_html": _markdown_html(selftext, self_post=True),
            "likes": None,
            "suggested_sort": None,
            "banned_at_utc": None,
            "view_count": None,
            "archived": post.archived,
            "no_follow": True,
            "is_crosspostable": False,
            "pinned": False,
            "over_18": False,
            "all_awardings": [],
            "awarders": [],
            "media_only": False,
            "can_gild": False,
            "spoiler": False,
            "locked": post.locked,
            "author_flair_text": None,
            "treatment_tags": [],
            "visited": False,
            "removed_by": None,
            "num_reports": None,
            "distinguished": None,
            "subreddit_id": f"t5_{to_base36(sub.number)}",
            "author_is_blocked": False,
            "mod_reason_by": None,
            "removal_reason": None,
            "link_flair_background_color": "",
            "id": to_base36(post.number),
            "is_robot_indexable": True,
            "report_reasons": None,
            "author": post.shown_author,
            "discussion_type": None,
            "num_comments": num_comments,
            "send_replies": True,
            "contest_mode": False,
            "mod_reports": [],
            "author_patreon_flair": False,
            "author_flair_text_color": None,
            "permalink": permalink,
            "stickied": False,
            "url": site + permalink,
            "subreddit_subscribers": 0,
            "created_utc": post.created_utc,
            "num_crossposts": 0,
            "media": None,
            "is_video": False,
            **post.kind_fields,
        }

    def _comment_data(self, comment: _Comment, site: str) -> dict[str, Any]:
        post = comment.post
        sub = post.subreddit
        post_permalink = _post_permalink(post)
        num_comments = self._state.comment_counts[post.number]
        body = _gone_marker(comment) or comment.body
        return {
            "subreddit_id": f"t5_{to_base36(sub.number)}",
            "approved_at_utc": None,
            "author_is_blocked": False,
            "comment_type": None,
            "link_title": post.title,
            "mod_reason_by": None,
            "banned_by": None,
            "ups": comment.score or 0,
            "num_reports": None,
            "author_flair_type": "text",
            "total_awards_received": 0,
            "subreddit": sub.display_name,
            "link_author": post.shown_author,
            "likes": None,
            "replies": "",
            "user_reports": [],
            "saved": False,
            "id": to_base36(comment.number),
            "banned_at_utc": None,
            "mod_reason_title": None,
            "gilded": 0,
            "archived": post.archived,
            "collapsed_reason_code": None,
            "no_follow": True,
            "author": comment.shown_author,
            "num_comments": num_comments,
            "can_mod_post": False,
            "send_replies": True,
            "parent_id": comment.parent,
            **_score(comment),
            "author_fullname": self._author_fullname(comment.shown_author),
            "over_18": False,
            "report_reasons": None,
            "removal_reason": None,
            "approved_by": None,
            "controversiality": 0,
            "body": body,
            "edited": comment.edited if comment.edited is not None else False,
            "top_awarded_type": None,
            "downs": 0,
            "author_flair_css_class": None,
            "is_submitter": comment.author.lower() == post.author.lower(),
            "collapsed": False,
            "author_flair_richtext": [],
            "author_patreon_flair": False,
            "body_html": _markdown_html(body, self_post=False),
            "gildings": {},
            "collapsed_reason": None,
            "distinguished": None,
            "associated_award": None,
            "stickied": False,
            "author_premium": False,
            "can_gild": False,
            "link_id": post.fullname,
            "unrepliable_reason": None,
            "author_flair_text_color": None,
            "score_hidden": False,
            "permalink": f"{post_permalink}{to_base36(comment.number)}/",
            "subreddit_type": "public",
            "link_permalink": site + post_permalink,
            "name": comment.fullname,
            "author_flair_template_id": None,
            "subreddit_name_prefixed": f"r/{sub.display_name}",
            "author_flair_text": None,
            "treatment_tags": [],
            "created": comment.created_utc,
            "created_utc": comment.created_utc,
            "awarders": [],
            "all_awardings": [],
            "locked": comment.locked,
            "author_flair_background_color": None,
            "collapsed_because_crowd_control": None,
            "mod_reports": [],
            "quarantine": False,
            "mod_note": None,
            "link_url": site + post_permalink,
        }

    def _inbox_data(self, comment: _Comment, site: str, user: str) -> dict[str, Any]:
        """A username mention as ``/message/mentions`` lists it (fewer fields than a comment)."""
        post = comment.post
        sub = post.subreddit
        full = self._comment_data(comment, site)
        return {
            "first_message": None,
            "first_message_name": None,
            "subreddit": sub.display_name,
            "likes": None,
            "replies": "",
            "author_fullname": full["author_fullname"],
            "id": full["id"],
            "subject": "username mention",
            "associated_awarding_id": None,
            **_score(comment),
            "author": full["author"],
            "num_comments": full["num_comments"],
            "parent_id": comment.parent,
            "subreddit_name_prefixed": f"r/{sub.display_name}",
            "new": True,
            "type": "username_mention",
            "body": full["body"],
            "link_title": post.title,
            "dest": user,
            "was_comment": True,
            "body_html": full["body_html"],
            "name": comment.fullname,
            "created": comment.created_utc,
            "created_utc": comment.created_utc,
            "context": f"{full['permalink']}?context=3",
            "distinguished": None,
        }

    def _author_fullname(self, author: str) -> str | None:
        number = self._state.accounts.get(author.lower())
        return None if number is None else f"t2_{to_base36(number)}"

    # -- responses -------------------------------------------------------------------------

    def _ratelimit_headers(self) -> tuple[dict[str, str], bool]:
        """Count one API request in the current window; its headers, and whether it is over."""
        with self._lock:
            state = self._state
            now = time.monotonic()
            if now - state.window_start >= self._ratelimit_window:
                state.window_start, state.window_used = now, 0
            state.window_used += 1
            used = state.window_used
            reset = max(0, math.floor(self._ratelimit_window - (now - state.window_start)))
        remaining = max(0, self._ratelimit_limit - used)
        headers = {
            "x-ratelimit-remaining": f"{float(remaining):.1f}",
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
        }
        return headers, used > self._ratelimit_limit

    def _api_response(self, body: Any, *, status: int = 200) -> Response:
        headers, over_limit = self._ratelimit_headers()
        if over_limit and status < 400:
            status, body = 429, {"message": HTTP_REASONS[429], "error": 429}
        response = _json(body, status=status)
        response.headers.update(headers)
        return response

    def _about(self, request: Request, name: str) -> Response:
        """``/user/<name>/about``: the account as a ``t2`` thing, 404 for unknown names."""
        with self._lock:
            number = self._state.accounts.get(name.lower())
            profile = self._state.profiles.get(name.lower(), _Profile())
        if number is None:
            return self._api_error(404)
        account_id = to_base36(number)
        body = {
            "kind": "t2",
            "data": {
                "is_employee": False,
                "name": name,
                "id": account_id,
                "created_utc": 1_322_552_953.0,
                "link_karma": profile.link_karma,
                "comment_karma": profile.comment_karma,
                "total_karma": profile.link_karma + profile.comment_karma,
                "verified": True,
                "has_verified_email": True,
                "subreddit": {
                    "display_name": f"u_{name}",
                    "display_name_prefixed": f"u/{name}",
                    "title": "",
                    "public_description": profile.description,
                    "description": "",
                    "subscribers": profile.followers,
                    "subreddit_type": "user",
                    "url": f"/user/{name}/",
                    "name": f"t5_{account_id}",
                },
            },
        }
        return self._answer(request, body)

    def _api_error(self, status: int) -> Response:
        return self._api_response(
            {"message": HTTP_REASONS.get(status, "Error"), "error": status}, status=status
        )


# -- search queries ----------------------------------------------------------------------

_QUERY_TOKEN = re.compile(r'"([^"]*)"?|(\()|(\))|([^\s()"]+)')
_OPERATORS = frozenset({"OR", "AND", "NOT"})


def query_matcher(query: str) -> Callable[[str], bool]:
    """A predicate for Reddit's search syntax: words, "quoted phrases", OR, AND, NOT, -word, ().

    Matching ignores case; words and phrases match whole words (no stemming, unlike
    reddit.com). Adjacent terms must all match; an empty query matches nothing.
    """
    tokens: list[tuple[str, str]] = []
    for match in _QUERY_TOKEN.finditer(query):
        phrase, opening, closing, word = match.groups()
        if phrase is not None:
            if phrase.strip():
                tokens.append(("term", phrase))
        elif opening:
            tokens.append(("(", opening))
        elif closing:
            tokens.append((")", closing))
        elif word in _OPERATORS:
            tokens.append((word, word))
        elif word.startswith("-") and len(word) > 1:
            tokens.extend([("NOT", "NOT"), ("term", word[1:])])
        else:
            tokens.append(("term", word))
    if not tokens:
        return lambda text: False
    return _QueryParser(tokens).parse()


class _QueryParser:
    """Recursive descent over query tokens; lenient about stray operators and parentheses."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self._tokens = tokens
        self._at = 0

    def parse(self) -> Callable[[str], bool]:
        """The whole query as one predicate (trailing stray tokens are ignored)."""
        predicate = self._or()
        return lambda text: predicate(text.lower())

    def _peek(self) -> str | None:
        return self._tokens[self._at][0] if self._at < len(self._tokens) else None

    def _or(self) -> Callable[[str], bool]:
        parts = [self._and()]
        while self._peek() == "OR":
            self._at += 1
            parts.append(self._and())
        return lambda text: any(part(text) for part in parts)

    def _and(self) -> Callable[[str], bool]:
        parts = [self._unary()]
        while self._peek() not in (None, "OR", ")"):
            if self._peek() == "AND":
                self._at += 1
            parts.append(self._unary())
        return lambda text: all(part(text) for part in parts)

    def _unary(self) -> Callable[[str], bool]:
        kind = self._peek()
        if kind is None or kind in ("OR", ")"):
            return lambda text: True  # a dangling operator: nothing to require
        self._at += 1
        if kind == "NOT":
            inner = self._unary()
            return lambda text: not inner(text)
        if kind == "AND":
            return self._unary()
        if kind == "(":
            inner = self._or()
            if self._peek() == ")":
                self._at += 1
            return inner
        return _term(self._tokens[self._at - 1][1])


def _term(term: str) -> Callable[[str], bool]:
    words = re.findall(r"\w+", term.lower())
    if not words:
        return lambda text: False
    pattern = re.compile(r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)")
    return lambda text: pattern.search(text) is not None


# -- helpers -------------------------------------------------------------------------------


def _score(item: _Post | _Comment) -> dict[str, int]:
    """The ``score`` field, left out where the item has none (201 of 10,247 real objects)."""
    return {} if item.score is None else {"score": item.score}


def _json(body: Any, *, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE)


def _listing_body(
    children: list[dict[str, Any]],
    *,
    after: str | None,
    before: str | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            **(extra or {}),
            "modhash": "",
            "geo_filter": "",
            "children": children,
            "before": before,
        },
    }


def _more(parent: str, left_out: Sequence[_Comment], *, level: int) -> dict[str, Any]:
    """The ``more`` stub Reddit puts where comments of a thread were left out."""
    ids = [to_base36(c.number) for c in left_out]
    return {
        "kind": "more",
        "data": {
            "count": len(ids),
            "name": f"t1_{ids[0]}",
            "id": ids[0],
            "parent_id": parent,
            "depth": level,
            "children": ids,
        },
    }


def _message_data(message: SentMessage) -> dict[str, Any]:
    """A private message as ``/message/sent`` lists it (praw's recorded test_sent)."""
    return {
        "body": message.body,
        "was_comment": False,
        "first_message": None,
        "name": message.fullname,
        "first_message_name": None,
        "created": message.created_utc,
        "dest": message.dest,
        "author": message.author,
        "created_utc": message.created_utc,
        "body_html": _markdown_html(message.body, self_post=True),
        "subreddit": None,
        "parent_id": None,
        "context": "",
        "replies": "",
        "id": message.fullname.partition("_")[2],
        "new": False,
        "distinguished": None,
        "subject": message.subject,
    }


def _ratelimit_body(seconds: float) -> dict[str, Any]:
    """Reddit's answer to a post made too soon after the last ones."""
    wait = (
        f"{math.ceil(seconds / 60)} minutes" if seconds >= 60 else f"{math.ceil(seconds)} seconds"
    )
    message = (
        f"Looks like you've been doing that a lot. Take a break for {wait} before trying again."
    )
    return {"json": {"ratelimit": float(seconds), "errors": [["RATELIMIT", message, "ratelimit"]]}}


def _text_errors(
    text: str, field_name: str, maximum: int, *, required: bool = True
) -> list[list[str]]:
    """Reddit's errors for an empty or overlong form field."""
    if required and not text.strip():
        return [["NO_TEXT", "we need something here", field_name]]
    if len(text) > maximum:
        return [["TOO_LONG", f"this is too long (max: {maximum})", field_name]]
    return []


def _int(raw: str | None) -> int | None:
    """A positive integer query parameter; None when absent or not one."""
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else None


def _count(count: int) -> int:
    if count < 1:
        raise ValueError("count must be at least 1")
    return count


def _timestamp(created_utc: float | None) -> float:
    return float(int(time.time())) if created_utc is None else float(created_utc)


def _limit(raw: str | None) -> int:
    try:
        limit = int(raw) if raw is not None else DEFAULT_LIMIT
    except ValueError:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, limit))


def _subreddit_of(item: _Post | _Comment) -> _Subreddit:
    return item.subreddit if isinstance(item, _Post) else item.post.subreddit


def _gone_marker(item: _Post | _Comment) -> str | None:
    """``[deleted]`` or ``[removed]`` in place of the text of an item that is gone."""
    if item.deleted:
        return DELETED
    if item.removed:
        return REMOVED
    return None


def _removed_by_category(post: _Post) -> str | None:
    if post.deleted:
        return "deleted"
    if post.removed:
        return "moderator"
    return None


def _page(
    state: _State,
    pool: Sequence[Any],
    keep: Callable[[Any], bool],
    kind: str,
    *,
    limit: int,
    before: str | None,
    after: str | None,
) -> tuple[list[Any], bool, bool]:
    """One page of the kept items of ``pool`` (newest first), and whether newer and older
    kept items remain. ``pool`` is in publication (id) order: the page is found from its
    anchor by bisection, so a page costs the same however many items there are.

    Like reddit.com, an anchor that is unknown, of another kind, deleted or removed gives
    an empty listing (this is what stalls pollers that page with ``before=``).
    """
    anchor_name = after or before
    if anchor_name is None:
        newest = _kept(pool, keep, range(len(pool) - 1, -1, -1), limit + 1)
        return newest[:limit], False, len(newest) > limit
    anchor = state.by_fullname.get(anchor_name)
    if anchor is None or not anchor_name.startswith(f"{kind}_") or not anchor.visible:
        return [], False, False
    if after:
        start = bisect.bisect_left(pool, anchor.number, key=_number) - 1
        older = _kept(pool, keep, range(start, -1, -1), limit + 1)
        return older[:limit], False, len(older) > limit
    start = bisect.bisect_right(pool, anchor.number, key=_number)
    newer = _kept(pool, keep, range(start, len(pool)), limit + 1)  # nearest first
    return newer[:limit][::-1], len(newer) > limit, False


def _kept(pool: Sequence[Any], keep: Callable[[Any], bool], at: range, most: int) -> list[Any]:
    """Up to ``most`` items of ``pool`` that ``keep`` keeps, at the indexes ``at`` in order."""
    found = []
    for index in at:
        if keep(pool[index]):
            found.append(pool[index])
            if len(found) == most:
                break
    return found


def _number(item: _Post | _Comment) -> int:
    return item.number


def _post_permalink(post: _Post) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", post.title.lower()).strip("_")[:50].rstrip("_") or "_"
    return f"/r/{post.subreddit.display_name}/comments/{to_base36(post.number)}/{slug}/"


def _markdown_html(text: str, *, self_post: bool) -> str | None:
    """Reddit's HTML rendering of plain markdown paragraphs."""
    if not text:
        return None if self_post else '<div class="md"></div>'
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    inner = "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)
    rendered = f'<div class="md">{inner}</div>'
    return f"<!-- SC_OFF -->{rendered}<!-- SC_ON -->" if self_post else rendered


def _legacy_escape(node: Any) -> Any:
    """Reddit's answer without ``raw_json=1``: &, < and > escaped in every string."""
    if isinstance(node, str):
        return node.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(node, list):
        return [_legacy_escape(value) for value in node]
    if isinstance(node, dict):
        return {key: _legacy_escape(value) for key, value in node.items()}
    return node
