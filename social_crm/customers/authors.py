"""The stored author a person means by a handle they typed, in any accepted spelling."""

from __future__ import annotations

import contextlib

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from social_crm.customers.handles import normalise
from social_crm.errors import Conflict, NotFound
from social_crm.mentions.models import AuthorRecord

NETWORKS = ("reddit", "mastodon")


def handle_spellings(handle: str, *, network: str | None = None) -> tuple[str, list[str], set[str]]:
    """A typed handle without its network, the networks it may be on, its stored spellings.

    ``handle`` may be spelled as typed (``/u/Name``, ``@User@Host``, a profile URL), as
    stored, or as lists print it (``reddit:name``, ``mastodon:user@host``).
    """
    # "reddit:erik", as lists print a handle, names its network.
    prefix, _, rest = handle.partition(":")
    if prefix in NETWORKS and rest and network in (None, prefix):
        handle, network = rest, prefix
    networks = [network] if network else list(NETWORKS)
    spellings = {handle.strip(), handle.strip().lower()}
    for name in networks:
        with contextlib.suppress(ValueError):
            spellings.add(normalise(name, handle))
    return handle, networks, spellings


def find_author(session: Session, handle: str, *, network: str | None = None) -> AuthorRecord:
    """The one author with ``handle`` on ``network``, or on whichever network has it.

    ``handle`` may be spelled as typed (``/u/Name``, ``@User@Host``, a profile URL), as
    stored, or as lists print it (``reddit:name``, ``mastodon:user@host``). NotFound if no
    author has it; Conflict if, with no network named, several do.
    """
    handle, networks, spellings = handle_spellings(handle, network=network)
    network = network or (networks[0] if len(networks) == 1 else None)
    found = session.scalars(
        select(AuthorRecord).where(
            or_(*(AuthorRecord.network == name for name in networks)),
            AuthorRecord.handle.in_(spellings),
        )
    ).all()
    if not found and network is None:
        found = session.scalars(
            select(AuthorRecord).where(AuthorRecord.handle.in_(spellings))
        ).all()
    if not found:
        where = f" on {network}" if network else ""
        raise NotFound(f"no author {handle!r}{where}")
    if len(found) > 1:
        names = ", ".join(f"{a.network}:{a.handle}" for a in found)
        raise Conflict(f"{handle!r} is ambiguous ({names}); name the network")
    return found[0]
