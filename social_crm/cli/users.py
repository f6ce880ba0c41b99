"""``social-crm users``: the people who sign in to the web dashboard, and API tokens."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from social_crm.accounts.enums import Role
from social_crm.cli import render
from social_crm.cli.common import ConfigOption, database
from social_crm.cli.render import cell
from social_crm.errors import InvalidInput

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="Users of the web dashboard and their API tokens.", no_args_is_help=True)
tokens = typer.Typer(
    help="API tokens for the JSON API (Authorization: Bearer).", no_args_is_help=True
)
app.add_typer(tokens, name="token")

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The user's name.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]
ROLES = ", ".join(role.value for role in Role)


def _password(*, from_stdin: bool) -> str:
    """The new password: standard input's first line, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to type the password at; pass it with --password-stdin")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@app.command("add")
def users_add(
    name: NameArgument,
    role: Annotated[Role, typer.Option("--role", help=f"One of: {ROLES}.")] = Role.VIEWER,
    password_stdin: PasswordStdin = False,
    config: ConfigOption = None,
) -> None:
    """Add a user who signs in with a password (asked for, never given as an argument)."""
    from social_crm.accounts.service import add_user

    password = _password(from_stdin=password_stdin)
    with database(config).transaction() as session:
        user = add_user(session, name, password=password, role=role)
    render.console.print(f"user {cell(user.name)} added with role {user.role}", highlight=False)


@app.command("passwd")
def users_passwd(
    name: NameArgument, password_stdin: PasswordStdin = False, config: ConfigOption = None
) -> None:
    """Set a user's password; they are signed out everywhere."""
    from social_crm.accounts.service import set_password

    password = _password(from_stdin=password_stdin)
    with database(config).transaction() as session:
        set_password(session, name, password=password)
    render.console.print(f"password of {cell(name)} changed", highlight=False)


@app.command("role")
def users_role(
    name: NameArgument,
    role: Annotated[Role, typer.Argument(metavar="ROLE", help=f"One of: {ROLES}.")],
    config: ConfigOption = None,
) -> None:
    """Give a user another role."""
    from social_crm.accounts.service import set_role

    with database(config).transaction() as session:
        user = set_role(session, name, role=role)
    render.console.print(f"user {cell(user.name)} now has role {user.role}", highlight=False)


@app.command("remove")
def users_remove(name: NameArgument, config: ConfigOption = None) -> None:
    """Remove a user with their sessions and API tokens."""
    from social_crm.accounts.service import remove_user

    with database(config).transaction() as session:
        remove_user(session, name)
    render.console.print(f"user {cell(name)} removed", highlight=False)


@app.command("list")
def users_list(config: ConfigOption = None) -> None:
    """Every user with their role, last sign-in and active API tokens."""
    from social_crm.accounts.service import list_users

    with database(config).transaction() as session:
        users = list_users(session)
    if not users:
        render.console.print(
            "no users yet: add the first with social-crm users add NAME --role admin"
        )
        return
    table = render.table("name", "role", "last sign-in", "tokens", title="Users", flexible="name")
    for user in users:
        table.add_row(
            cell(user.name), user.role, render.ago(user.last_sign_in_at), str(user.active_tokens)
        )
    render.console.print(table)


@tokens.command("create")
def token_create(
    name: NameArgument,
    label: Annotated[str, typer.Option("--label", help="What the token is for.")] = "api",
    config: ConfigOption = None,
) -> None:
    """Create an API token acting as user NAME; it is printed once and only its hash is kept."""
    from social_crm.accounts.service import create_token

    with database(config).transaction() as session:
        grant = create_token(session, name, label=label)
    render.err_console.print(
        f"API token {cell(grant.label)} for {cell(grant.user)} (shown once; keep it safe):",
        highlight=False,
    )
    # The token alone on standard output, so a script can capture it.
    typer.echo(grant.token)


@tokens.command("revoke")
def token_revoke(
    name: NameArgument,
    label: Annotated[
        str | None, typer.Option("--label", help="Only the token with this label.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Revoke user NAME's API tokens (or the one with --label)."""
    from social_crm.accounts.service import revoke_tokens

    with database(config).transaction() as session:
        count = revoke_tokens(session, name, label=label)
    render.console.print(
        f"{count} API token{'s' if count != 1 else ''} of {cell(name)} revoked", highlight=False
    )
