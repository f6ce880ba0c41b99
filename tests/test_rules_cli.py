"""``social-crm rules test`` and ``rules replay``: rules tried before they go live."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import Batch
from social_crm.config import load_config
from social_crm.db import Database
from social_crm.mentions.ingest import store_batch

from .commands import COLUMNS, one_error_line, social_crm
from .factories import BRAND, mention

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # one backend will do

RULES = {
    "exclude": ["giveaway", "brewly beer"],
    "exclude_instances": ["spam.example"],
    "exclude_subreddits": ["beer"],
    "languages": ["en", "nl"],
    "scope": {"r/espresso": "keyword"},
}


@pytest.fixture
def config(write_config, db_url: str) -> Path:
    return write_config(brands=[{**BRAND, "rules": RULES}], database={"url": db_url})


def test_a_text_an_exclusion_drops_names_the_rule(config: Path) -> None:
    result = social_crm("rules", "test", "Brewly", "Win a Brewly! GIVEAWAY", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "Brewly: dropped\nrule: exclude giveaway\nwhy:  the text has giveaway\n"
    )


def test_a_kept_text_says_which_scope_kept_it(config: Path) -> None:
    kept = social_crm(
        "rules",
        "test",
        "brewly",
        "My Brewly grinder is great",
        "--subreddit",
        "espresso",
        "--language",
        "en",
        "-c",
        str(config),
    )
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout == ("Brewly: kept\nwhy:  has keyword brewly (r/espresso: scope keyword)\n")
    dropped = social_crm(
        "rules",
        "test",
        "Brewly",
        "Which grinder for espresso?",
        "--subreddit",
        "espresso",
        "--language",
        "en",
        "-c",
        str(config),
    )
    assert "rule: scope\n" in dropped.stdout
    anywhere = social_crm(
        "rules",
        "test",
        "Brewly",
        "Which grinder for espresso?",
        "--subreddit",
        "brewly",
        "--language",
        "en",
        "-c",
        str(config),
    )
    assert anywhere.stdout.startswith("Brewly: kept\n")


@pytest.mark.parametrize(
    ("options", "rule"),
    [
        (["--language", "de"], "languages"),
        (["--subreddit", "beer"], "exclude_subreddits r/beer"),
        (["--author", "u/AutoModerator"], "exclude_bots"),
        (["--network", "mastodon", "--author", "deals@botsin.space", "--bot"], "exclude_bots"),
        (["--author", "@anna@spam.example"], "exclude_instances spam.example"),
    ],
)
def test_who_where_and_which_language(config: Path, options: list[str], rule: str) -> None:
    result = social_crm("rules", "test", "Brewly", "Brewly rocks", *options, "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["Brewly: dropped", f"rule: {rule}"]


def test_an_unknown_brand_is_one_line(config: Path) -> None:
    line = one_error_line(social_crm("rules", "test", "Acme", "hello", "-c", str(config)))
    assert line == "error: no brand named 'Acme' in the configuration; brands: Brewly"


def test_a_bad_query_is_one_line_naming_the_column(write_config, db_url: str) -> None:
    path = write_config(
        brands=[{**BRAND, "rules": {"query": "(brewly OR brew) AND NOT"}}],
        database={"url": db_url},
    )
    line = one_error_line(social_crm("rules", "test", "Brewly", "hello", "-c", str(path)))
    assert f"{path}: brands.0.rules.query: expected a term after NOT at column 25" in line


def test_replay_reports_what_the_current_rules_would_drop(config: Path, db: Database) -> None:
    recent = datetime.now(UTC) - timedelta(days=1)
    stored = [
        replace(mention("t3_1", text="Love my Brewly grinder"), created_at=recent),
        replace(mention("t3_2", text="Brewly giveaway, boost to win"), created_at=recent),
        replace(
            mention("t3_3", author="automoderator", text="Brewly post flagged"), created_at=recent
        ),
        replace(
            mention("t3_4", text="Which grinder?"),
            created_at=recent,
            source="Brewly:r/brewly+espresso:new",
            community="espresso",
        ),
        mention("t3_5", text="Brewly giveaway long ago"),  # older than the week replayed
    ]
    with db.transaction() as session:
        store_batch(session, "reddit", "Brewly:r/brewly+espresso:new", Batch(stored, "t3_5"))
    result = social_crm("rules", "replay", "Brewly", "--days", "7", "-c", str(config))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Brewly: 4 stored mention(s) since ")
    assert lines[0].endswith("UTC: 1 kept, 3 dropped")
    assert all(len(line) <= COLUMNS for line in lines), result.stdout
    titles = [line.strip() for line in lines]
    by_rule = lines[titles.index("Dropped by rule") :]
    listed = lines[titles.index("Would be dropped") :]
    assert [line.split() for line in by_rule[3:6]] == [
        ["exclude", "giveaway", "1"],
        ["exclude_bots", "1"],
        ["scope", "1"],
    ]
    assert [line.split()[:4] for line in listed[3:]] == [
        ["2", "erik", "exclude", "giveaway"],
        ["3", "automoderator", "exclude_bots", "Brewly"],
        ["4", "erik", "scope", "Which"],
    ]
    assert "Love my Brewly grinder" not in result.stdout and "long ago" not in result.stdout
    again = social_crm("rules", "replay", "Brewly", "-c", str(config))  # a replay reads only
    assert again.stdout.splitlines()[0] == lines[0]


def test_replay_with_no_mentions(config: Path) -> None:
    result = social_crm("rules", "replay", "Brewly", "--days", "0.5", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("UTC: 0 kept, 0 dropped\n")


def test_status_shows_what_the_rules_left_out(config: Path, db: Database) -> None:
    rules = load_config(config).brands[0].rule_set()
    noise = [
        mention("t3_a", text="Brewly giveaway!"),
        mention("t3_b", text="Another giveaway by Brewly"),
        mention("t3_c", author="automoderator", text="Brewly flagged"),
    ]
    with db.transaction() as session:
        store_batch(session, "reddit", "Brewly:search", Batch(noise, "t3_c"), rules=rules)
    result = social_crm("status", "-c", str(config))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Left out by listening rules" in out
    table = out[out.index("Left out by listening rules") :].splitlines()
    rows = [line.split() for line in table if "Brewly:search" in line]
    assert any(row[1:4] == ["exclude", "giveaway", "2"] for row in rows), table
    assert any(row[1:3] == ["exclude_bots", "1"] for row in rows), table
    assert all(len(line) <= COLUMNS for line in out.splitlines()), out
