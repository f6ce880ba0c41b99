"""customers: derived match keys (name_key, email_key, domain) for rows stored without them

Customers imported before linking kept these keys have NULL name_key. The link job used to
fill them on every run; this data migration does it once. The key functions are copied
from social_crm.customers.handles as they were at this revision: a migration is frozen
history and must not change when the application's functions do.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The linking watermark: set, so the link job checks every author against these customers.
CUSTOMERS_CHANGED = "linking.customers_changed"
SHARED_HOSTS = frozenset(
    {
        "github.com",
        "gitlab.com",
        "codeberg.org",
        "linktr.ee",
        "medium.com",
        "instagram.com",
        "facebook.com",
        "linkedin.com",
        "youtube.com",
        "twitter.com",
        "x.com",
        "bsky.app",
        "reddit.com",
        "tiktok.com",
        "twitch.tv",
        "patreon.com",
        "ko-fi.com",
        "keybase.io",
    }
)

customers = sa.table(
    "customers",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("email", sa.String()),
    sa.column("website", sa.String()),
    sa.column("name_key", sa.String()),
    sa.column("email_key", sa.String()),
    sa.column("domain", sa.String()),
)
watermarks = sa.table(
    "watermarks", sa.column("name", sa.String()), sa.column("at", sa.DateTime(timezone=True))
)


def name_key(name: str) -> str:
    """A name folded for comparison: no accents, no case, words separated by one space."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.split(r"[\W_]+", plain)).strip()


def site_key(address: str) -> str | None:
    """A web address as its site (``acme.com``; ``github.com/anna`` on a shared host)."""
    text = address.strip()
    if not text:
        return None
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text, flags=re.IGNORECASE)
    host, _, path = text.partition("/")
    host = host.rpartition("@")[2].split(":")[0].strip(".").lower()
    host = host.removeprefix("www.")
    if not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}", host):
        return None
    if host in SHARED_HOSTS:
        segment = re.split(r"[/?#]", path, maxsplit=1)[0].strip().lower()
        return f"{host}/{segment}" if segment else None
    return host


def upgrade() -> None:
    bind = op.get_bind()
    missing = bind.execute(
        sa.select(customers.c.id, customers.c.name, customers.c.email, customers.c.website).where(
            customers.c.name_key.is_(None)
        )
    ).all()
    for row in missing:
        bind.execute(
            customers.update()
            .where(customers.c.id == row.id)
            .values(
                name_key=name_key(row.name) or "",
                email_key=row.email.lower() if row.email else None,
                domain=site_key(row.website) if row.website else None,
            )
        )
    if missing:
        now = datetime.now(UTC)
        if bind.execute(
            sa.select(watermarks.c.name).where(watermarks.c.name == CUSTOMERS_CHANGED)
        ).first():
            bind.execute(
                watermarks.update().where(watermarks.c.name == CUSTOMERS_CHANGED).values(at=now)
            )
        else:
            bind.execute(watermarks.insert().values(name=CUSTOMERS_CHANGED, at=now))


def downgrade() -> None:
    pass  # the keys are derived data; leaving them filled is harmless
