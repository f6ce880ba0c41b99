"""Running the ``social-crm`` command as a person types it, in an 80-column terminal."""

from __future__ import annotations

import subprocess
import sys

# A common terminal: every table and line the commands print must read well in it.
COLUMNS = 80


def social_crm(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``social-crm ARGS`` in a fresh process with a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "social_crm.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"COLUMNS": str(COLUMNS), "PATH": "/usr/bin:/bin", **(env or {})},
    )


def one_error_line(result: subprocess.CompletedProcess[str], *, code: int = 1) -> str:
    """The single line of standard error a failed command printed, checked to be just that."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
