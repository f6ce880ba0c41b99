"""The layout's rules: import directions (import-linter), one error family, no commands in the domain."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from social_crm.ambassadors.enums import ReviewStatus
from social_crm.ambassadors.review import REVIEW_TRANSITIONS
from social_crm.customers.enums import SuggestionStatus
from social_crm.customers.linking import TRANSITIONS as SUGGESTION_TRANSITIONS
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.lifecycle import TRANSITIONS as REPLY_TRANSITIONS
from social_crm.errors import (
    ConfigError,
    Conflict,
    InvalidTransition,
    NotFound,
    SocialCrmError,
    exit_code,
)

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("social_crm", "connectors", "sentiment")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the tree at ``root`` with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_contract_holds() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's Python packages, copied so that a test can add a wrong import."""
    root = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            root / package,
            ignore=lambda _dir, names: [
                n for n in names if not n.endswith(".py") and "." in n and n != "py.typed"
            ],
        )
    return root


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # A connector reaching up into the application.
        ("connectors/probe.py", "from social_crm.errors import SocialCrmError", "connectors.probe"),
        # The sentiment runtime reaching into training code.
        ("sentiment/probe.py", "import sentiment.training.metrics", "sentiment.probe"),
        # A lower domain importing a higher one.
        ("social_crm/mentions/probe.py", "import social_crm.alerts.models", "mentions.probe"),
        # Something the daemon runs importing the demo's servers.
        ("social_crm/jobs/probe.py", "import social_crm.demo.servers.local", "jobs.probe"),
        # A cycle between two modules of one package.
        ("social_crm/alerts/probe.py", "import social_crm.alerts.probe2", "probe"),
    ],
)
def test_a_wrong_import_breaks_a_contract(
    source_copy: Path, module: str, line: str, broken: str
) -> None:
    added = [source_copy / module]
    added[0].write_text(f"{line}\n")
    if module.endswith("alerts/probe.py"):
        added.append(source_copy / "social_crm/alerts/probe2.py")
        added[1].write_text("import social_crm.alerts.probe\n")
    try:
        result = lint_imports(source_copy)
    finally:
        for path in added:
            path.unlink()
    assert result.returncode != 0
    assert broken in result.stdout


PACKAGE = Path(__file__).resolve().parent.parent / "social_crm"
DOMAINS = ("alerts", "ambassadors", "customers", "delivery", "engagement", "mentions")


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
    # Every expected error ends the command line with 1, as scripts rely on.
    for error in (NotFound("x"), Conflict("x"), InvalidTransition("x"), ConfigError("x")):
        assert exit_code(error) == 1


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


def test_link_suggestions_reviews_and_replies_have_one_transition_table_each() -> None:
    assert set(SUGGESTION_TRANSITIONS) == set(SuggestionStatus)
    pending = SUGGESTION_TRANSITIONS[SuggestionStatus.PENDING]
    assert SuggestionStatus.REJECTED in pending and SuggestionStatus.CONFIRMED in pending
    assert SuggestionStatus.CONFIRMED in SUGGESTION_TRANSITIONS[SuggestionStatus.REJECTED]
    assert REVIEW_TRANSITIONS[ReviewStatus.OPTED_OUT] == {ReviewStatus.OPTED_OUT}  # final
    assert REVIEW_TRANSITIONS[None] == set(ReviewStatus)
    assert set(REPLY_TRANSITIONS) == set(ReplyStatus)


def test_tests_share_helpers_through_helper_modules_not_through_test_modules() -> None:
    """Shared builders live in tests/ helper modules; conftest holds fixtures only."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                package = "." * node.level + (node.module or "")
                names = (
                    [f"{package}.{a.name}" for a in node.names]
                    if package in (".", "tests")
                    else [package]
                )
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            # ".test_storage" or "tests.conftest" -> "test_storage" or "conftest", its name in tests/
            modules = [
                n.removeprefix("tests").lstrip(".") for n in names if n.startswith((".", "tests."))
            ]
            offenders += [
                f"{path.name} imports {name}"
                for name in modules
                if name.split(".")[0] == "conftest" or name.startswith("test_")
            ]
    assert offenders == []
