"""Linking authors to customers on evidence: each kind, the thresholds, people's decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from social_crm.cli import app
from social_crm.config import LinkingConfig
from social_crm.customers import linking
from social_crm.customers.importer import import_customers
from social_crm.customers.linking import customers_changed, link_authors
from social_crm.customers.models import LinkSuggestion
from social_crm.db import Database
from social_crm.errors import InvalidTransition, NotFound
from social_crm.mentions.models import AuthorRecord

CRM = """id,name,email,tier,status,website,reddit,mastodon
C-1,Anna de Vries,anna@example.nl,gold,active,https://www.bakkerij-anna.nl/,,@anna@mastodon.nl
C-2,Erik Jansen,erik@example.com,silver,active,,espresso_erik,
C-3,Gus Grant,gus@example.com,vip,active,https://grant-roasters.com,,
C-4,Lisa Latte,lisa@latte.example,standard,churned,github.com/lisalatte,,
C-5,Annabel Vries,annabel@example.org,standard,,,,
"""

# Mastodon sends profile fields as HTML; verified_at is set when the link points back (rel=me).
VERIFIED = {
    "note": "<p>Coffee nerd</p>",
    "fields": [
        {
            "name": "Shop",
            "value": '<a href="https://shop.grant-roasters.com/" rel="me nofollow noopener" '
            'target="_blank"><span class="invisible">https://</span>'
            '<span class="">shop.grant-roasters.com/</span></a>',
            "verified_at": "2026-10-01T10:00:00.000+00:00",
        }
    ],
}
UNVERIFIED = {**VERIFIED, "fields": [{**VERIFIED["fields"][0], "verified_at": None}]}


@pytest.fixture
def crm(db: Database, tmp_path: Path) -> Database:
    path = tmp_path / "crm.csv"
    path.write_text(CRM, encoding="utf-8")
    with db.transaction() as session:
        import_customers(session, path)
    return db


def add_author(
    db: Database,
    network: str,
    handle: str,
    *,
    display_name: str = "",
    profile: dict[str, Any] | None = None,
) -> None:
    with db.transaction() as session:
        session.add(
            AuthorRecord(
                network=network,
                handle=handle,
                display_name=display_name,
                url="",
                followers=0,
                profile=profile,
            )
        )


def run(db: Database, config: LinkingConfig | None = None) -> int:
    with db.transaction() as session:
        return link_authors(session, config)


def link_of(db: Database, network: str, handle: str) -> tuple[str | None, str | None, list[str]]:
    """(customer external id, linked by, evidence kinds) of an author."""
    with db.transaction() as session:
        author = session.scalars(
            select(AuthorRecord).where(
                AuthorRecord.network == network, AuthorRecord.handle == handle
            )
        ).one()
        return (
            author.customer.external_id if author.customer else None,
            author.linked_by,
            sorted(e["kind"] for e in author.link_evidence or []),
        )


def suggestions(db: Database) -> list[tuple[str, str, str, float]]:
    with db.transaction() as session:
        return [
            (s.author.handle, s.customer.external_id, s.status, s.confidence)
            for s in session.scalars(select(LinkSuggestion).order_by(LinkSuggestion.id))
        ]


# Each kind of evidence, alone and together: (network, handle, display name, profile),
# then what linking should do: link to / suggest (customer, confidence) / nothing, and why.
SCENARIOS: list[
    tuple[str, str, str, dict[str, Any] | None, str | None, tuple[str, float] | None, list[str]]
] = [
    # The CRM lists the handle: linked, whatever else.
    ("reddit", "espresso_erik", "espresso_erik", None, "C-2", None, ["crm_handle"]),
    ("mastodon", "anna@mastodon.nl", "Anna", None, "C-1", None, ["crm_handle"]),
    # A rel=me verified link to the customer's site (a subdomain of it): linked.
    ("mastodon", "gus@roasters.social", "Roaster G", VERIFIED, "C-3", None, ["verified_link"]),
    # The same link, not verified: a suggestion.
    ("mastodon", "gus@other.social", "", UNVERIFIED, None, ("C-3", 0.4), []),
    # The customer's email in the bio: a suggestion; with their name too: linked.
    (
        "mastodon",
        "av@social.example",
        "",
        {"note": "mail: Anna@Example.nl"},
        None,
        ("C-1", 0.8),
        [],
    ),
    (
        "mastodon",
        "anna2@social.example",
        "Anna de Vries ☕",
        {"note": "<p>Write to <a href='mailto:anna@example.nl'>anna@example.nl</a></p>"},
        "C-1",
        None,
        ["display_name", "email_in_profile"],
    ),
    # The same username as a customer's on another network: a suggestion.
    ("mastodon", "espresso_erik@fosstodon.org", "Erik J.", None, None, ("C-2", 0.5), []),
    # A name alone, even exact: nothing.
    ("reddit", "vries_a", "Annabel Vries", None, None, None, []),
    ("reddit", "annadevries", "annadevries", None, None, None, []),
    # On a host many share, the path names the person: github.com/lisalatte, not /bob.
    (
        "mastodon",
        "lisa@hachyderm.io",
        "",
        {"note": "code: github.com/LisaLatte"},
        None,
        ("C-4", 0.4),
        [],
    ),
    (
        "mastodon",
        "bob@hachyderm.io",
        "Bob",
        {"note": "github.com/bob https://example.com"},
        None,
        None,
        [],
    ),
    # The customer's domain and a loosely similar name: a suggestion, not a link.
    (
        "reddit",
        "grant_fan",
        "Gus Grant fan club",
        {"note": "I love grant-roasters.com"},
        None,
        ("C-3", 0.4),
        [],
    ),
]


def test_each_kind_of_evidence_links_suggests_or_does_nothing(crm: Database) -> None:
    for network, handle, name, profile, *_ in SCENARIOS:
        add_author(crm, network, handle, display_name=name, profile=profile)
    assert run(crm) == 4
    made = correct = 0
    for network, handle, _name, _profile, customer, _suggested, kinds in SCENARIOS:
        linked = link_of(crm, network, handle)
        if linked[0] is not None:
            made += 1
            correct += linked[0] == customer
        assert linked[0] == customer, handle
        assert linked[2] == kinds, handle
        if customer is not None:
            assert linked[1] == ("crm-handle" if kinds == ["crm_handle"] else "auto")
    assert (made, correct) == (4, 4)  # the precision of these scenarios: every link is right
    expected = sorted(
        (handle, suggested[0], "pending", suggested[1])
        for _n, handle, _d, _p, _c, suggested, _k in SCENARIOS
        if suggested
    )
    assert sorted(suggestions(crm)) == expected
    with crm.transaction() as session:
        author = session.scalars(
            select(AuthorRecord).where(AuthorRecord.handle == "espresso_erik")
        ).one()
        assert author.link_evidence == [
            {
                "kind": "crm_handle",
                "detail": "the CRM lists reddit handle espresso_erik",
                "weight": 1.0,
            }
        ]
        assert author.linked_at is not None
    # A lower bar makes a name alone a suggestion.
    with crm.transaction() as session:
        customers_changed(session)
    run(crm, LinkingConfig(suggest_threshold=0.25))
    assert ("vries_a", "C-5") in {(h, c) for h, c, _s, _c in suggestions(crm)}


def test_rivals_wait_for_a_person_who_confirms_one_and_settles_the_others(
    crm: Database,
) -> None:
    add_author(
        crm,
        "mastodon",
        "family@social.example",
        profile={"note": "anna@example.nl annabel@example.org"},
    )
    # Both customers clear the bar: no automatic link, a suggestion each.
    assert run(crm, LinkingConfig(auto_link_threshold=0.8)) == 0
    assert {(c, s) for _h, c, s, _c in suggestions(crm)} == {("C-1", "pending"), ("C-5", "pending")}
    with crm.transaction() as session:
        pending = linking.pending_suggestions(session)
        chosen = next(s for s in pending if s.customer_external_id == "C-5")
        linking.confirm(session, chosen.id, by="maria")
    assert link_of(crm, "mastodon", "family@social.example") == (
        "C-5",
        "maria",
        ["email_in_profile"],
    )
    assert {(c, s) for _h, c, s, _c in suggestions(crm)} == {
        ("C-1", "superseded"),
        ("C-5", "confirmed"),
    }
    with crm.transaction() as session, pytest.raises(InvalidTransition, match="already linked"):
        linking.confirm(session, chosen.id, by="maria")
    with crm.transaction() as session, pytest.raises(NotFound, match="no link suggestion"):
        linking.confirm(session, 999, by="maria")


def test_rejected_and_unlinked_pairs_are_never_linked_again(crm: Database) -> None:
    add_author(crm, "mastodon", "gus@roasters.social", profile=UNVERIFIED)
    run(crm)
    with crm.transaction() as session:
        (suggestion,) = linking.pending_suggestions(session)
        linking.reject(session, suggestion.id, by="maria")
    with crm.transaction() as session:
        # Stronger evidence later: still not linked to the rejected customer.
        author = session.scalars(select(AuthorRecord)).one()
        author.profile = VERIFIED
        author.link_checked_at = None
    assert run(crm) == 0
    assert suggestions(crm) == [("gus@roasters.social", "C-3", "rejected", 0.4)]
    assert link_of(crm, "mastodon", "gus@roasters.social")[0] is None

    # An unlinked pair is remembered the same way.
    add_author(crm, "reddit", "espresso_erik")
    run(crm)
    with crm.transaction() as session:
        linking.unlink(session, "reddit", "u/Espresso_Erik", by="maria")
    with crm.transaction() as session:
        customers_changed(session)  # everything is looked at again...
    assert run(crm) == 0  # ...but this pair stays apart
    assert link_of(crm, "reddit", "espresso_erik") == (None, None, [])
    assert suggestions(crm)[1] == ("espresso_erik", "C-2", "unlinked", 1.0)
    with crm.transaction() as session, pytest.raises(InvalidTransition, match="not linked"):
        linking.unlink(session, "reddit", "espresso_erik", by="maria")
    with crm.transaction() as session:  # a person may still link them again, on purpose
        memory = session.scalars(
            select(LinkSuggestion).where(LinkSuggestion.status == "unlinked")
        ).one()
        linking.confirm(session, memory.id, by="maria")
    assert link_of(crm, "reddit", "espresso_erik")[:2] == ("C-2", "maria")


def test_only_new_or_changed_authors_are_looked_at(
    crm: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_at: list[str] = []
    real = linking.gather_evidence

    def counting(session, authors, config):  # type: ignore[no-untyped-def]
        looked_at.extend(a.handle for a in authors)
        return real(session, authors, config)

    monkeypatch.setattr(linking, "gather_evidence", counting)
    add_author(crm, "mastodon", "espresso_erik@fosstodon.org")
    add_author(crm, "reddit", "nobody_special")
    run(crm)
    assert sorted(looked_at) == ["espresso_erik@fosstodon.org", "nobody_special"]
    looked_at.clear()
    run(crm)
    assert looked_at == []  # nothing new: nothing looked at
    add_author(crm, "reddit", "newcomer")
    run(crm)
    assert looked_at == ["newcomer"]
    looked_at.clear()
    with crm.transaction() as session:
        customers_changed(session)
    run(crm)
    assert sorted(looked_at) == ["espresso_erik@fosstodon.org", "newcomer", "nobody_special"]

    # A new link sends authors of the same username elsewhere back for a look.
    add_author(crm, "mastodon", "gusgrant@roasters.social")
    run(crm)
    assert [h for h, *_ in suggestions(crm)] == ["espresso_erik@fosstodon.org"]
    add_author(crm, "reddit", "gusgrant", display_name="gusgrant", profile=VERIFIED)
    run(crm)  # the reddit author links on its verified link...
    assert link_of(crm, "reddit", "gusgrant")[0] == "C-3"
    run(crm)  # ...and the next run suggests the mastodon one with the same username
    assert suggestions(crm)[1:] == [("gusgrant@roasters.social", "C-3", "pending", 0.5)]


def test_the_links_commands(crm: Database, db_url: str, write_config, monkeypatch) -> None:
    monkeypatch.setattr("social_crm.cli.render.console", Console(width=300))
    add_author(crm, "mastodon", "gus@roasters.social", profile=UNVERIFIED)
    add_author(crm, "reddit", "espresso_erik")
    run(crm)
    config = str(write_config(database={"url": db_url}))
    runner = CliRunner()
    review = runner.invoke(app, ["links", "review", "-c", config])
    assert review.exit_code == 0, review.output
    assert "mastodon:gus@roasters.social" in review.stdout and "domain_in_profile" in review.stdout
    (suggestion_id,) = [s.id for s in _pending(crm)]
    confirm = runner.invoke(
        app, ["links", "confirm", str(suggestion_id), "--by", "maria", "-c", config]
    )
    assert confirm.exit_code == 0, confirm.output
    assert link_of(crm, "mastodon", "gus@roasters.social")[:2] == ("C-3", "maria")
    unlink = runner.invoke(app, ["links", "unlink", "reddit", "espresso_erik", "-c", config])
    assert unlink.exit_code == 0, unlink.output
    assert "unlinked from Erik Jansen" in unlink.stdout
    assert "no suggestions waiting" in runner.invoke(app, ["links", "review", "-c", config]).stdout
    missing = runner.invoke(app, ["links", "reject", "999", "-c", config])
    assert isinstance(missing.exception, NotFound)


def _pending(db: Database) -> list[linking.SuggestionView]:
    with db.transaction() as session:
        return linking.pending_suggestions(session)
