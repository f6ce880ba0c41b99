"""Page timing of the web dashboard: sign in, GET each page N times, p50/p95 per page.

    python benchmarks/seed_dashboard.py                 # 1,000 alerts, 100,000 mentions
    python benchmarks/web_pages.py [--database URL] [--times 20]

Serves the dashboard with uvicorn in this process on the database (the seeded SQLite file
by default), signs in through the login form as a person would (a user ``bench`` is added,
or its password reset), then times each page and API route over HTTP, from the request
to the last byte, in turn, ``--times`` times each after one untimed warm-up request.
"""

from __future__ import annotations

import argparse
import re
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

import social_crm.schema  # noqa: E402, F401 - every table
from social_crm.accounts.service import add_user, list_users, set_password  # noqa: E402
from social_crm.alerts.models import Alert  # noqa: E402
from social_crm.config import Settings  # noqa: E402
from social_crm.customers.models import Customer  # noqa: E402
from social_crm.db import Database, masked  # noqa: E402
from social_crm.mentions.models import AuthorRecord, MentionRecord  # noqa: E402
from social_crm.web.app import WebServer, create_app  # noqa: E402

USER = "bench"


def pages(db: Database) -> list[str]:
    """The pages and API routes timed, with searches a person would make."""
    with db.transaction() as session:
        alert_id = session.scalar(select(func.max(Alert.id)).where(Alert.kind == "mention"))
        brand = session.scalar(select(MentionRecord.brand).limit(1))
        # The customer with the most mentions: the longest timeline.
        customer = session.scalar(
            select(Customer.external_id)
            .join(AuthorRecord, AuthorRecord.customer_id == Customer.id)
            .join(MentionRecord, MentionRecord.author_id == AuthorRecord.id)
            .group_by(Customer.external_id)
            .order_by(func.count().desc())
            .limit(1)
        )
    return [
        "/alerts",
        f"/alerts/{alert_id}",
        "/mentions",
        f"/mentions?brand={brand}&sentiment=negative",
        "/mentions?customer=yes&language=de",
        "/mentions?q=support",
        "/mentions?q=no+such+words+anywhere",
        "/overview",
        "/replies",
        "/replies/report",
        "/ambassadors",
        "/ambassadors?view=rising",
        "/links",
        f"/customers/{customer}",
        "/api/v1/alerts?limit=50",
        "/api/v1/mentions?limit=50",
        "/api/v1/overview",
    ]


def sign_in(client: httpx.Client, password: str) -> None:
    """Sign in through the form: its token, then the name and password."""
    form = client.get("/login")
    token = re.search(r'name="form_token" value="([^"]+)"', form.text)
    if token is None:
        sys.exit("the sign-in form has no form token")
    answer = client.post(
        "/login",
        data={"name": USER, "password": password, "form_token": token.group(1), "next": "/"},
    )
    if answer.status_code >= 400 or "social_crm_session" not in client.cookies:
        sys.exit(f"signing in failed: HTTP {answer.status_code}")


def timed(client: httpx.Client, path: str, times: int) -> list[float]:
    """Milliseconds of each of ``times`` GETs of ``path`` after one warm-up."""
    client.get(path).raise_for_status()
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        answer = client.get(path)
        answer.raise_for_status()
        spent.append((time.perf_counter() - began) * 1000)
    return spent


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(tempfile.gettempdir()) / "social_crm_dashboard.sqlite"
    parser.add_argument("--database", default=f"sqlite:///{default}")
    parser.add_argument("--times", type=int, default=20, help="timed requests per page")
    options = parser.parse_args()
    db = Database(options.database)
    db.upgrade()
    password = secrets.token_urlsafe(16)
    with db.transaction() as session:
        if USER in {user.name for user in list_users(session)}:
            set_password(session, USER, password=password)
        else:
            add_user(session, USER, password=password, role="viewer")
        brands = sorted(set(session.scalars(select(MentionRecord.brand).distinct())))
        mentions = session.scalar(select(func.count()).select_from(MentionRecord))
        alerts = session.scalar(select(func.count()).select_from(Alert))
    if not brands:
        sys.exit(f"{masked(options.database)} has no mentions: seed it first (seed_dashboard.py)")
    settings = Settings.model_validate(
        {"brands": [{"name": name} for name in brands], "web": {"secure_cookies": False}}
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = WebServer(create_app(settings, database=db), port=port).start()
    print(f"{masked(options.database)}: {alerts:,} alerts, {mentions:,} mentions")
    print(f"{'page':<45} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KiB':>6}")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            sign_in(client, password)
            for path in pages(db):
                spent = timed(client, path, options.times)
                size = len(client.get(path).content) / 1024
                print(
                    f"{path:<45} {statistics.median(spent):8.1f} "
                    f"{percentile(spent, 0.95):8.1f} {max(spent):8.1f} {size:6.0f}"
                )
    finally:
        server.stop()
        db.close()


if __name__ == "__main__":
    main()
