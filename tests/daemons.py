"""Real `social-crm run` processes for tests: started with a log file, waited on, stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Start-up imports the model libraries: on a loaded machine that takes a while.
START_TIMEOUT = 60.0


@dataclass
class DaemonProcess:
    """One `social-crm run` process and the file its log goes to."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_running(self) -> None:
        """Wait until the daemon says it runs (fails with its log if it ends first)."""
        wait_for(
            lambda: "daemon running" in self.text() or self.process.poll() is not None,
            timeout=START_TIMEOUT,
            what=f"daemon {self.pid} to start",
        )
        assert self.process.poll() is None, self.text()

    def stop(self) -> int:
        """SIGTERM, and its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a machine dies."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def start_daemon(config: Path, log: Path, *args: str) -> DaemonProcess:
    """Start `social-crm run --config CONFIG`, its output (plain log lines) into ``log``."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "social_crm.cli", *args, "run", "--config", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    return DaemonProcess(process, log)


def wait_for(
    condition: Callable[[], object], *, timeout: float, what: str, every: float = 0.1
) -> float:
    """Poll ``condition`` until it is true; returns the seconds it took."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - began
