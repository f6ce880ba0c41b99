"""The import directions of ARCHITECTURE.md, as import-linter contracts in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
