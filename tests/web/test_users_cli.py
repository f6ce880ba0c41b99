"""``social-crm users``: adding, listing, re-passwording and removing users, API tokens; the
password read from a prompt or standard input, kept only as an Argon2 hash."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from typer.testing import CliRunner

from social_crm.accounts.models import ApiToken, User
from social_crm.accounts.service import sign_in, token_principal
from social_crm.cli import app
from social_crm.db import Database
from social_crm.errors import Conflict, InvalidInput, NotFound

from ..commands import one_error_line, social_crm

PASSWORD = "a long enough secret"


@pytest.fixture
def config(write_config: Callable[..., Path], tmp_path: Path) -> Path:
    return write_config(database={"url": f"sqlite:///{tmp_path / 'users.sqlite'}"})


@pytest.fixture
def db(config: Path, tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'users.sqlite'}")


def run(config: Path, *args: str, password: str | None = None) -> object:
    return CliRunner().invoke(app, [*args, "-c", str(config)], input=password)


def test_users_are_added_listed_given_a_new_password_and_removed(
    config: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    added = run(
        config,
        "users",
        "add",
        "ada",
        "--role",
        "admin",
        "--password-stdin",
        password=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert added.stdout.strip() == "user ada added with role admin"
    run(config, "users", "add", "vic", "--password-stdin", password=PASSWORD + "\n")
    with db.transaction() as session:
        stored = {u.name: u for u in session.scalars(select(User))}
        assert stored["vic"].role == "viewer"  # the least a user can do, unless told
        assert stored["ada"].password_hash.startswith("$argon2id$")
        assert PasswordHasher().verify(stored["ada"].password_hash, PASSWORD)
        assert PASSWORD not in stored["ada"].password_hash
    listed = run(config, "users", "list")
    assert listed.exit_code == 0
    assert "ada" in listed.stdout and "admin" in listed.stdout and "never" in listed.stdout
    changed = run(
        config, "users", "passwd", "ada", "--password-stdin", password="another secret pw\n"
    )
    assert changed.exit_code == 0, changed.output
    with db.transaction() as session:
        assert sign_in(session, "ada", PASSWORD, address="t") is None
        assert sign_in(session, "ada", "another secret pw", address="t") is not None
    role = run(config, "users", "role", "vic", "community")
    assert role.stdout.strip() == "user vic now has role community"
    removed = run(config, "users", "remove", "vic")
    assert removed.stdout.strip() == "user vic removed"
    assert "vic" not in run(config, "users", "list").stdout
    # Never in the clear: not in any log line nor in anything printed.
    everything = caplog.text + added.output + changed.output + listed.output
    assert PASSWORD not in everything and "another secret pw" not in everything


def test_bad_names_passwords_and_roles_change_nothing(config: Path, db: Database) -> None:
    run(config, "users", "add", "ada", "--password-stdin", password=PASSWORD)
    again = run(config, "users", "add", "ada", "--password-stdin", password=PASSWORD)
    assert isinstance(again.exception, Conflict)
    short = run(config, "users", "add", "bob", "--password-stdin", password="short")
    assert isinstance(short.exception, InvalidInput)
    assert "at least 10 characters" in str(short.exception)
    odd = run(config, "users", "add", "<b>", "--password-stdin", password=PASSWORD)
    assert isinstance(odd.exception, InvalidInput)
    assert run(config, "users", "add", "bob", "--role", "boss", "--password-stdin").exit_code == 2
    assert isinstance(run(config, "users", "remove", "nobody").exception, NotFound)
    with db.transaction() as session:
        assert list(session.scalars(select(User.name))) == ["ada"]


def test_the_password_is_never_an_argument(config: Path) -> None:
    result = social_crm("users", "add", "ada", "--password", PASSWORD, "-c", str(config))
    assert result.returncode == 2 and "No such option" in result.stderr
    # Without a terminal to type it at, and without --password-stdin: one clear line.
    result = social_crm("users", "add", "ada", "-c", str(config))
    assert one_error_line(result) == (
        "error: no terminal to type the password at; pass it with --password-stdin"
    )


def test_api_tokens_are_shown_once_stored_hashed_and_revoked(config: Path, db: Database) -> None:
    run(
        config, "users", "add", "cora", "--role", "community", "--password-stdin", password=PASSWORD
    )
    created = run(config, "users", "token", "create", "cora", "--label", "zapier")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("scrm_") and len(token) > 40
    second = run(config, "users", "token", "create", "cora").stdout.strip()
    with db.transaction() as session:
        hashes = list(session.scalars(select(ApiToken.token_hash)))
        assert len(hashes) == 2 and token not in hashes and second not in hashes
        principal = token_principal(session, token)
        assert principal is not None and (principal.name, principal.role) == ("cora", "community")
    assert " 2 " in run(config, "users", "list").stdout  # two active tokens
    revoked = run(config, "users", "token", "revoke", "cora", "--label", "zapier")
    assert revoked.stdout.strip() == "1 API token of cora revoked"
    with db.transaction() as session:
        assert token_principal(session, token) is None
        assert token_principal(session, second) is not None
    assert (
        run(config, "users", "token", "revoke", "cora").stdout.strip()
        == "1 API token of cora revoked"
    )
    nothing = run(config, "users", "token", "revoke", "cora")
    assert str(nothing.exception) == "user 'cora' has no active API token"
