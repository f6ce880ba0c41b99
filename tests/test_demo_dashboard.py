"""``social-crm demo`` serves the web dashboard after its printout: a demo login that works,
the demo's alerts behind it, and an exit (0) once its time is up or at Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .commands import COLUMNS

SERVE_SECONDS = 8
DASHBOARD = re.compile(r"^Dashboard: (http://127\.0\.0\.1:\d+)/  \(sign in as demo / (\S+)\)$")


@contextmanager
def demo(folder: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], list[str], Path]]:
    """``social-crm demo ARGS`` in an 80-column terminal, its data in ``folder``: the process,
    what it printed up to the line that says how long it serves, and its log file."""
    log = folder / "stderr.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "social_crm.cli", "demo", *args],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env={**os.environ, "COLUMNS": str(COLUMNS), "SOCIAL_CRM_DEMO_DATA_DIR": str(folder)},
        )
        watchdog = threading.Timer(240, process.kill)  # a demo that hangs fails, never blocks
        watchdog.start()
        try:
            assert process.stdout is not None
            printed = []
            for line in process.stdout:
                printed.append(line.rstrip("\n"))
                if line.startswith("Serving"):
                    break
            assert any(DASHBOARD.match(line) for line in printed), (
                "\n".join(printed) + log.read_text()
            )
            yield process, printed, log
        finally:
            watchdog.cancel()
            process.kill()
            process.wait()


def sign_in(client: httpx.Client, name: str, password: str) -> None:
    """Sign in through the form, as a browser would."""
    form = client.get("/login")
    token = re.search(r'name="form_token" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post(
        "/login", data={"name": name, "password": password, "form_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text


def test_the_demo_serves_its_dashboard_then_exits(tmp_path: Path) -> None:
    with demo(tmp_path, "--seconds", str(SERVE_SECONDS)) as (process, printed, log):
        assert printed[-1] == f"Serving for {SERVE_SECONDS} s."
        url, password = next(m for m in map(DASHBOARD.match, printed) if m).groups()
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/alerts").status_code == 303  # signed out: to the sign-in form
            sign_in(client, "demo", password)
            inbox = client.get("/alerts")
            everything = client.get("/alerts", params={"status": "all"})
        assert inbox.status_code == 200
        assert 'demo <span class="muted">(admin)</span>' in inbox.text
        # The demo's alerts, as its printout lists them: Gus's was resolved by the reply.
        assert "@brewly my order arrived broken" in inbox.text
        assert "Brewly support is a disgrace" not in inbox.text
        assert "Brewly support is a disgrace" in everything.text
        assert "grumpy_gus · customer Gus Grant" in everything.text
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, log.read_text()
    assert rest.strip() == "Dashboard stopped."
    assert "Traceback" not in log.read_text()
    for line in [*printed, *rest.splitlines()]:
        assert len(line) <= COLUMNS, line
    try:
        httpx.get(f"{url}/login", timeout=2)
    except httpx.TransportError:
        pass  # nothing listens any more
    else:
        raise AssertionError(f"the dashboard still answers at {url} after the demo exited")


def test_without_a_time_limit_the_demo_serves_until_ctrl_c(tmp_path: Path) -> None:
    with demo(tmp_path) as (process, printed, log):
        assert printed[-1] == "Serving until Ctrl-C."
        url = next(m for m in map(DASHBOARD.match, printed) if m).group(1)
        time.sleep(3)
        assert httpx.get(f"{url}/login", timeout=10).status_code == 200  # still serving
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=20)
        assert process.returncode == 0, log.read_text()
    assert rest.strip() == "Dashboard stopped."
