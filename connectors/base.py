"""What a connector is asked to watch, what it returns, and the small interface it implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Watch:
    """What a connector is asked to watch for one brand; the app makes it from its config.

    Fields come normalised: hashtags lower case without ``#``, subreddits without ``r/``.
    An account is the brand's own handle on that network (None: it has none there).
    """

    name: str  # the brand: every Mention and Source found for this watch carries it
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    subreddits: tuple[str, ...] = ()
    reddit_account: str | None = None  # e.g. "u/acme": its inbox, if the connector logs in as it
    mastodon_account: str | None = None  # set: mentions of the connector's own account are read


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a mention, as the network shows them."""

    network: str
    handle: str  # normalised: reddit "username", mastodon "user@instance" (lower case)
    display_name: str = ""
    followers: int = 0
    url: str = ""
    # What the profile shows, for identity evidence: {"note": bio, "fields": [{name, value,
    # verified_at}]} (Mastodon's shape); None when the network's listing does not carry it.
    profile: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    bot: bool = False  # the network flags the account as automated (Mastodon's account.bot)


@dataclass(frozen=True, slots=True)
class Mention:
    """One post, comment or status that mentions a watched brand, as plain data."""

    network: str
    native_id: str  # unique within the network: reddit fullname, mastodon status URI
    brand: str
    source: str
    url: str
    author: Author
    text: str
    created_at: datetime  # timezone-aware, UTC
    kind: str  # "post", "comment" or "status"
    thread_id: str  # mentions of one conversation share it
    parent_id: str | None = None
    reach: int = 0  # the network's own engagement figure: score, favourites + boosts
    edited_at: datetime | None = None  # when the author last changed the text
    language: str | None = None  # the post's language as the network gives it (ISO 639)
    # Who may see it: "public", "unlisted", "private" (followers only) or "direct".
    visibility: str = "public"
    # Where the network re-reads it, for Refreshable.refresh (Mastodon: "host/local id" on
    # the instance that served it); None when the native id is enough.
    locator: str | None = None
    # Where within the network it was posted: the subreddit (reddit, without r/); None elsewhere.
    community: str | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    """The current state of a mention seen before: edited text, or gone."""

    native_id: str
    text: str
    deleted: bool = False  # deleted by its author or removed by moderators: text is dropped
    edited_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """One thing a connector polls for one brand, with its own cursor."""

    key: str
    brand: str
    page_size: int | None = None  # items per request, when the network pages: paces polling


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item a connector could not read: kept for inspection, never fetched again."""

    native_id: str
    error: str
    excerpt: str = ""  # the start of the item as the network sent it


@dataclass(slots=True)
class Batch:
    """What one fetch found, and the cursor to fetch from next time."""

    mentions: list[Mention] = field(default_factory=list)
    cursor: str | None = None
    skipped: list[Skipped] = field(default_factory=list)  # items of the page left out
    # More is waiting beyond ``cursor``: the fetch stopped at its page limit, and fetching
    # again from ``cursor`` goes on where this one ended.
    more: bool = False


@runtime_checkable
class Connector(Protocol):
    """A network client that turns new posts into Mentions; it knows nothing of storage.

    Implementations are registered by name in the ``social_crm.connectors`` entry-point
    group (see connectors.registry) and declare ``settings_model``, a pydantic model that
    the app validates the connector's config section with. They are built as
    ``cls(settings, watches=...)``: ``settings`` an instance of ``settings_model``,
    ``watches`` a sequence of Watch, one per brand.
    """

    settings_model: ClassVar[type[BaseModel]]
    network: str

    def sources(self) -> Sequence[Source]:
        """The sources this connector polls, one cursor each."""
        ...

    def fetch(self, source: Source, cursor: str | None) -> Batch:
        """Everything new in ``source`` since ``cursor`` (None: first poll), oldest first.

        Raises ConnectorError subclasses (connectors.errors); never returns a cursor that
        skips mentions.
        """
        ...

    def close(self) -> None:
        """Release network resources."""
        ...


@runtime_checkable
class Refreshable(Protocol):
    """A connector that can re-read items it returned before, to see edits and deletions."""

    def refresh(
        self, native_ids: Sequence[str], *, locators: Mapping[str, str] | None = None
    ) -> list[Revision]:
        """The current state of each item still known to the network (deleted ones flagged).

        ``locators``: the ``Mention.locator`` stored for each native id that had one.
        """
        ...


@runtime_checkable
class Releasable(Protocol):
    """A connector that keeps something per source between fetches (a stream, a buffer)."""

    def release(self, source: Source) -> None:
        """Stop keeping anything for ``source``: this process no longer polls it.

        The app calls it when another process took the source over, or this one let it go;
        a later ``fetch`` of the source starts afresh from the cursor it is given. Cheap,
        and a no-op for a source nothing is kept for. ``close`` still ends everything.
        """
        ...


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """The mention a reply answers, as the connector stored it."""

    native_id: str  # Mention.native_id
    thread_id: str  # Mention.thread_id
    author_handle: str  # Mention.author.handle
    locator: str | None = None  # Mention.locator
    visibility: str = "public"  # Mention.visibility: a reply is never more visible


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One approved reply, exactly as it is to be posted."""

    target: ReplyTarget
    text: str  # the whole text, footer included
    # Stable for one draft across retries: Mastodon's Idempotency-Key header.
    idempotency_key: str
    private: bool = False  # a private message to the author instead of a public reply
    subject: str = ""  # a private message's subject, where the network has one (Reddit)


@dataclass(frozen=True, slots=True)
class Posted:
    """A reply as the network holds it."""

    native_id: str  # reddit fullname (t1_…, or the message's t4_…), mastodon status URI
    url: str
    text: str
    posted_at: datetime | None = None
    private: bool = False


@dataclass(frozen=True, slots=True)
class TargetState:
    """What the network says of a reply's target just before a reply is posted.

    ``status`` is "open", or why nothing can be posted there: "deleted" (by its author),
    "removed" (by moderators), "locked" or "archived". ``account_replies`` are the replies
    (and private messages to the author) already written from the connector's own account in
    that conversation, oldest first: the app tells its own earlier post from a person's.
    """

    status: str = "open"
    account_replies: tuple[Posted, ...] = ()


@runtime_checkable
class Replyable(Protocol):
    """A connector that can post replies from its logged-in account."""

    def reply_account(self) -> str:
        """The handle replies are posted as (reddit "u/name", mastodon "@user@instance")."""
        ...

    def inspect(self, target: ReplyTarget) -> TargetState:
        """The target's state and the account's earlier replies to it; reads, never posts."""
        ...

    def reply(self, outgoing: Outgoing) -> Posted:
        """Post ``outgoing`` once. Raises connectors.errors on failure (nothing posted, or
        unknown: the app inspects again before any retry)."""
        ...
