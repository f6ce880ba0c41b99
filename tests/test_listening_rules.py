"""Listening rules: which fetched items become mentions, and why the others do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from social_crm.config import load_config
from social_crm.errors import ConfigError
from social_crm.listening import Item, QuerySyntaxError, RuleSet, parse_query

from .factories import BRAND


def rules(**options: Any) -> RuleSet:
    """Brewly's rules: keyword brewly, hashtag brewly, languages detected as ``detected``."""
    detected = options.pop("detected", None)
    options.setdefault("keywords", ["brewly"])
    options.setdefault("hashtags", ["brewly"])
    if "query" in options:
        options["query"] = parse_query(options["query"])
    return RuleSet.compile(brand="Brewly", detect_language=lambda _text: detected, **options)


def item(text: str, **fields: Any) -> Item:
    """A Reddit post found by search, unless ``fields`` say otherwise."""
    fields.setdefault("network", "reddit")
    fields.setdefault("source_kind", "search")
    return Item(text=text, **fields)


R_ESPRESSO = {"source_kind": "subreddits", "source_name": "r/espresso", "subreddit": "espresso"}
R_BREWLY = {"source_kind": "subreddits", "source_name": "r/brewly", "subreddit": "brewly"}
TAG_COFFEE = {"network": "mastodon", "source_kind": "hashtags", "source_name": "#coffee"}

# (what it shows, rule options, the item, kept, the rule that decided)
TABLE: list[tuple[str, dict[str, Any], Item, bool, str]] = [
    # word boundaries
    ("a longer word is another word", {"exclude": ["beer"]}, item("Brewly beers"), True, "kept"),
    ("a whole word", {"exclude": ["beer"]}, item("Brewly beer!"), False, "exclude beer"),
    (
        "hyphens separate words",
        {"exclude": ["beer"]},
        item("root-beer Brewly"),
        False,
        "exclude beer",
    ),
    ("no match inside a word", {"query": "brewly"}, item("brewlyx rocks"), False, "query"),
    ("a possessive is the word", {"query": "brewly"}, item("Brewly's grinder"), True, "kept"),
    ("a word matches its hashtag", {"query": "brewly"}, item("love it #Brewly"), True, "kept"),
    # case and accents
    (
        "accents in the text",
        {"exclude": ["cafe"]},
        item("Brewly CAFÉ opens"),
        False,
        "exclude cafe",
    ),
    ("accents in the term", {"query": "crème"}, item("CREME brulee"), True, "kept"),
    ("casefolding", {"query": "strasse"}, item("Brewly Straße 5"), True, "kept"),
    ("typographic apostrophe", {"query": "brewly's"}, item("Brewly’s grinder"), True, "kept"),
    # phrases
    (
        "a phrase across lines",
        {"exclude": ["brewly beer"]},
        item("Brewly\n  BEER night"),
        False,
        'exclude "brewly beer"',
    ),
    (
        "a phrase's words apart",
        {"exclude": ["brewly beer"]},
        item("Brewly's new beer"),
        True,
        "kept",
    ),
    ("a quoted phrase", {"query": '"brew ly"'}, item("brew ly coffee"), True, "kept"),
    (
        "a phrase is not its words joined",
        {"query": '"brew ly"'},
        item("brewly coffee"),
        False,
        "query",
    ),
    # hashtags, cashtags, prefixes
    ("a tag needs the #", {"query": "#brewly"}, item("Brewly, no tag"), False, "query"),
    ("a tag", {"query": "#brewly"}, item("yes #BREWLY"), True, "kept"),
    ("a tag is a whole word", {"query": "#brewly"}, item("#brewlyfan"), False, "query"),
    ("a cashtag", {"query": "$BRWL"}, item("bought $brwl today"), True, "kept"),
    ("a cashtag needs the $", {"query": "$BRWL"}, item("BRWL is up"), False, "query"),
    ("a prefix", {"query": "brew*"}, item("brewing now"), True, "kept"),
    ("a prefix starts a word", {"query": "brew*"}, item("homebrew"), False, "query"),
    # boolean precedence: NOT, then AND, then OR
    ("OR is weaker than AND", {"query": "a OR b AND c"}, item("a"), True, "kept"),
    ("AND binds b and c", {"query": "a OR b AND c"}, item("b"), False, "query"),
    ("b and c", {"query": "a OR b AND c"}, item("b c"), True, "kept"),
    ("NOT binds one term", {"query": "NOT a AND b"}, item("b"), True, "kept"),
    ("NOT a AND b", {"query": "NOT a AND b"}, item("a b"), False, "query"),
    ("parentheses", {"query": "(a OR b) AND NOT c"}, item("b c"), False, "query"),
    ("parentheses, kept", {"query": "(a OR b) AND NOT c"}, item("b"), True, "kept"),
    ("double negation", {"query": "NOT NOT a"}, item("a"), True, "kept"),
    # who and where
    (
        "an excluded author",
        {"exclude_authors": ["u/SpamUser"]},
        item("Brewly", author="spamuser"),
        False,
        "exclude_authors spamuser",
    ),
    (
        "a bare name on any instance",
        {"exclude_authors": ["spammer"]},
        item("Brewly", network="mastodon", author="spammer@x.social"),
        False,
        "exclude_authors spammer",
    ),
    (
        "an instance's subdomain",
        {"exclude_instances": ["spam.example"]},
        item("Brewly", network="mastodon", author="a@eu.spam.example"),
        False,
        "exclude_instances spam.example",
    ),
    (
        "another instance",
        {"exclude_instances": ["spam.example"]},
        item("Brewly", network="mastodon", author="a@notspam.example"),
        True,
        "kept",
    ),
    (
        "an excluded subreddit",
        {"exclude_subreddits": ["r/Beer"]},
        item("Brewly", subreddit="beer"),
        False,
        "exclude_subreddits r/beer",
    ),
    ("a known bot, by default", {}, item("Brewly", author="automoderator"), False, "exclude_bots"),
    (
        "bots kept when asked",
        {"exclude_bots": False},
        item("Brewly", author="automoderator"),
        True,
        "kept",
    ),
    (
        "a bot the network flags",
        {},
        item("Brewly", network="mastodon", author="d@bots.in", bot=True),
        False,
        "exclude_bots",
    ),
    (
        "a configured bot",
        {"bots": ["FeedBot"]},
        item("Brewly", author="feedbot"),
        False,
        "exclude_bots",
    ),
    # scopes
    (
        "keyword scope without one",
        {"scope": {"subreddits": "keyword"}},
        item("grinder advice?", **R_ESPRESSO),
        False,
        "scope",
    ),
    (
        "keyword scope with one",
        {"scope": {"subreddits": "keyword"}},
        item("my BREWLY grinder", **R_ESPRESSO),
        True,
        "kept",
    ),
    (
        "a named source wins",
        {"scope": {"subreddits": "keyword", "r/brewly": "all"}},
        item("grinder advice?", **R_BREWLY),
        True,
        "kept",
    ),
    (
        "hashtags are keywords too",
        {"scope": {"hashtags": "keyword"}},
        item("#brewly today", **TAG_COFFEE),
        True,
        "kept",
    ),
    ("scope all by default", {}, item("grinder advice?", **R_ESPRESSO), True, "kept"),
    # languages
    (
        "the network's language",
        {"languages": ["en"]},
        item("Brewly ist toll", language="de"),
        False,
        "languages",
    ),
    ("a regional variant", {"languages": ["en"]}, item("Brewly", language="en-GB"), True, "kept"),
    (
        "the detected language",
        {"languages": ["en"], "detected": "nl"},
        item("Brewly is top"),
        False,
        "languages",
    ),
    (
        "the network's before detection",
        {"languages": ["nl"], "detected": "en"},
        item("x", language="nl"),
        True,
        "kept",
    ),
    (
        "undetectable is kept",
        {"languages": ["en"], "detected": None},
        item("Brewly!!"),
        True,
        "kept",
    ),
    # length
    ("too short", {"min_length": 10}, item("Brewly!"), False, "min_length"),
    ("spaces collapsed", {"min_length": 12}, item("Brewly    is  ok"), True, "kept"),
]


@pytest.mark.parametrize(
    ("options", "fetched", "kept", "rule"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
def test_rules_table(options: dict[str, Any], fetched: Item, kept: bool, rule: str) -> None:
    decision = rules(**options).decide(fetched)
    assert (decision.kept, decision.rule) == (kept, rule), decision.reason


def test_the_first_excluding_rule_decides_and_says_why() -> None:
    decision = rules(exclude=["giveaway"], exclude_subreddits=["beer"]).decide(
        item("Brewly giveaway", subreddit="beer")
    )
    assert decision.rule == "exclude_subreddits r/beer"
    assert decision.reason == "posted in r/beer"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("brewly AND NOT", "expected a term after NOT at column 15"),
        ("brewly AND NOT   ", "expected a term after NOT at column 15"),
        (
            "brewly coffee",
            'expected AND or OR before coffee at column 8 (quote "brewly coffee" to match a phrase)',
        ),
        ("(brewly OR beer) job", "expected AND or OR before job at column 18"),
        (
            "(brewly beer)",
            'expected AND, OR or ) before beer at column 9 (quote "brewly beer" to match a phrase)',
        ),
        ("brewly NOT beer", "expected AND or OR before NOT at column 8 (write AND NOT)"),
        ("(brewly OR beer", "missing ) to close the ( at column 1"),
        ("a AND ((b OR c)", "missing ) to close the ( at column 7"),
        ("brewly)", "unexpected ) at column 7: no ( to close"),
        ('"brew ly', "unclosed quote at column 1"),
        ("OR brewly", "expected a term before OR at column 1"),
        ("brewly AND ()", "empty parentheses at column 12"),
        ("brewly AND ) x", "expected a term after AND at column 12, found )"),
        ('brewly OR ""', "empty phrase at column 11"),
        ("brewly OR !!!", "!!! has no letter or digit to look for at column 11"),
        ("   ", "the query is empty"),
    ],
)
def test_query_errors_name_the_column(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert str(caught.value) == message


def test_a_bad_query_fails_loading_with_one_line_naming_file_field_and_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "social_crm.yaml"
    brand = {**BRAND, "rules": {"query": "brewly AND NOT"}}
    path.write_text(yaml.safe_dump({"brands": [brand]}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        f"{path}: brands.0.rules.query: expected a term after NOT at column 15"
    )


@pytest.mark.parametrize(
    ("rules_section", "problem"),
    [
        ({"scope": {"subreddit": "keyword"}}, "brands.0.rules.scope: unknown source 'subreddit'"),
        (
            {"scope": {"hashtags": "some"}},
            "brands.0.rules.scope.hashtags: Input should be 'all' or 'keyword'",
        ),
        ({"languages": ["english"]}, "brands.0.rules.languages: expected ISO 639-1 codes"),
        ({"exclude": ["  "]}, "brands.0.rules.exclude: an empty word or phrase matches nothing"),
        ({"exclude": ["--"]}, "brands.0.rules.exclude: -- has no letter or digit to look for"),
        (
            {"min_length": -1},
            "brands.0.rules.min_length: Input should be greater than or equal to 0",
        ),
        ({"exclude_words": ["x"]}, "brands.0.rules.exclude_words: unknown key"),
    ],
)
def test_rules_are_validated_at_load(tmp_path: Path, rules_section: dict, problem: str) -> None:
    path = tmp_path / "social_crm.yaml"
    path.write_text(yaml.safe_dump({"brands": [{**BRAND, "rules": rules_section}]}), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert problem in str(caught.value)


def test_a_brand_without_rules_keeps_everything_but_known_bots(tmp_path: Path) -> None:
    path = tmp_path / "social_crm.yaml"
    path.write_text(yaml.safe_dump({"brands": [BRAND]}), encoding="utf-8")
    brewly = load_config(path).brands[0].rule_set()
    anything = [
        item("unrelated words", **R_ESPRESSO),
        item("x", network="mastodon", source_kind="hashtags", source_name="#brewly"),
        item("Brewly hiring giveaway", language="de"),
    ]
    assert all(brewly.decide(fetched).kept for fetched in anything)
    assert not brewly.decide(item("Brewly", author="automoderator")).kept


# -- properties -------------------------------------------------------------------------

WORDS = ["brewly", "beer", "coffee", "grinder", "job", "hiring", "café", "crème", "ipa", "a", "b"]
ACCENTED = str.maketrans("aeiouc", "áéîõüç")
SEPARATORS = [" ", "  ", ", ", "\n", "! ", " - ", " (", ") "]

words = st.sampled_from(WORDS)
other_words = st.text(alphabet="abcdefghijklmnoprstuvwxyz", min_size=1, max_size=8)
separators = st.sampled_from(SEPARATORS)


def variant(text: str, how: int) -> str:
    """The same words as a person might write them: upper case, title case or accented."""
    return [text, text.upper(), text.title(), text.translate(ACCENTED)][how % 4]


@st.composite
def terms(draw: st.DrawFn) -> str:
    """A word or a two-word phrase."""
    first = draw(words)
    return first if draw(st.booleans()) else f"{first} {draw(words)}"


queries = st.recursive(
    st.one_of(words, terms().map(lambda t: f'"{t}"')),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
            lambda parts: f"({parts[0]} {parts[1]} {parts[2]})"
        ),
        inner.map(lambda q: f"NOT {q}"),
    ),
    max_leaves=6,
)


@st.composite
def rule_options(draw: st.DrawFn) -> dict[str, Any]:
    """Any mix of rules."""
    options: dict[str, Any] = {"exclude": draw(st.lists(terms(), max_size=3))}
    if draw(st.booleans()):
        options["query"] = draw(queries)
    if draw(st.booleans()):
        options["scope"] = {"subreddits": draw(st.sampled_from(["all", "keyword"]))}
    if draw(st.booleans()):
        options["exclude_subreddits"] = draw(st.lists(st.sampled_from(["beer", "espresso"])))
    if draw(st.booleans()):
        options["languages"] = ["en"]
    options["detected"] = draw(st.sampled_from([None, "en", "nl"]))
    return options


@st.composite
def texts(draw: st.DrawFn) -> str:
    """A post made of known and random words with punctuation between them."""
    parts = draw(st.lists(st.one_of(words, other_words), max_size=12))
    out = ""
    for part in parts:
        out += draw(variant_strategy(part)) + draw(separators)
    return out


def variant_strategy(text: str) -> st.SearchStrategy[str]:
    return st.integers(0, 3).map(lambda how: variant(text, how))


@st.composite
def items(draw: st.DrawFn) -> Item:
    """A Reddit item from a subreddit listing or search."""
    text = draw(texts())
    listing = draw(st.booleans())
    subreddit = draw(st.sampled_from(["beer", "espresso", "brewly"]))
    return item(
        text,
        source_kind="subreddits" if listing else "search",
        source_name=f"r/{subreddit}" if listing else None,
        subreddit=subreddit,
        author=draw(st.sampled_from(["anna", "automoderator", "bob"])),
        language=draw(st.sampled_from([None, "en", "de"])),
    )


@settings(max_examples=300, deadline=None)
@given(
    options=rule_options(),
    fetched=items(),
    excluded=terms(),
    how=st.integers(0, 3),
    before=texts(),
    after=texts(),
    separator=separators,
)
def test_a_text_with_an_excluded_term_never_passes(
    options: dict[str, Any],
    fetched: Item,
    excluded: str,
    how: int,
    before: str,
    after: str,
    separator: str,
) -> None:
    options["exclude"] = [*options["exclude"], excluded]
    written = " ".join(variant(word, how) for word in excluded.split())
    text = f"{before} {written}{separator}{after}"
    noisy = Item(**{**_fields(fetched), "text": text})
    assert not rules(**options).decide(noisy).kept


@settings(max_examples=300, deadline=None)
@given(options=rule_options(), fetched=items(), extra=st.data())
def test_adding_an_exclusion_never_adds_a_mention(
    options: dict[str, Any], fetched: Item, extra: st.DataObject
) -> None:
    kind = extra.draw(st.sampled_from(["exclude", "exclude_subreddits", "exclude_authors"]))
    value = extra.draw(
        {
            "exclude": terms(),
            "exclude_subreddits": st.sampled_from(["beer", "espresso", "brewly"]),
            "exclude_authors": st.sampled_from(["anna", "bob"]),
        }[kind]
    )
    stricter = {**options, kind: [*options.get(kind, []), value]}
    if rules(**stricter).decide(fetched).kept:
        assert rules(**options).decide(fetched).kept


@settings(max_examples=200, deadline=None)
@given(options=rule_options(), fetched=items(), how=st.integers(1, 3))
def test_case_and_accents_never_change_a_decision(
    options: dict[str, Any], fetched: Item, how: int
) -> None:
    written_otherwise = Item(**{**_fields(fetched), "text": variant(fetched.text, how)})
    ruleset = rules(**options)
    assert ruleset.decide(written_otherwise).kept == ruleset.decide(fetched).kept


@given(query=queries)
def test_a_query_reads_back_as_itself(query: str) -> None:
    parsed = parse_query(query)
    assert str(parse_query(str(parsed))) == str(parsed)


def _fields(fetched: Item) -> dict[str, Any]:
    return {name: getattr(fetched, name) for name in Item.__dataclass_fields__}
