"""A brand's listening rules, compiled once: which fetched items are kept as mentions.

Exclusions apply to every item of every source; the query (when set) too; a source whose
scope is ``keyword`` also needs one of the brand's keywords or hashtags in the text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from connectors.base import Mention
from social_crm.listening.query import Query
from social_crm.listening.text import FoldedText, Term

LOGGER = logging.getLogger(__name__)

ALL, KEYWORD = "all", "keyword"
SCOPES = (ALL, KEYWORD)
# Kinds of source a scope can name; a single subreddit or hashtag is named r/<name>, #<tag>.
SOURCE_KINDS = ("subreddits", "hashtags", "search", "mentions", "accounts")
OTHER = "other"  # a source of a connector whose keys this module does not know

# Accounts that post automatically on Reddit, whatever the subreddit (lower case).
# Mastodon accounts flag themselves as bots; those are excluded by that flag.
DEFAULT_BOTS = frozenset(
    {
        "automoderator",
        "b0trank",
        "converter-bot",
        "haikusbot",
        "linkifybot",
        "remindmebot",
        "repostsleuthbot",
        "savevideo",
        "savevideobot",
        "sneakpeekbot",
        "stabbot",
        "totesmessenger",
        "vredditdownloader",
        "wikimobilelinkbot",
        "wikisummarizerbot",
    }
)

_REDDIT_LISTING = re.compile(r"^r/[^:]+:(new|comments)$")


@dataclass(frozen=True, slots=True)
class Item:
    """What the rules look at in one fetched item."""

    text: str
    network: str
    source_kind: str = OTHER  # one of SOURCE_KINDS, or OTHER
    source_name: str | None = None  # "r/espresso", "#brewly", "@acct": a scope may name it
    subreddit: str | None = None  # lower case, without r/
    author: str = ""  # the handle: reddit "name", mastodon "user@instance" (lower case)
    bot: bool = False  # the network flags the account as automated
    language: str | None = None  # as the network gives it (ISO 639)

    @classmethod
    def of(cls, mention: Mention) -> Item:
        """The parts of a fetched mention the rules read."""
        return cls.from_parts(
            brand=mention.brand,
            source=mention.source,
            text=mention.text,
            network=mention.network,
            community=mention.community,
            author=mention.author.handle,
            bot=mention.author.bot,
            language=mention.language,
        )

    @classmethod
    def from_parts(
        cls,
        *,
        brand: str,
        source: str,
        text: str,
        network: str,
        community: str | None,
        author: str,
        bot: bool,
        language: str | None,
    ) -> Item:
        """An item from a mention's stored or fetched fields; the source key gives its kind."""
        subreddit = community.lower() if community and network == "reddit" else None
        kind, name = source_scope(brand, source, subreddit=subreddit)
        return cls(
            text=text,
            network=network,
            source_kind=kind,
            source_name=name,
            subreddit=subreddit,
            author=author.lower(),
            bot=bot,
            language=language,
        )

    @property
    def instance(self) -> str | None:
        """The author's Mastodon instance (the part after @), if the handle has one."""
        _, at, domain = self.author.rpartition("@")
        return domain if at and self.network != "reddit" else None


def source_scope(brand: str, source_key: str, *, subreddit: str | None) -> tuple[str, str | None]:
    """The kind of a source and the name a scope may give it, from the connectors' keys.

    Reddit: ``{brand}:r/{a+b}:new|comments`` (the item's subreddit names it), ``:search``,
    ``:inbox``; Mastodon: ``{brand}:tag:{tag}[@host]``, ``:mentions``, ``:account:{acct}``,
    ``:search``.
    """
    key = source_key.removeprefix(f"{brand}:")
    if _REDDIT_LISTING.match(key):
        return "subreddits", f"r/{subreddit}" if subreddit else None
    if key.startswith("tag:"):
        return "hashtags", "#" + key.removeprefix("tag:").partition("@")[0].lower()
    if key.startswith("account:"):
        return "accounts", "@" + key.removeprefix("account:").lower()
    if key in ("inbox", "mentions"):
        return "mentions", None
    if key == "search":
        return "search", None
    return OTHER, None


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an item is kept, which rule decided, and why in words."""

    kept: bool
    rule: str  # as counted: 'exclude "brewly beer"', "exclude_bots", "scope"... or "kept"
    reason: str


def _detect_language(text: str) -> str | None:
    """The language lingua detects (sentiment.language), loaded on first use."""
    from sentiment.language import detect_language

    return detect_language(text)


def author_key(handle: str) -> str:
    """A configured author as handles are stored: no u/ or leading @, lower case."""
    return re.sub(r"^(/?u/|@)", "", handle.strip()).lower()


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One brand's rules, compiled: ``decide`` says whether an item becomes a mention."""

    brand: str
    terms: tuple[Term, ...] = ()  # the brand's keywords and hashtags, for scope keyword
    query: Query | None = None
    exclude: tuple[Term, ...] = ()
    exclude_subreddits: frozenset[str] = frozenset()
    exclude_authors: frozenset[str] = frozenset()
    exclude_instances: tuple[str, ...] = ()
    bots: frozenset[str] = DEFAULT_BOTS  # known bot handles; empty with exclude_bots off
    exclude_network_bots: bool = True  # accounts the network flags as bots
    languages: frozenset[str] = frozenset()  # empty: any language
    min_length: int = 0
    scope: Mapping[str, str] = field(default_factory=dict)  # kind or r/name, #tag -> scope
    detect_language: Callable[[str], str | None] = _detect_language

    @classmethod
    def compile(
        cls,
        *,
        brand: str,
        keywords: Iterable[str] = (),
        hashtags: Iterable[str] = (),
        query: Query | None = None,
        exclude: Iterable[str] = (),
        exclude_subreddits: Iterable[str] = (),
        exclude_authors: Iterable[str] = (),
        exclude_instances: Iterable[str] = (),
        exclude_bots: bool = True,
        bots: Iterable[str] = (),
        languages: Iterable[str] = (),
        min_length: int = 0,
        scope: Mapping[str, str] | None = None,
        detect_language: Callable[[str], str | None] | None = None,
    ) -> RuleSet:
        """Build the rules from configured values (raises ValueError on an empty term)."""
        terms = [*(Term(k) for k in keywords), *(Term("#" + t.lstrip("#")) for t in hashtags)]
        return cls(
            brand=brand,
            terms=tuple(dict.fromkeys(terms)),
            query=query,
            exclude=tuple(dict.fromkeys(Term(word) for word in exclude)),
            exclude_subreddits=frozenset(
                re.sub(r"^/?r/", "", s.strip()).lower() for s in exclude_subreddits
            ),
            exclude_authors=frozenset(author_key(a) for a in exclude_authors),
            exclude_instances=tuple(i.strip().lower() for i in exclude_instances),
            bots=DEFAULT_BOTS | {author_key(b) for b in bots} if exclude_bots else frozenset(),
            exclude_network_bots=exclude_bots,
            languages=frozenset(lang.strip().lower() for lang in languages),
            min_length=min_length,
            scope=dict(scope or {}),
            detect_language=detect_language or _detect_language,
        )

    def scope_of(self, item: Item) -> str:
        """``all`` or ``keyword`` for the item's source: its own name first, then its kind."""
        if item.source_name is not None and item.source_name in self.scope:
            return self.scope[item.source_name]
        return self.scope.get(item.source_kind, ALL)

    def decide(self, item: Item) -> Decision:
        """Whether ``item`` is kept; the first rule that excludes it decides."""
        excluded = self._excluded_by_source(item)
        if excluded is not None:
            return excluded
        if self.min_length:
            length = len(" ".join(item.text.split()))
            if length < self.min_length:
                return Decision(
                    False, "min_length", f"{length} characters, fewer than {self.min_length}"
                )
        text = FoldedText.of(item.text)
        for term in self.exclude:
            if term.matches(text):
                return Decision(False, f"exclude {term.label()}", f"the text has {term.label()}")
        if self.languages:
            language, given = _base_language(item.language), True
            if language is None:
                language, given = _base_language(self.detect_language(item.text)), False
            if language is not None and language not in self.languages:
                how = "given by the network" if given else "detected"
                wanted = ", ".join(sorted(self.languages))
                return Decision(
                    False, "languages", f"written in {language} ({how}), not in {wanted}"
                )
        if self.query is not None and not self.query.matches(text):
            return Decision(False, "query", f"the text does not match {self.query}")
        where = item.source_name or (
            item.source_kind if item.source_kind != OTHER else "any source"
        )
        if self.scope_of(item) == KEYWORD:
            found = next((term for term in self.terms if term.matches(text)), None)
            if found is None:
                return Decision(
                    False, "scope", f"{where} keeps only posts with a keyword; none found"
                )
            return Decision(True, "kept", f"has keyword {found.label()} ({where}: scope keyword)")
        if self.query is not None:
            return Decision(True, "kept", f"matches the query ({where}: scope all)")
        return Decision(True, "kept", f"nothing excludes it ({where}: scope all)")

    def _excluded_by_source(self, item: Item) -> Decision | None:
        """Who wrote it and where: authors, bots, instances, subreddits."""
        user = item.author.partition("@")[0]
        for key in (item.author, user):
            if key in self.exclude_authors:
                return Decision(False, f"exclude_authors {key}", f"written by {item.author}")
        if self.exclude_network_bots and item.bot:
            return Decision(False, "exclude_bots", f"{item.author} is flagged as a bot account")
        if item.author in self.bots or user in self.bots:
            return Decision(False, "exclude_bots", f"{item.author} is a known bot account")
        instance = item.instance
        if instance is not None:
            for excluded in self.exclude_instances:
                if instance == excluded or instance.endswith("." + excluded):
                    return Decision(
                        False, f"exclude_instances {excluded}", f"posted from {instance}"
                    )
        if item.subreddit is not None and item.subreddit in self.exclude_subreddits:
            return Decision(
                False, f"exclude_subreddits r/{item.subreddit}", f"posted in r/{item.subreddit}"
            )
        return None


def _base_language(code: str | None) -> str | None:
    """``en-US`` -> ``en``; None stays None."""
    if not code:
        return None
    return re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0] or None
