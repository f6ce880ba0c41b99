"""Fault injection, the long runs: daemons SIGKILLed again and again, then checked.

    python benchmarks/faults.py [--kills 50] [--runs sqlite:1 postgresql:3] [--rate 4]
        [--seed 1] [--pg-url URL] [--keep DIR]

Each run starts real ``social-crm run`` processes (1 on SQLite, or N on one PostgreSQL
schema) against the local fake Reddit and Mastodon, an SMTP server and a webhook
receiver; a publisher thread publishes a scripted stream (``--rate`` items a second:
posts, comments, statuses, replies; a third negative, some by customers) and every
proposed reply is approved. Each kill is SIGKILL at a moment of one stage (polling,
classification, escalation, delivery, reply sending, or at random), followed by a
restart. Then the survivors drain, and the run is checked (``tests/faults/harness.py``):
every published mention stored once, every alert counting each matching mention once and
delivered once per channel by idempotency key (a second receipt of a key is counted; it
may only follow a send whose outcome was lost in a kill), every approved reply sent and
posted once, every source polled since the last kill and held by a live daemon.

Prints one row per run; exits 1 if any invariant broke, listing what.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.harness import Report, aimed, fresh_schema, run_kills, table  # noqa: E402

LOGGER = logging.getLogger(__name__)
PG_URL = os.environ.get(
    "SOCIAL_CRM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def one_run(spec: str, *, kills: int, seed: int, rate: float, pg_url: str, root: Path) -> Report:
    """Run ``spec`` ("sqlite:1" or "postgresql:3") in ``root``; its report."""
    backend, _, count = spec.partition(":")
    processes = int(count or 1)
    name = f"{backend} x{processes}"
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            if processes != 1:
                raise SystemExit("SQLite serves one daemon: use sqlite:1")
            url = f"sqlite:///{root / 'crm.sqlite'}"
        elif backend == "postgresql":
            url = stack.enter_context(fresh_schema(pg_url))
        else:
            raise SystemExit(f"unknown backend {backend!r}: use sqlite or postgresql")
        return run_kills(
            root, url, processes=processes, kills=kills, seed=seed, rate=rate, name=name
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs per run")
    parser.add_argument(
        "--runs", nargs="+", default=["sqlite:1", "postgresql:3"], help="backend:processes"
    )
    parser.add_argument("--rate", type=float, default=4.0, help="items published a second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--keep", type=Path, help="keep logs and databases in this folder")
    args = parser.parse_args()
    # A SIGTERM stops the daemons and the servers on the way out, as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    reports = []
    with contextlib.ExitStack() as stack:
        base = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for number, spec in enumerate(args.runs):
            root = base / f"run-{number}-{spec.replace(':', '-')}"
            report = one_run(
                spec,
                kills=args.kills,
                seed=args.seed + number,
                rate=args.rate,
                pg_url=args.pg_url,
                root=root,
            )
            reports.append(report)
            print(f"{report.name}: kills that found their stage: {aimed(report)}", flush=True)
    print(table(reports))
    broken = [(report.name, problem) for report in reports for problem in report.problems]
    for name, problem in broken:
        print(f"{name}: {problem}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
