"""``customers import --prune``: a customer the CRM no longer lists goes, with its links."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import Batch
from social_crm.customers.enums import SuggestionStatus
from social_crm.customers.importer import import_customers
from social_crm.customers.models import Customer, Identity, LinkSuggestion
from social_crm.db import Database
from social_crm.errors import InputFileError
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import AuthorRecord

from .commands import social_crm
from .factories import BRAND, mention

HEADER = "id,name,email,tier,reddit,mastodon\n"
ANNA = "C-1,Anna de Vries,anna@example.nl,gold,anna_dv,\n"
ERIK = "C-2,Erik Jansen,erik@example.com,silver,espresso_erik,\n"
LISA = "C-3,Lisa Smit,,,,@lisa@mastodon.nl\n"


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "crm.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


@pytest.fixture
def linked(db: Database, tmp_path: Path) -> None:
    """Three customers; Anna's and Erik's Reddit authors linked; a suggestion for Erik."""
    with db.transaction() as session:
        store_batch(
            session,
            "reddit",
            "src",
            Batch(
                [mention("t3_a", author="anna_dv"), mention("t3_b", author="espresso_erik")], None
            ),
        )
        store_batch(session, "reddit", "src", Batch([mention("t3_c", author="someone")], None))
    with db.transaction() as session:
        assert import_customers(session, write(tmp_path, ANNA, ERIK, LISA)).authors_linked == 2
        erik = session.scalar(select(Customer).where(Customer.external_id == "C-2"))
        someone = session.scalar(select(AuthorRecord).where(AuthorRecord.handle == "someone"))
        session.add(
            LinkSuggestion(
                author_id=someone.id,
                customer_id=erik.id,
                confidence=0.5,
                evidence=[],
                status=SuggestionStatus.PENDING,
            )
        )


def links(db: Database) -> dict[str, str | None]:
    with db.transaction() as session:
        return {
            author.handle: author.customer.external_id if author.customer else None
            for author in session.scalars(select(AuthorRecord))
        }


def customers(db: Database) -> list[str]:
    with db.transaction() as session:
        return sorted(session.scalars(select(Customer.external_id)))


def test_prune_deletes_customers_absent_from_the_file_with_their_links(
    db: Database, tmp_path: Path, linked: None
) -> None:
    with db.transaction() as session:
        result = import_customers(session, write(tmp_path, ANNA), prune=True)
    assert (result.pruned, result.unchanged) == (2, 1)
    assert customers(db) == ["C-1"]
    assert links(db) == {"anna_dv": "C-1", "espresso_erik": None, "someone": None}
    with db.transaction() as session:
        assert sorted(session.scalars(select(Identity.handle))) == ["anna_dv"]
        assert session.scalars(select(LinkSuggestion)).all() == []
        erik = session.scalar(select(AuthorRecord).where(AuthorRecord.handle == "espresso_erik"))
        assert (erik.linked_by, erik.linked_at, erik.link_evidence) == (None, None, None)


def test_without_prune_nothing_is_deleted(db: Database, tmp_path: Path, linked: None) -> None:
    with db.transaction() as session:
        result = import_customers(session, write(tmp_path, ANNA))
    assert result.pruned == 0
    assert customers(db) == ["C-1", "C-2", "C-3"]
    assert links(db) == {"anna_dv": "C-1", "espresso_erik": "C-2", "someone": None}


def test_a_file_with_a_bad_row_prunes_nothing(db: Database, tmp_path: Path, linked: None) -> None:
    with pytest.raises(InputFileError, match="nothing was imported"):
        with db.transaction() as session:
            import_customers(session, write(tmp_path, ANNA, "C-4,,,,,\n"), prune=True)
    assert customers(db) == ["C-1", "C-2", "C-3"]
    assert links(db)["espresso_erik"] == "C-2"


def test_a_handle_moves_to_a_listed_customer_from_one_the_file_dropped(
    db: Database, tmp_path: Path, linked: None
) -> None:
    merged = "C-1,Anna de Vries,anna@example.nl,gold,anna_dv;espresso_erik,\n"
    with db.transaction() as session:
        result = import_customers(session, write(tmp_path, merged, LISA), prune=True)
    assert result.pruned == 1
    assert links(db) == {"anna_dv": "C-1", "espresso_erik": "C-1", "someone": None}


def test_a_file_listing_nobody_is_refused_rather_than_pruning_everyone(
    db: Database, tmp_path: Path, linked: None
) -> None:
    with pytest.raises(InputFileError, match="lists no customers; pruning would delete them all"):
        with db.transaction() as session:
            import_customers(session, write(tmp_path), prune=True)
    assert customers(db) == ["C-1", "C-2", "C-3"]


def test_the_import_command_says_how_many_were_pruned(
    write_config, db_url: str, db: Database, tmp_path: Path, linked: None
) -> None:
    config = write_config(brands=[BRAND], database={"url": db_url})
    done = social_crm(
        "customers", "import", str(write(tmp_path, ANNA, LISA)), "--prune", "-c", str(config)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 created, 0 updated, 2 unchanged, 1 pruned; 0 author(s) linked"
