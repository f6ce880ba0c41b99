"""Contracts the layout keeps: one error family, import directions, no commands in the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from social_crm.ambassadors.enums import ReviewStatus
from social_crm.ambassadors.scoring import REVIEW_TRANSITIONS
from social_crm.customers.enums import SuggestionStatus
from social_crm.customers.linking import TRANSITIONS as SUGGESTION_TRANSITIONS
from social_crm.errors import (
    ConfigError,
    Conflict,
    InvalidTransition,
    NotFound,
    SocialCrmError,
    exit_code,
)

PACKAGE = Path(__file__).resolve().parent.parent / "social_crm"
DOMAINS = ("alerts", "ambassadors", "customers", "delivery", "mentions")


def imports_of(path: Path) -> set[str]:
    """Every module a source file imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def docstring_node(node: ast.AST) -> ast.Constant | None:
    """The docstring constant of a module, class or function, if it has one."""
    body = getattr(node, "body", None)
    if not isinstance(body, list) or not body or not isinstance(body[0], ast.Expr):
        return None
    value = body[0].value
    return value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None


def test_the_domain_errors_share_one_base_and_say_what_they_stand_for() -> None:
    for error in (NotFound, Conflict, InvalidTransition):
        assert issubclass(error, SocialCrmError)
    assert (NotFound.http_status, Conflict.http_status, InvalidTransition.http_status) == (
        404,
        409,
        409,
    )
    # Every expected error ends the command line with 1, as scripts rely on.
    for error in (NotFound("x"), Conflict("x"), InvalidTransition("x"), ConfigError("x")):
        assert exit_code(error) == 1


def test_delivery_knows_nothing_of_the_domains_that_use_it() -> None:
    above = tuple(f"social_crm.{domain}" for domain in DOMAINS if domain != "delivery")
    for path in sorted((PACKAGE / "delivery").rglob("*.py")):
        for module in imports_of(path):
            assert not module.startswith(above), f"{path.relative_to(PACKAGE)} imports {module}"


@pytest.mark.parametrize("domain", DOMAINS)
def test_domain_errors_and_messages_spell_out_no_command(domain: str) -> None:
    for path in sorted((PACKAGE / domain).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(doc) for doc in map(docstring_node, ast.walk(tree)) if doc is not None}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if id(node) in docstrings:
                    continue  # docstrings may name commands: they are for readers of the code
                assert "social-crm " not in text.replace("[social-crm]", ""), (path, text)
                assert " --" not in text or "-->" in text, (path, text)


def test_link_suggestions_and_reviews_have_one_transition_table_each() -> None:
    assert set(SUGGESTION_TRANSITIONS) == set(SuggestionStatus)
    pending = SUGGESTION_TRANSITIONS[SuggestionStatus.PENDING]
    assert SuggestionStatus.REJECTED in pending and SuggestionStatus.CONFIRMED in pending
    assert SuggestionStatus.CONFIRMED in SUGGESTION_TRANSITIONS[SuggestionStatus.REJECTED]
    assert REVIEW_TRANSITIONS[ReviewStatus.OPTED_OUT] == {ReviewStatus.OPTED_OUT}  # final
    assert REVIEW_TRANSITIONS[None] == set(ReviewStatus)
