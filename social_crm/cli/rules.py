"""``social-crm rules``: try a brand's listening rules on a text, or on the stored mentions."""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from social_crm.cli import render
from social_crm.cli.common import ConfigOption, database, settings
from social_crm.cli.render import cell, when
from social_crm.errors import NotFound

if TYPE_CHECKING:
    from social_crm.listening import RuleSet
    from social_crm.mentions.exclusions import ReplayReport

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="Try the listening rules before they go live.", no_args_is_help=True)
BrandArgument = Annotated[str, typer.Argument(metavar="BRAND", help="The brand's name.")]


class Network(StrEnum):
    """Networks a text can be tried as coming from."""

    REDDIT = "reddit"
    MASTODON = "mastodon"


class SourceKind(StrEnum):
    """Sources that a subreddit or hashtag does not name."""

    SEARCH = "search"
    MENTIONS = "mentions"
    ACCOUNTS = "accounts"


@app.command("test")
def rules_test(
    brand: BrandArgument,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The post's text.")],
    network: Annotated[
        Network | None,
        typer.Option(
            help="Where it was posted (default: mastodon for --hashtag or an author "
            "user@instance, else reddit)."
        ),
    ] = None,
    subreddit: Annotated[
        str | None, typer.Option(help="Posted in this subreddit (a watched one's listing).")
    ] = None,
    hashtag: Annotated[
        str | None, typer.Option(help="Found in this hashtag's timeline (Mastodon).")
    ] = None,
    source: Annotated[
        SourceKind | None, typer.Option(help="Found by search, as a mention, or in an account.")
    ] = None,
    author: Annotated[
        str | None, typer.Option(help="Written by: reddit name or user@instance.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="The language the network gives (ISO 639-1).")
    ] = None,
    bot: Annotated[bool, typer.Option("--bot", help="The network flags the author as a bot.")] = (
        False
    ),
    config: ConfigOption = None,
) -> None:
    """Whether the brand's rules keep TEXT as a mention, and which rule decided."""
    from social_crm.listening import Item
    from social_crm.listening.rules import OTHER, author_key

    rules = _rules(config, brand)
    on_mastodon = hashtag is not None or "@" in (author or "").lstrip("@")
    chosen = network or (Network.MASTODON if on_mastodon else Network.REDDIT)
    kind, name = OTHER, None
    if subreddit is not None:
        kind, name = "subreddits", f"r/{subreddit.removeprefix('r/').lower()}"
    if hashtag is not None:
        kind, name = "hashtags", f"#{hashtag.lstrip('#').lower()}"
    if source is not None:
        kind, name = source.value, None
    item = Item(
        text=text,
        network=chosen.value,
        source_kind=kind,
        source_name=name,
        subreddit=subreddit.removeprefix("r/").lower() if subreddit else None,
        author=author_key(author) if author else "",
        bot=bot,
        language=language,
    )
    decision = rules.decide(item)
    verdict = "kept" if decision.kept else "dropped"
    render.console.print(f"{escape(rules.brand)}: {verdict}", highlight=False)
    if not decision.kept:
        render.console.print(f"rule: {escape(decision.rule)}", highlight=False, soft_wrap=True)
    render.console.print(f"why:  {escape(decision.reason)}", highlight=False, soft_wrap=True)


@app.command("replay")
def rules_replay(
    brand: BrandArgument,
    days: Annotated[
        float, typer.Option(min=0, help="Mentions written in the last DAYS days.")
    ] = 7.0,
    show: Annotated[int, typer.Option(min=0, help="List at most this many dropped ones.")] = 20,
    config: ConfigOption = None,
) -> None:
    """Run the current rules over the stored mentions: what they would keep and drop."""
    from social_crm.db.base import utcnow
    from social_crm.mentions.exclusions import replay

    rules = _rules(config, brand)
    since = utcnow() - timedelta(days=days)
    with database(config).transaction() as session:
        report = replay(session, rules, since=since)
    _print_replay(rules.brand, report, show=show)


def _rules(config: ConfigOption, brand: str) -> RuleSet:
    """The named brand's compiled rules (names compared case-insensitively)."""
    current = settings(config, sections=())
    for configured in current.brands:
        if configured.name.casefold() == brand.casefold():
            return configured.rule_set()
    names = ", ".join(b.name for b in current.brands)
    raise NotFound(f"no brand named {brand!r} in the configuration; brands: {names}")


def _print_replay(brand: str, report: ReplayReport, *, show: int) -> None:
    """Totals, the count per rule, and the first ``show`` mentions that would be dropped."""
    dropped = report.dropped_by_rule.total()
    render.console.print(
        f"{escape(brand)}: {report.total} stored mention(s) since {when(report.since)} UTC: "
        f"{report.kept} kept, {dropped} dropped",
        highlight=False,
    )
    if not dropped:
        return
    rules = render.table("rule", "dropped", title="Dropped by rule", flexible="rule")
    for rule, count in report.dropped_by_rule.most_common():
        rules.add_row(cell(rule), str(count))
    render.console.print(rules)
    if not show:
        return
    listed = render.table("id", "author", "rule", "text", title="Would be dropped", flexible="text")
    for mention in report.dropped[:show]:
        listed.add_row(
            str(mention.mention_id),
            cell(mention.author, 20),
            cell(mention.rule, 24),
            cell(mention.text),
        )
    render.console.print(listed)
    if dropped > show:
        render.console.print(f"... and {dropped - show} more (--show N lists more)")
