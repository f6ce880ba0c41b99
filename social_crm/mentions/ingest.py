"""Store what a connector fetched: new mentions and the source's cursor, in one transaction."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from connectors.base import Author, Batch, Mention, Revision, Skipped
from social_crm.db import locks
from social_crm.db.base import utcnow
from social_crm.listening import Item, RuleSet
from social_crm.mentions.exclusions import count_exclusions
from social_crm.mentions.models import AuthorRecord, MentionRecord, SkippedItem, SourceCursor
from social_crm.mentions.storable import storable

LOGGER = logging.getLogger(__name__)

EXCERPT_LENGTH = 2000  # of a skipped item, enough to see what was odd about it


def load_cursor(session: Session, connector: str, source_key: str) -> SourceCursor:
    """The stored cursor row of a source, created empty on first use."""
    row = session.scalar(
        select(SourceCursor).where(
            SourceCursor.connector == connector, SourceCursor.source_key == source_key
        )
    )
    if row is None:
        row = SourceCursor(connector=connector, source_key=source_key, consecutive_failures=0)
        session.add(row)
        session.flush()
    return row


def store_batch(
    session: Session,
    connector: str,
    source_key: str,
    batch: Batch,
    *,
    rules: RuleSet | None = None,
) -> int:
    """Add the batch's mentions not stored yet and move the cursor; returns how many were new.

    Runs inside the caller's transaction, so the cursor never moves past a mention that
    was not stored. The batch goes in at once (one SAVEPOINT); if the database refuses
    an item, the batch goes in again one item per SAVEPOINT, and the item refused is kept
    in ``skipped_items`` instead, so one bad item never holds the source back.
    With ``rules`` (the brand's listening rules), a new item they exclude is not stored,
    only counted per rule in ``listening_exclusions``; None keeps every item.

    Daemons storing the same network's mentions take turns (an advisory lock until the
    transaction ends): two sources that both serve a post, or two posts by one new
    author, polled by two daemons at once, store it once instead of colliding.
    """
    locks.serialise(session, *(f"ingest:{m.network}" for m in batch.mentions))
    cursor = load_cursor(session, connector, source_key)
    known = _known_ids(session, batch.mentions)
    excluded: Counter[str] = Counter()
    new: list[Mention] = []
    for mention in batch.mentions:
        key = (mention.network, mention.native_id)
        if key in known:
            continue
        known.add(key)
        if rules is not None:
            decision = rules.decide(Item.of(mention))
            if not decision.kept:
                excluded[decision.rule] += 1
                LOGGER.debug(
                    "%s/%s: %s left out by %s: %s",
                    connector,
                    source_key,
                    storable(mention.native_id),
                    decision.rule,
                    decision.reason,
                )
                continue
        new.append(mention)
    try:
        # The whole batch at once: its authors and parents looked up together, one flush.
        with session.begin_nested():
            added = _add(session, new, source=(connector, source_key), one_by_one=False)
    except OperationalError:
        raise  # the database, not an item (locked, gone away): the poll fails, retries
    except Exception:  # noqa: BLE001 - an item the database refuses: find it, skip it
        added = _add(session, new, source=(connector, source_key), one_by_one=True)
    for item in batch.skipped:
        skip(session, connector, source_key, item)
    now = utcnow()
    if excluded and rules is not None:
        count_exclusions(
            session,
            brand=rules.brand,
            connector=connector,
            source_key=source_key,
            counts=excluded,
            now=now,
        )
        LOGGER.info(
            "%s/%s: %d item(s) left out by the listening rules (%s)",
            connector,
            source_key,
            excluded.total(),
            ", ".join(f"{rule}: {count}" for rule, count in excluded.most_common()),
        )
    cursor.cursor = batch.cursor
    cursor.last_success_at = now
    cursor.consecutive_failures = 0
    if added or excluded or cursor.last_item_at is None:
        # Silence is measured from the last item (a mention, or one the rules left out:
        # the source works), or from the first poll.
        cursor.last_item_at = now
    session.flush()
    return added


def _add(
    session: Session, mentions: list[Mention], *, source: tuple[str, str], one_by_one: bool
) -> int:
    """Add ``mentions`` (new ones) with their authors; returns how many were added.

    Together: the authors first (one flush gives the new ones their ids), then the
    mentions in one multi-row INSERT. ``one_by_one``: each in its own SAVEPOINT, so one the
    database refuses is kept in ``skipped_items`` (for ``source``: connector and source
    key) and the others are stored.
    """
    authors = _stored_authors(session, mentions)
    threads = _stored_threads(session, mentions)  # native id -> thread, the batch's included
    if not one_by_one:
        for mention in mentions:
            key = (mention.network, mention.author.handle)
            authors[key] = _upsert_author(session, mention.author, authors.get(key))
        session.flush()
        rows = []
        for mention in mentions:
            row = _row(mention, authors[(mention.network, mention.author.handle)].id, threads)
            threads[(mention.network, mention.native_id)] = row["thread_id"]
            rows.append(row)
        if rows:
            session.execute(insert(MentionRecord), rows)
        return len(rows)
    added = 0
    for mention in mentions:
        try:
            with session.begin_nested():
                key = (mention.network, mention.author.handle)
                author = authors[key] = _upsert_author(session, mention.author, authors.get(key))
                session.flush()
                row = _row(mention, author.id, threads)
                session.add(MentionRecord(**row))
                session.flush()
        except OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the database refuses, skip the item
            # An author added in the rolled-back savepoint is gone.
            authors = _stored_authors(session, mentions)
            skip(session, *source, _skipped(mention, exc))
            continue
        threads[(mention.network, mention.native_id)] = row["thread_id"]
        added += 1
    session.flush()
    return added


def skip(session: Session, connector: str, source_key: str, item: Skipped) -> None:
    """Keep an item that could not be read or stored, logged once with its id."""
    exists = session.scalar(
        select(SkippedItem.id).where(
            SkippedItem.connector == connector,
            SkippedItem.source_key == source_key,
            SkippedItem.native_id == storable(item.native_id, SkippedItem.native_id),
        )
    )
    if exists is not None:
        return
    LOGGER.warning(
        "%s/%s: skipped item %s, kept for inspection: %s",
        connector,
        source_key,
        storable(item.native_id),
        item.error,
    )
    session.add(
        SkippedItem(
            connector=connector,
            source_key=source_key,
            native_id=storable(item.native_id, SkippedItem.native_id),
            error=storable(item.error),
            excerpt=storable(item.excerpt)[:EXCERPT_LENGTH],
        )
    )
    session.flush()


def _skipped(mention: Mention, exc: Exception) -> Skipped:
    """A mention the database refused, with the first line of the reason."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return Skipped(
        native_id=mention.native_id,
        error=f"{type(exc).__name__}: {reason[0] if reason else ''}",
        excerpt=repr(mention)[:EXCERPT_LENGTH],
    )


def apply_revisions(session: Session, network: str, revisions: Sequence[Revision]) -> int:
    """Store edited texts and mark deleted mentions, dropping their text; returns the changes."""
    by_id = {revision.native_id: revision for revision in revisions}
    if not by_id:
        return 0
    changed = 0
    stored = session.scalars(
        select(MentionRecord).where(
            MentionRecord.network == network, MentionRecord.native_id.in_(list(by_id))
        )
    )
    for mention in stored:
        revision = by_id[mention.native_id]
        if revision.deleted:
            if mention.deleted_at is None:
                mention.deleted_at, mention.text = utcnow(), ""
                changed += 1
        elif (
            storable(revision.text) != mention.text
            and mention.deleted_at is None
            and mention.expired_at is None  # retention cleared it: an edit does not bring it back
        ):
            mention.text = storable(revision.text)
            mention.edited_at = revision.edited_at or utcnow()
            # The new words may say something else: classify and escalate them again.
            if mention.sentiment is not None:
                session.delete(mention.sentiment)
            mention.escalated_at = None
            changed += 1
    session.flush()
    return changed


def _known_ids(session: Session, mentions: list[Mention]) -> set[tuple[str, str]]:
    known: set[tuple[str, str]] = set()
    by_network: dict[str, list[str]] = {}
    for mention in mentions:
        by_network.setdefault(mention.network, []).append(mention.native_id)
    for network, ids in by_network.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            known.update(
                (network, native_id)
                for native_id in session.scalars(
                    select(MentionRecord.native_id).where(
                        MentionRecord.network == network, MentionRecord.native_id.in_(chunk)
                    )
                )
            )
    return known


def _stored_authors(
    session: Session, mentions: Sequence[Mention]
) -> dict[tuple[str, str], AuthorRecord]:
    """The stored authors of ``mentions``, by network and handle."""
    found: dict[tuple[str, str], AuthorRecord] = {}
    by_network: dict[str, set[str]] = {}
    for mention in mentions:
        by_network.setdefault(mention.network, set()).add(mention.author.handle)
    for network, handles in by_network.items():
        ordered = sorted(handles)
        for start in range(0, len(ordered), 500):
            for record in session.scalars(
                select(AuthorRecord).where(
                    AuthorRecord.network == network,
                    AuthorRecord.handle.in_(ordered[start : start + 500]),
                )
            ):
                found[(record.network, record.handle)] = record
    return found


def _stored_threads(session: Session, mentions: Sequence[Mention]) -> dict[tuple[str, str], str]:
    """The conversations of the stored mentions ``mentions`` answer, by network and id."""
    found: dict[tuple[str, str], str] = {}
    by_network: dict[str, set[str]] = {}
    for mention in mentions:
        if mention.parent_id:
            by_network.setdefault(mention.network, set()).add(mention.parent_id)
    for network, parents in by_network.items():
        ordered = sorted(parents)
        for start in range(0, len(ordered), 500):
            for native_id, thread_id in session.execute(
                select(MentionRecord.native_id, MentionRecord.thread_id).where(
                    MentionRecord.network == network,
                    MentionRecord.native_id.in_(ordered[start : start + 500]),
                )
            ):
                found[(network, native_id)] = thread_id
    return found


def _upsert_author(session: Session, author: Author, record: AuthorRecord | None) -> AuthorRecord:
    """``record`` (the stored author, if any) brought up to date, or a new one added."""
    if record is None:
        record = AuthorRecord(network=author.network, handle=author.handle, followers=0)
        session.add(record)
    display_name = storable(author.display_name, AuthorRecord.display_name)
    display_name = display_name or record.display_name or ""
    profile = dict(author.profile) if author.profile is not None else record.profile
    if (display_name, profile) != (record.display_name, record.profile):
        record.link_checked_at = None  # new evidence: look for its customer again
    record.display_name, record.profile = display_name, profile
    record.bot = author.bot
    record.url = storable(author.url, AuthorRecord.url) or record.url or ""
    if author.profile is not None or author.followers:
        # A listing without the profile (Reddit's, when its budget ran low) says nothing of reach.
        record.followers = max(author.followers, 0)
    return record


def _row(mention: Mention, author_id: int, threads: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The ``mentions`` row of a new mention by the stored author ``author_id``."""
    thread_id = mention.thread_id
    if mention.parent_id:
        # A reply to a stored reply (or to one earlier in the same batch) belongs to the
        # conversation its parent belongs to.
        thread_id = threads.get((mention.network, mention.parent_id)) or thread_id
    return {
        "network": mention.network,
        "native_id": mention.native_id,
        "brand": mention.brand,
        "source": mention.source,
        "url": storable(mention.url, MentionRecord.url),
        "author_id": author_id,
        "text": storable(mention.text),
        "language": mention.language,
        "visibility": mention.visibility,
        "kind": mention.kind,
        "thread_id": thread_id,
        "parent_id": mention.parent_id,
        "locator": mention.locator,
        "community": storable(mention.community, MentionRecord.community)
        if mention.community
        else None,
        "reach": mention.reach,
        "created_at": mention.created_at,
        "edited_at": mention.edited_at,
        "ingested_at": utcnow(),
    }
