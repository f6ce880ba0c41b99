"""Customer import: all or nothing, errors naming line and column, idempotent upserts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.base import Author, Batch, Mention
from social_crm.customers.handles import (
    name_key,
    normalise,
    normalise_mastodon,
    normalise_reddit,
    site_key,
)
from social_crm.customers.importer import export_customers, import_customers, read_customer_file
from social_crm.customers.models import Customer, Identity
from social_crm.db import Database
from social_crm.errors import InputFileError
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import AuthorRecord

from .factories import MENTION_T0

HEADER = "id,name,email,tier,reddit,mastodon\n"
GOOD = HEADER + (
    "C-1,Anna de Vries,anna@example.nl,gold,,@Anna@Mastodon.nl\n"
    "C-2,Erik Jansen,erik@example.com,silver,u/Espresso_Erik,\n"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(db: Database) -> list[tuple]:
    with db.transaction() as session:
        customers = session.execute(
            select(Customer.external_id, Customer.name, Customer.tier)
        ).all()
        identities = session.execute(select(Identity.network, Identity.handle)).all()
    return sorted(map(tuple, customers)) + sorted(map(tuple, identities))


def test_import_stores_customers_with_normalised_identities(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        result = import_customers(session, write(tmp_path, GOOD))
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert snapshot(db) == [
        ("C-1", "Anna de Vries", "gold"),
        ("C-2", "Erik Jansen", "silver"),
        ("mastodon", "anna@mastodon.nl"),
        ("reddit", "espresso_erik"),
    ]


def test_reimport_is_idempotent_and_updates_by_external_id(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        import_customers(session, write(tmp_path, GOOD))
    with db.transaction() as session:
        again = import_customers(session, write(tmp_path, GOOD))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = GOOD.replace("silver", "gold").replace("u/Espresso_Erik", "erik_2")
    with db.transaction() as session:
        result = import_customers(session, write(tmp_path, changed))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert ("reddit", "erik_2") in snapshot(db) and ("reddit", "espresso_erik") not in snapshot(db)
    assert ("C-2", "Erik Jansen", "gold") in snapshot(db)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("C-3,,x@y.z,gold,,\n", "line 4, column name: value is required"),
        ("C-3,Kees,not-an-email,,,\n", "line 4, column email: 'not-an-email' is not an address"),
        ("C-3,Kees,,,a b,\n", "line 4, column reddit: 'a b' is not a Reddit username"),
        ("C-3,Kees,,,,kees\n", "line 4, column mastodon: 'kees' needs its instance"),
        ("C-1,Anna again,,,,\n", "line 4, column id: 'C-1' already used on line 2"),
        (
            "C-3,Kees,,,espresso_erik,\n",
            "line 4, column reddit: 'espresso_erik' already belongs to customer 'C-2' on line 3",
        ),
        ("C-3,Kees,,,,,extra\n", "line 4: more fields than the header has columns"),
    ],
)
def test_a_bad_row_names_line_and_column_and_imports_nothing(
    db: Database, tmp_path: Path, rows: str, message: str
) -> None:
    with db.transaction() as session:
        import_customers(session, write(tmp_path, HEADER + "C-0,Zero,,,,\n"))
    before = snapshot(db)
    path = write(tmp_path, GOOD + rows)
    with pytest.raises(InputFileError) as raised, db.transaction() as session:
        import_customers(session, path)
    assert f"{path}: {message}" in str(raised.value)
    assert "nothing was imported" in str(raised.value)
    assert snapshot(db) == before


def test_a_bad_header_is_reported_before_any_row(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "id,fullname\nC-1,Anna\n")
    with pytest.raises(InputFileError, match=r"line 1: missing column\(s\) name"):
        with db.transaction() as session:
            import_customers(session, path)
    path = write(tmp_path, "id,name,phone\nC-1,Anna,123\n")
    with pytest.raises(InputFileError, match=r"line 1: unknown column\(s\) phone"):
        with db.transaction() as session:
            import_customers(session, path)


def test_a_handle_held_by_another_customer_in_the_database_is_refused(
    db: Database, tmp_path: Path
) -> None:
    with db.transaction() as session:
        import_customers(session, write(tmp_path, GOOD))
    path = write(tmp_path, HEADER + "C-9,Impostor,,,ESPRESSO_ERIK,\n")
    with pytest.raises(InputFileError, match="'espresso_erik' already belongs to customer 'C-2'"):
        with db.transaction() as session:
            import_customers(session, path)


def test_import_links_authors_already_seen(db: Database, tmp_path: Path) -> None:
    seen = Mention(
        network="reddit",
        native_id="t3_x",
        brand="Brewly",
        source="s",
        url="u",
        author=Author(network="reddit", handle="espresso_erik"),
        text="hi",
        created_at=MENTION_T0,
        kind="post",
        thread_id="t3_x",
    )
    with db.transaction() as session:
        store_batch(session, "reddit", "s", Batch([seen], None))
    with db.transaction() as session:
        assert import_customers(session, write(tmp_path, GOOD)).authors_linked == 1
    with db.transaction() as session:
        author = session.scalars(select(AuthorRecord)).one()
        assert author.customer is not None and author.customer.external_id == "C-2"
        assert session.scalar(select(func.count()).select_from(Customer)) == 2


REDDIT_NAMES = st.from_regex(r"[A-Za-z0-9_-]{3,20}", fullmatch=True)


@given(REDDIT_NAMES, st.sampled_from(["", "u/", "/u/", "U/", " "]))
def test_reddit_handles_normalise_to_one_form(name: str, prefix: str) -> None:
    assert normalise_reddit(prefix + name) == name.lower()
    assert normalise_reddit(normalise_reddit(prefix + name)) == name.lower()


@given(
    st.from_regex(r"[A-Za-z0-9_]{1,30}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,10}\.[a-z]{2,6}", fullmatch=True),
)
def test_mastodon_handles_normalise_to_one_form(user: str, domain: str) -> None:
    expected = f"{user}@{domain}".lower()
    assert normalise_mastodon(f"@{user}@{domain}") == expected
    assert normalise_mastodon(f"{user.upper()}@{domain.upper()}") == expected
    assert normalise_mastodon(user, instance=domain) == expected
    assert normalise_mastodon(f"https://{domain}/@{user}") == expected


@given(st.text(max_size=40))
def test_any_text_is_a_handle_or_a_clear_error(text: str) -> None:
    for normalise_one in (normalise_reddit, normalise_mastodon):
        try:
            handle = normalise_one(text)
        except ValueError as exc:
            assert repr(text) in str(exc)
        else:
            assert handle == handle.strip().lower()


# -- CSV and JSON, bad input, formulas, export ------------------------------------------------

FULL_HEADER = "id,name,email,tier,status,website,reddit,mastodon\n"
FORMULA = "=cmd|' /C calc'!A0"


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "latin1.csv",
            (FULL_HEADER + "C-1,Anna,,,,,,\nC-2,Jörg Müller,,,,,,\n").encode("cp1252"),
            "line 3: not UTF-8 text (byte 0xf6 at byte 70: invalid start byte); save the file as UTF-8",
        ),
        (
            "utf16.csv",
            (FULL_HEADER + "C-1,Anna,,,,,,\n").encode("utf-16"),
            "the file is UTF-16 text; save it as UTF-8",
        ),
        ("nul.csv", (FULL_HEADER + "C-1,An\x00na,,,,,,\n").encode(), "line 2: contains a NUL"),
        (
            "quotes.csv",
            (FULL_HEADER + 'C-1,Anna,,,,,,\nC-2,"Erik" Jansen,,,,,,\n').encode(),
            "line 3: malformed CSV",
        ),
        (
            "short.csv",
            (FULL_HEADER + "C-1,Anna,,,\n").encode(),
            "line 2: 5 field(s), but the header has 8 columns",
        ),
        (
            "website.csv",
            (FULL_HEADER + "C-1,Anna,,,,not a site,,\n").encode(),
            "line 2, column website: 'not a site' is not a web address",
        ),
        ("repeated.csv", b"id,name,name\nC-1,A,B\n", "line 1: repeated column(s) name"),
        ("customers.xlsx", b"PK\x03\x04", "unknown file type '.xlsx'; expected .csv or .json"),
        ("broken.json", b'[{"id": "C-1",\n "name": "Anna",}]', "line 2, column 17: not valid JSON"),
        ("object.json", b'{"id": "C-1"}', "expected a list of customer objects"),
        ("item.json", b'[{"id": "C-1", "name": "A"}, "C-2"]', "[1]: expected an object, got str"),
        (
            "field.json",
            b'[{"id": "C-1", "name": "A"}, {"id": "C-2", "name": "B", "email": "nope"}]',
            "[1].email: 'nope' is not an address",
        ),
        ("missing.json", b'[{"id": "C-1"}]', "[0].name: value is required"),
        (
            "typed.json",
            b'[{"id": "C-1", "name": "A", "tier": 3}]',
            "[0].tier: expected text, got int",
        ),
        (
            "unknown.json",
            b'[{"id": "C-1", "name": "A", "phone": "1"}]',
            "[0]: unknown field(s) phone",
        ),
        (
            "dupe.json",
            b'[{"id": "C-1", "name": "A"}, {"id": "C-2", "name": "B"}, {"id": "C-1", "name": "C"}]',
            "[2].id: 'C-1' already used at [0]",
        ),
        (
            "handle.json",
            b'[{"id": "C-1", "name": "A", "mastodon": ["@a@m.nl", "bare"]}]',
            "[0].mastodon: 'bare' needs its instance",
        ),
        (
            "long.csv",
            (FULL_HEADER + f"C-1,{'x' * 301},,,,,,\n").encode(),
            "line 2, column name: longer than 300",
        ),
    ],
)
def test_bad_files_are_refused_with_the_place_and_nothing_else(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    path = write_bytes(tmp_path, name, data)
    with pytest.raises(InputFileError) as raised:
        read_customer_file(path)
    assert f"{path}: {message}" in str(raised.value)


def test_a_bad_file_of_any_kind_changes_nothing(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        import_customers(session, write(tmp_path, GOOD))
    before = snapshot(db)
    bad = [
        write_bytes(
            tmp_path, "a.csv", (FULL_HEADER + "C-3,Kees,,,,,,\nC-4,Jörg,,,,,,\n").encode("cp1252")
        ),
        write_bytes(
            tmp_path, "b.json", b'[{"id": "C-3", "name": "Kees"}, {"id": "C-3", "name": "K"}]'
        ),
        write_bytes(
            tmp_path, "c.csv", (FULL_HEADER + "C-3,Kees,,,,,,\nC-1,Anna,,gold,,,x y,\n").encode()
        ),
    ]
    for path in bad:
        with (
            pytest.raises(InputFileError, match="nothing was imported"),
            db.transaction() as session,
        ):
            import_customers(session, path)
    assert snapshot(db) == before


def test_json_imports_like_csv_with_several_handles_per_network(
    db: Database, tmp_path: Path
) -> None:
    data = [
        {
            "id": "C-1",
            "name": "Anna de Vries",
            "email": "anna@example.nl",
            "tier": "gold",
            "mastodon": ["@Anna@Mastodon.nl", "https://fosstodon.org/@anna"],
        },
        {"id": 2, "name": "Erik Jansen", "tier": "silver", "reddit": "u/Espresso_Erik;erik_2"},
    ]
    path = write_bytes(tmp_path, "customers.json", json.dumps({"customers": data}).encode())
    with db.transaction() as session:
        assert import_customers(session, path).created == 2
    with db.transaction() as session:
        again = import_customers(session, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot(db) == [
        ("2", "Erik Jansen", "silver"),
        ("C-1", "Anna de Vries", "gold"),
        ("mastodon", "anna@fosstodon.org"),
        ("mastodon", "anna@mastodon.nl"),
        ("reddit", "erik_2"),
        ("reddit", "espresso_erik"),
    ]


def test_formulas_are_stored_as_text_and_exported_safely(db: Database, tmp_path: Path) -> None:
    rows = (
        FULL_HEADER
        + f'C-1,"{FORMULA}",anna@example.nl,+gold,-1,https://anna.example/,,@anna@mastodon.nl\n'
        + 'C-2,@SUM(A1),,"=1+1",,,espresso_erik;erik_2,\n'
        + "C-3,Plain Name,,,,,,\n"
    )
    path = write(tmp_path, rows)
    with db.transaction() as session:
        import_customers(session, path)
    with db.transaction() as session:
        stored = {c.external_id: c for c in session.scalars(select(Customer))}
        assert stored["C-1"].name == FORMULA and stored["C-1"].tier == "+gold"
        assert stored["C-1"].status == "-1" and stored["C-1"].domain == "anna.example"
        assert stored["C-2"].name == "@SUM(A1)" and stored["C-2"].tier == "=1+1"
        exported = io.StringIO()
        assert export_customers(session, exported, fmt="csv") == 3
        as_json = io.StringIO()
        export_customers(session, as_json, fmt="json")
    lines = list(csv.reader(io.StringIO(exported.getvalue())))
    assert lines[0] == ["id", "name", "email", "tier", "status", "website", "reddit", "mastodon"]
    assert lines[1] == [
        "C-1",
        "'" + FORMULA,
        "anna@example.nl",
        "'+gold",
        "'-1",
        "https://anna.example/",
        "",
        "anna@mastodon.nl",
    ]
    assert lines[2][:4] == ["C-2", "'@SUM(A1)", "", "'=1+1"]
    assert lines[2][6] == "erik_2;espresso_erik"
    assert not any(cell.startswith(("=", "+", "-", "@")) for line in lines for cell in line)
    assert json.loads(as_json.getvalue())[0]["name"] == FORMULA  # JSON keeps the text as is
    # Both exports import back unchanged.
    for name, text in (("again.csv", exported.getvalue()), ("again.json", as_json.getvalue())):
        with db.transaction() as session:
            result = import_customers(session, write_bytes(tmp_path, name, text.encode()))
        assert (result.created, result.updated, result.unchanged) == (0, 0, 3), name


def test_the_customers_commands_import_export_and_show(
    db: Database, db_url: str, tmp_path: Path, write_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console
    from typer.testing import CliRunner

    from social_crm.cli import app

    monkeypatch.setattr("social_crm.cli.render.console", Console(width=300))
    config = str(write_config(database={"url": db_url}))
    path = write_bytes(
        tmp_path, "crm.json", json.dumps([{"id": "C-1", "name": FORMULA, "tier": "gold"}]).encode()
    )
    runner = CliRunner()
    imported = runner.invoke(app, ["customers", "import", str(path), "-c", config])
    assert imported.exit_code == 0, imported.output
    assert "1 created" in imported.stdout
    exported = runner.invoke(app, ["customers", "export", "-c", config])
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.splitlines()[1] == f"C-1,'{FORMULA},,gold,,,,"
    out = tmp_path / "out.json"
    runner.invoke(app, ["customers", "export", "--format", "json", "-o", str(out), "-c", config])
    assert json.loads(out.read_text())[0]["id"] == "C-1"
    wrong = runner.invoke(app, ["customers", "export", "--format", "xml", "-c", config])
    assert wrong.exit_code == 2
    shown = runner.invoke(app, ["customers", "show", "C-1", "-c", config])
    assert shown.exit_code == 0, shown.output
    assert "nothing said yet" in shown.stdout


MASTODON_USERS = st.from_regex(r"[A-Za-z0-9_]{1,30}", fullmatch=True)
DOMAINS = st.from_regex(r"[A-Za-z0-9]{1,10}\.[A-Za-z]{2,6}", fullmatch=True)
HANDLES = st.one_of(
    st.text(max_size=60),
    st.builds(str.__add__, st.sampled_from(["", "u/", "/U/", "@", " "]), REDDIT_NAMES),
    st.builds("@{}@{}".format, MASTODON_USERS, DOMAINS),
    st.builds("https://{1}/@{0}".format, MASTODON_USERS, DOMAINS),
)


@given(st.sampled_from(["reddit", "mastodon", "lemmy"]), HANDLES)
def test_normalising_a_handle_twice_changes_nothing(network: str, text: str) -> None:
    try:
        once = normalise(network, text)
    except ValueError:
        return
    assert normalise(network, once) == once


@given(st.text(max_size=60))
def test_names_and_sites_fold_to_a_fixed_point(text: str) -> None:
    assert name_key(name_key(text)) == name_key(text)
    site = site_key(text)
    if site is not None:
        assert site_key(site) == site
