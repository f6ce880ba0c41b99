"""Seed a database for the dashboard benchmark: a busy installation's alerts and mentions.

    python benchmarks/seed_dashboard.py [--database URL] [--mentions 100000] [--alerts 1000]
        [--seed 1]

Fills an empty database (a SQLite file by default, or a PostgreSQL URL) through bulk inserts:
two brands on Reddit and Mastodon over the last 200 days, busier lately; conversations of
heavy-tailed length in English, German, French and Spanish, some posts deleted, a few not
classified yet; authors of whom some post often, some linked to CRM customers (others have
pending, rejected or confirmed link suggestions); alerts on negative conversations, the
recent ones still open, plus crisis and health alerts and their deliveries; the sources'
cursors with one source failing; a daemon heartbeat; and ambassador scores computed by the
real scoring. Prints what it made and how long it took.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, func, insert, select, text  # noqa: E402

import social_crm.schema  # noqa: E402, F401 - every table
from social_crm.alerts.escalation import delivery_key  # noqa: E402
from social_crm.alerts.models import Alert  # noqa: E402
from social_crm.ambassadors import scoring  # noqa: E402
from social_crm.ambassadors.models import AmbassadorScore  # noqa: E402
from social_crm.customers.models import Customer, Identity, LinkSuggestion  # noqa: E402
from social_crm.db import Database, masked  # noqa: E402
from social_crm.db.heartbeats import Heartbeat  # noqa: E402
from social_crm.delivery.models import Delivery  # noqa: E402
from social_crm.mentions.models import (  # noqa: E402
    AuthorRecord,
    MentionRecord,
    SentimentRecord,
    SourceCursor,
)

BRANDS = ("Brewly", "Kettlo")
DAYS = 200
CHUNK = 10_000
INSTANCES = ("mastodon.social", "fosstodon.org", "chaos.social", "mastodon.example")
LANGUAGES = (("en", 0.62), ("de", 0.14), ("fr", 0.1), ("es", 0.09), (None, 0.05))
LABELS = (("negative", 0.2), ("neutral", 0.45), ("positive", 0.35))
UNCLASSIFIED_SHARE = 0.03
DELETED_SHARE = 0.005
SEVERITIES = (("low", 0.3), ("medium", 0.4), ("high", 0.2), ("critical", 0.1))
FIRST = ("anna", "ben", "carla", "dev", "erik", "fatima", "gus", "hana", "ivan", "jo", "kim")
LAST = ("berg", "costa", "diaz", "evans", "fischer", "garcia", "hill", "ito", "jansen", "khan")
TEXTS = {
    "en": {
        "negative": (
            "My {brand} order arrived broken, support has not answered in 3 days",
            "{brand} app keeps crashing after the update. 100% unusable right now",
            "Really disappointed with {brand}, the new grinder_v2 is loud and slow",
            "Anyone else getting charged twice by {brand}? Refund please",
        ),
        "neutral": (
            "Does {brand} ship to Canada? Looking at the starter kit",
            "Comparing {brand} with the usual suspects for a small office",
            "Which {brand} filter fits the 2019 model?",
            "Saw {brand} at the trade fair today",
        ),
        "positive": (
            "Love my new {brand} machine, best coffee I have had at home",
            "Shout-out to {brand} support, fixed my issue in ten minutes",
            "{brand} just keeps getting better, 10/10 would recommend",
            "Third year with {brand} and still 100% happy",
        ),
    },
    "de": {
        "negative": ("Mein {brand} ist schon wieder kaputt, sehr enttäuschend",),
        "neutral": ("Hat jemand Erfahrung mit {brand} im Büro?",),
        "positive": ("{brand} ist großartig, der Kaffee schmeckt super",),
    },
    "fr": {
        "negative": ("Très déçu par {brand}, le service client ne répond pas",),
        "neutral": ("Quelqu'un a essayé la nouvelle {brand} ?",),
        "positive": ("J'adore ma {brand}, le café est parfait",),
    },
    "es": {
        "negative": ("Mi {brand} llegó roto y nadie responde",),
        "neutral": ("¿Alguien sabe si {brand} envía a México?",),
        "positive": ("Me encanta mi {brand}, café perfecto cada mañana",),
    },
}


@dataclass
class Made:
    """What the seeding made, counted per table."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, rows: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + rows


def weighted(rng: random.Random, choices: Iterable[tuple[Any, float]]) -> Any:
    """One value drawn by weight."""
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def bulk(db: Database, table: Table, rows: list[dict[str, Any]], made: Made) -> None:
    """Insert rows in chunks (executemany), each chunk in one transaction.

    executemany needs the same keys in every row: a key some rows lack is NULL in those.
    """
    keys = {key for row in rows for key in row}
    rows = [{key: row.get(key) for key in keys} for row in rows]
    for start in range(0, len(rows), CHUNK):
        with db.engine.begin() as connection:
            connection.execute(insert(table), rows[start : start + CHUNK])
    made.add(table.name, len(rows))


def seed_people(
    db: Database, rng: random.Random, made: Made, *, authors: int, now: datetime
) -> list[dict[str, Any]]:
    """Customers, their identities, authors (some linked) and link suggestions."""
    customers = []
    for n in range(1, authors // 8 + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        customers.append(
            {
                "id": n,
                "external_id": f"C{n:05d}",
                "name": f"{first.title()} {last.title()}",
                "email": f"{first}.{last}{n}@example.com",
                "tier": weighted(
                    rng, (("vip", 0.05), ("gold", 0.2), ("silver", 0.35), (None, 0.4))
                ),
                "status": weighted(rng, (("active", 0.85), ("churned", 0.15))),
                "website": f"https://{last}{n}.example.com" if n % 5 == 0 else None,
                "domain": f"{last}{n}.example.com" if n % 5 == 0 else None,
                "name_key": f"{first} {last}",
                "email_key": f"{first}.{last}{n}@example.com",
                "created_at": now - timedelta(days=rng.randrange(800)),
            }
        )
    bulk(db, Customer.__table__, customers, made)
    rows, identities, suggestions = [], [], []
    for n in range(1, authors + 1):
        network = "reddit" if n % 3 else "mastodon"
        customer_id = n if n <= len(customers) and n % 2 == 0 else None
        # A linked author goes by their customer's name.
        person = customers[n - 1]["name_key"] if customer_id else None
        first, last = person.split() if person else (rng.choice(FIRST), rng.choice(LAST))
        name = f"{first}_{last}{n}"
        handle = name if network == "reddit" else f"{name}@{rng.choice(INSTANCES)}"
        rows.append(
            {
                "id": n,
                "network": network,
                "handle": handle.lower(),
                "display_name": name.replace("_", " ").title(),
                "url": f"https://www.reddit.com/user/{name}"
                if network == "reddit"
                else f"https://{handle.partition('@')[2]}/@{name}",
                "followers": int(rng.paretovariate(1.1)) - 1,
                "customer_id": customer_id,
                "linked_by": rng.choice(("auto", "crm-handle")) if customer_id else None,
                "linked_at": now - timedelta(days=rng.randrange(100)) if customer_id else None,
                "link_evidence": [{"kind": "crm_handle", "detail": handle, "weight": 1.0}]
                if customer_id
                else None,
            }
        )
        if customer_id:
            identities.append(
                {"customer_id": customer_id, "network": network, "handle": handle.lower()}
            )
        elif n <= len(customers) * 2 and n % 4 == 1:
            status = weighted(rng, (("pending", 0.7), ("rejected", 0.2), ("superseded", 0.1)))
            suggestions.append(
                {
                    "author_id": n,
                    "customer_id": rng.randrange(1, len(customers) + 1),
                    "confidence": round(rng.uniform(0.4, 0.85), 3),
                    "evidence": [
                        {"kind": "display_name", "detail": name, "weight": 0.35},
                        {"kind": "same_username", "detail": name, "weight": 0.3},
                    ],
                    "status": status,
                    "created_at": now - timedelta(days=rng.randrange(60)),
                    "decided_by": "maria" if status == "rejected" else None,
                    "decided_at": now - timedelta(days=1) if status == "rejected" else None,
                }
            )
    bulk(db, AuthorRecord.__table__, rows, made)
    bulk(db, Identity.__table__, identities, made)
    bulk(db, LinkSuggestion.__table__, suggestions, made)
    return rows


def seed_mentions(
    db: Database,
    rng: random.Random,
    made: Made,
    authors: list[dict[str, Any]],
    *,
    total: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Conversations (a post and its replies) until ``total`` mentions, with their labels."""
    by_network = {
        network: [row for row in authors if row["network"] == network]
        for network in ("reddit", "mastodon")
    }
    mentions: list[dict[str, Any]] = []
    while len(mentions) < total:
        brand = rng.choice(BRANDS)
        network = weighted(rng, (("reddit", 0.6), ("mastodon", 0.4)))
        # Busier lately: a uniform draw raised to a power puts more threads near now.
        started = now - timedelta(seconds=int(DAYS * 86400 * rng.random() ** 1.6))
        size = min(int(rng.paretovariate(1.3)), 60, total - len(mentions))
        thread = f"t3_{len(mentions):x}" if network == "reddit" else str(10**17 + len(mentions))
        for position in range(size):
            pool = by_network[network]
            # A few authors write much of what is said: the first twentieth, a third of it.
            prolific = rng.random() < 0.3
            author = rng.choice(pool[: len(pool) // 20] if prolific else pool)
            native = (
                thread
                if position == 0
                else (
                    f"t1_{len(mentions):x}" if network == "reddit" else str(10**17 + len(mentions))
                )
            )
            created = min(started + timedelta(minutes=rng.randrange(1, 600) * position), now)
            language = weighted(rng, LANGUAGES)
            label = weighted(rng, LABELS)
            body = rng.choice(TEXTS[language or "en"][label]).format(brand=brand)
            deleted = rng.random() < DELETED_SHARE
            handle = author["handle"]
            mentions.append(
                {
                    "network": author["network"],
                    "native_id": native,
                    "brand": brand,
                    "source": f"{brand}:r/{brand.lower()}:new"
                    if network == "reddit"
                    else f"{brand}:search",
                    "url": f"https://www.reddit.com/r/{brand.lower()}/comments/{thread}/_/{native}/"
                    if network == "reddit"
                    else f"https://{handle.partition('@')[2]}/@{handle.partition('@')[0]}/{native}",
                    "author_id": author["id"],
                    "text": "" if deleted else body,
                    "language": language,
                    "visibility": "public" if rng.random() < 0.97 else "unlisted",
                    "kind": "post" if position == 0 else "comment",
                    "thread_id": thread,
                    "parent_id": None if position == 0 else thread,
                    "reach": int(rng.paretovariate(1.2)),
                    "created_at": created,
                    "ingested_at": created + timedelta(seconds=rng.randrange(30, 600)),
                    "escalated_at": created + timedelta(minutes=11),
                    "deleted_at": created + timedelta(hours=5) if deleted else None,
                    "_label": label,
                }
            )
    # Ids in the order the daemon would have stored them.
    mentions.sort(key=lambda row: row["ingested_at"])
    sentiments = []
    for number, row in enumerate(mentions, start=1):
        row["id"] = number
        label = row.pop("_label")
        if row["ingested_at"] > now - timedelta(minutes=10) or rng.random() < UNCLASSIFIED_SHARE:
            row["escalated_at"] = None
            row["_label"] = None
            continue
        row["_label"] = label
        confidence = round(rng.uniform(0.45, 0.99), 3)
        rest = round((1 - confidence) / 2, 3)
        scores = {"negative": rest, "neutral": rest, "positive": rest, label: confidence}
        sentiments.append(
            {
                "mention_id": number,
                "label": label,
                "confidence": confidence,
                **scores,
                "model": "minilm-onnx-int8",
                "uncertain": confidence < 0.5,
                "classified_at": row["ingested_at"] + timedelta(seconds=20),
            }
        )
    bulk(db, MentionRecord.__table__, [_stored(row) for row in mentions], made)
    bulk(db, SentimentRecord.__table__, sentiments, made)
    return mentions


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    """A generated mention without the seeding's own keys."""
    return {key: value for key, value in row.items() if not key.startswith("_")}


def seed_alerts(
    db: Database,
    rng: random.Random,
    made: Made,
    mentions: list[dict[str, Any]],
    *,
    total: int,
    now: datetime,
) -> None:
    """Mention alerts on negative conversations, a few crisis and health alerts, deliveries."""
    threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in mentions:
        threads.setdefault((row["network"], row["thread_id"]), []).append(row)
    negative = [rows for rows in threads.values() if rows[0]["_label"] == "negative"]
    crisis, health = max(total // 25, 2), max(total // 50, 2)
    picked = sorted(
        rng.sample(negative, min(total - crisis - health, len(negative))),
        key=lambda rows: rows[0]["created_at"],
    )
    alerts: list[dict[str, Any]] = []
    for index, rows in enumerate(picked):
        first, last = rows[0], rows[-1]
        severity = weighted(rng, SEVERITIES)
        opened = first["escalated_at"] or first["ingested_at"]
        recent = len(picked) - index
        status = "open" if recent <= 60 else "acknowledged" if recent <= 100 else "resolved"
        alerts.append(
            {
                "kind": "mention",
                "thread_key": f"{first['network']}:{first['thread_id']}",
                "brand": first["brand"],
                "status": status,
                "reason": f"negative mention ({rng.randrange(55, 99)}% confident) "
                f"on {first['network']}",
                "first_mention_id": first["id"],
                "last_mention_id": last["id"],
                "last_mention_at": last["created_at"],
                "mention_count": len(rows),
                "opened_at": opened,
                "severity": severity,
                "rule": {"critical": "vip-customer", "high": "big-reach"}.get(severity, "negative"),
                "author_id": first["author_id"],
                "level": 1 if severity == "critical" and status != "open" else 0,
                "assignee": rng.choice(("maria", "tom", None)) if status != "open" else None,
                **_lifecycle(status, opened, rng),
            }
        )
    for index in range(crisis):
        brand = BRANDS[index % len(BRANDS)]
        opened = now - timedelta(days=DAYS * (crisis - index) / crisis)
        status = "open" if index >= crisis - len(BRANDS) else "resolved"
        alerts.append(
            {
                "kind": "crisis",
                "thread_key": f"crisis:{brand}:60m",
                "brand": brand,
                "status": status,
                "reason": "48 negative mentions in the last 60 min (usual: 3.1, 15.5x)",
                "mention_count": 48,
                "opened_at": opened,
                "severity": "critical",
                "rule": "spike",
                "level": 0,
                "details": {"window_minutes": 60, "count": 48, "baseline": 3.1, "top": []},
                **_lifecycle(status, opened, rng),
            }
        )
    for index in range(health):
        source = f"{BRANDS[index % 2]}:search"
        status = "open" if index == health - 1 else "resolved"
        opened = now - timedelta(hours=3) if status == "open" else now - timedelta(days=index + 2)
        alerts.append(
            {
                "kind": "health",
                "thread_key": f"health:mastodon:{source}",
                "brand": "",
                "status": status,
                "reason": f"source mastodon/{source} is failing: HTTP 503 from the server",
                "mention_count": 0,
                "opened_at": opened,
                "severity": "high",
                "rule": None,
                "level": 0,
                "details": {"cause": "failing"},
                **_lifecycle(status, opened, rng),
            }
        )
    alerts.sort(key=lambda row: row["opened_at"])
    for number, row in enumerate(alerts, start=1):
        row["id"] = number
    bulk(db, Alert.__table__, alerts, made)
    deliveries = [
        {
            "alert_id": row["id"],
            "channel": "team-email",
            "status": "sent",
            "attempts": 1,
            "next_attempt_at": row["opened_at"],
            "sent_at": row["opened_at"] + timedelta(seconds=4),
            "level": 0,
            "idempotency_key": delivery_key(row["id"], "team-email", 0),
            "created_at": row["opened_at"],
        }
        for row in alerts
    ]
    bulk(db, Delivery.__table__, deliveries, made)


def _lifecycle(status: str, opened: datetime, rng: random.Random) -> dict[str, Any]:
    """Who acknowledged and resolved an alert of ``status``, and when."""
    acknowledged = opened + timedelta(minutes=rng.randrange(5, 240))
    resolved = acknowledged + timedelta(hours=rng.randrange(1, 48))
    return {
        "acknowledged_at": acknowledged if status != "open" else None,
        "acknowledged_by": rng.choice(("maria", "tom")) if status != "open" else None,
        "resolved_at": resolved if status == "resolved" else None,
        "resolved_by": rng.choice(("maria", "tom")) if status == "resolved" else None,
    }


def seed_listening(db: Database, made: Made, *, now: datetime) -> None:
    """Every source's cursor (one of them failing for three hours) and a live daemon."""
    cursors = []
    for brand in BRANDS:
        for connector, source in (
            ("reddit", f"{brand}:r/{brand.lower()}:new"),
            ("reddit", f"{brand}:r/{brand.lower()}:comments"),
            ("mastodon", f"{brand}:search"),
            ("mastodon", f"{brand}:#{brand.lower()}"),
        ):
            failing = connector == "mastodon" and source == f"{BRANDS[-1]}:search"
            cursors.append(
                {
                    "connector": connector,
                    "source_key": source,
                    "cursor": "t3_ffff" if connector == "reddit" else "109876543210",
                    "last_success_at": now
                    - (timedelta(hours=3) if failing else timedelta(minutes=1)),
                    "last_item_at": now - timedelta(hours=3, minutes=10 if failing else 0),
                    "consecutive_failures": 14 if failing else 0,
                    "failing_since": now - timedelta(hours=3) if failing else None,
                    "last_error": "HTTP 503 from mastodon.example: Service Unavailable"
                    if failing
                    else None,
                    "last_error_at": now - timedelta(minutes=2) if failing else None,
                    "silence_alerted": False,
                    "poll_interval_seconds": 60.0,
                    "next_poll_at": now + timedelta(seconds=50),
                    "retry_at": now + timedelta(minutes=13) if failing else None,
                }
            )
    bulk(db, SourceCursor.__table__, cursors, made)
    heartbeat = {
        "pid": 4242,
        "host": "social-crm-1",
        "version": "0.1.0",
        "started_at": now - timedelta(days=2),
        "last_beat": now,
        "interval_seconds": 60,
    }
    bulk(db, Heartbeat.__table__, [heartbeat], made)


def advance_sequences(db: Database) -> None:
    """On PostgreSQL, move each id sequence past the ids inserted explicitly."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.begin() as connection:
        for table in ("customers", "authors", "mentions", "alerts"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(tempfile.gettempdir()) / "social_crm_dashboard.sqlite"
    parser.add_argument("--database", default=f"sqlite:///{default}", help="an empty database")
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=1_000)
    parser.add_argument("--authors", type=int, default=16_000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    db = Database(options.database)
    db.upgrade()
    with db.engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(MentionRecord.__table__)):
            sys.exit(f"{masked(options.database)} already has mentions: give an empty database")
    rng = random.Random(options.seed)
    now = datetime.now(UTC)
    made = Made()
    began = time.perf_counter()
    authors = seed_people(db, rng, made, authors=options.authors, now=now)
    mentions = seed_mentions(db, rng, made, authors, total=options.mentions, now=now)
    seed_alerts(db, rng, made, mentions, total=options.alerts, now=now)
    seed_listening(db, made, now=now)
    advance_sequences(db)
    inserted = time.perf_counter() - began
    with db.transaction() as session:
        scoring.recompute(session, now=now, full=True)
        scored = session.scalar(select(func.count()).select_from(AmbassadorScore))
    made.add("ambassador_scores", scored or 0)
    db.close()
    total = time.perf_counter() - began
    print(f"seeded {masked(options.database)} in {total:.1f} s")
    print(f"  bulk inserts {inserted:.1f} s, ambassador scoring {total - inserted:.1f} s")
    for table, rows in made.counts.items():
        print(f"  {table:<20} {rows:>8,}")


if __name__ == "__main__":
    main()
