"""Who is not to be contacted: a flag on a customer (every account of theirs) or on an author."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from social_crm.customers.authors import find_author
from social_crm.customers.timeline import find_customer
from social_crm.db.base import utcnow

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContactFlag:
    """Whether a customer or an author may be contacted, as recorded."""

    who: str  # "customer C-1 (Erik Jansen)" or "reddit:erik"
    do_not_contact: bool
    since: datetime | None
    by: str | None


def set_customer(
    session: Session, key: str, *, do_not_contact: bool, by: str, now: datetime | None = None
) -> ContactFlag:
    """Mark a customer as not to be contacted (or as contactable again)."""
    customer = find_customer(session, key)
    if do_not_contact and customer.do_not_contact_at is None:
        customer.do_not_contact_at, customer.do_not_contact_by = now or utcnow(), by
    elif not do_not_contact:
        customer.do_not_contact_at = customer.do_not_contact_by = None
    who = f"customer {customer.external_id} ({customer.name})"
    LOGGER.info("%s: do not contact %s, by %s", who, "on" if do_not_contact else "off", by)
    return ContactFlag(who, do_not_contact, customer.do_not_contact_at, customer.do_not_contact_by)


def set_author(
    session: Session,
    handle: str,
    *,
    do_not_contact: bool,
    by: str,
    network: str | None = None,
    now: datetime | None = None,
) -> ContactFlag:
    """Mark an author as not to be contacted (or as contactable again)."""
    author = find_author(session, handle, network=network)
    if do_not_contact and author.do_not_contact_at is None:
        author.do_not_contact_at, author.do_not_contact_by = now or utcnow(), by
    elif not do_not_contact:
        author.do_not_contact_at = author.do_not_contact_by = None
    who = f"{author.network}:{author.handle}"
    LOGGER.info("%s: do not contact %s, by %s", who, "on" if do_not_contact else "off", by)
    return ContactFlag(who, do_not_contact, author.do_not_contact_at, author.do_not_contact_by)
