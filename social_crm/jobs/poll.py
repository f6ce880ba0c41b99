"""The poll job: fetch each due source of a connector and store what is new.

Only the sources whose leases this daemon holds are fetched; one it lost (taken over) or
let go (beyond its share) is released on its connector, which stops keeping anything
for it (a Mastodon stream and its buffer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy.exc import OperationalError

from connectors.base import Batch, Releasable, Source
from connectors.errors import AuthenticationError, ConnectorError, RateLimitedError
from social_crm.alerts import health
from social_crm.jobs.context import TURN_SECONDS, JobContext
from social_crm.mentions import source_leases, sources
from social_crm.mentions.ingest import load_cursor, store_batch

LOGGER = logging.getLogger(__name__)


def poll(ctx: JobContext, name: str, *, paced: bool = True) -> int:
    """Fetch every due source of one connector; returns how many new mentions were stored.

    A failing source waits out its backoff; ``paced=False`` skips only the pacing wait. A
    source whose fetch says more is waiting is fetched again in the same run, for
    ``TURN_SECONDS``; then the run ends with that source due at once, and the job in
    ``ctx.run_again``.
    """
    connector = ctx.connectors[name]
    watched = connector.sources()
    with ctx.db.transaction() as session:
        if sources.is_disabled(session, name):
            return 0
    # Only the sources this daemon holds the lease of (all of them, when it runs alone).
    lease = source_leases.lease_seconds(ctx.settings, name)
    keys = [source.key for source in watched]
    held = source_leases.claim(ctx.db, name, keys, holder=ctx.holder, seconds=lease, now=ctx.now())
    before = ctx.held_sources.get(name, set())
    release(ctx, name, [s for s in watched if s.key in before and s.key not in held])
    ctx.held_sources[name] = set(held)
    with ctx.db.transaction() as session:
        due = sources.due_cursors(session, name, held, ctx.now(), paced=paced)
    floor, ceiling = sources.pacing_bounds(ctx.settings, name)
    stored = 0
    pending = [source for source in watched if source.key in due]
    turn_ends = time.monotonic() + TURN_SECONDS
    while pending and not ctx.stop.is_set():
        source = pending.pop(0)
        if not source_leases.renew(
            ctx.db, name, source.key, holder=ctx.holder, seconds=lease, now=ctx.now()
        ):
            release(ctx, name, [source])  # taken over while this run polled the ones before it
            continue
        cursor = due[source.key]
        try:
            batch = connector.fetch(source, cursor)
        except AuthenticationError as exc:
            disable(ctx, name, source.key, exc)
            return stored
        except Exception as exc:  # noqa: BLE001 - any surprise is this source's failure alone
            _record_failure(ctx, name, source.key, exc)
            continue
        try:
            with ctx.db.transaction() as session:
                # Renewed and locked until this commits: nobody else stores this source now.
                if not source_leases.holds(
                    session, name, source.key, holder=ctx.holder, seconds=lease, now=ctx.now()
                ):
                    LOGGER.warning(
                        "source %s/%s was taken over by another daemon during its fetch; "
                        "what it fetched is left to that daemon",
                        name,
                        source.key,
                    )
                    raise _TakenOver
                row = load_cursor(session, name, source.key)
                recovered = row.consecutive_failures > 0
                added = store_batch(
                    session,
                    name,
                    source.key,
                    _without_own_posts(ctx, batch),
                    rules=ctx.rules.get(source.brand),
                )
                if added:
                    health.note_recovery(session, row)
                if recovered:
                    health.note_poll_recovery(session, row)
                sources.record_success(
                    row,
                    fetched=len(batch.mentions),
                    page_size=source.page_size,
                    floor=floor,
                    ceiling=ceiling,
                    now=ctx.now(),
                )
                if batch.more:
                    row.next_poll_at = ctx.now()  # the rest of its backlog: due at once
        except _TakenOver:
            release(ctx, name, [source])
            continue
        except OperationalError:
            raise  # the database's failure, not the source's (locked, full, gone away)
        except Exception as exc:  # noqa: BLE001 - nothing was stored: failed, not ok
            _record_failure(ctx, name, source.key, exc)
            continue
        if recovered:
            ctx.failure_logged_at.pop(f"{name}/{source.key}", None)
            LOGGER.info("source %s/%s recovered", name, source.key)
        if added:
            LOGGER.info("%s/%s: %d new mention(s)", name, source.key, added)
            ctx.metrics.mentions_stored.labels(name, source.key).inc(added)
        stored += added
        if batch.more and time.monotonic() < turn_ends:
            # A backlog: its next part after the other sources have had their turn, each
            # part stored before the next is read.
            due[source.key] = batch.cursor
            pending.append(source)
        elif batch.more:
            ctx.run_again.add(f"poll:{name}")
    return stored


class _TakenOver(Exception):
    """Another daemon holds the lease of the source being stored: nothing is stored."""


def release(ctx: JobContext, name: str, lost: Iterable[Source]) -> None:
    """Tell connector ``name`` that this process no longer polls ``lost`` (their leases are
    another daemon's, or let go), so it keeps nothing for them: a stream, a buffer."""
    connector = ctx.connectors[name]
    held = ctx.held_sources.setdefault(name, set())
    for source in lost:
        held.discard(source.key)
        if not isinstance(connector, Releasable):
            continue
        try:
            connector.release(source)
        except Exception as exc:  # noqa: BLE001 - polling the sources still held goes on
            LOGGER.warning("connector %s could not release source %s: %s", name, source.key, exc)


def _without_own_posts(ctx: JobContext, batch: Batch) -> Batch:
    """The batch less what the brands' own accounts wrote (their replies come back in the
    listings watched): those are no mentions, to alert on or rank."""
    brands = {brand.name: brand for brand in ctx.settings.brands}
    kept = [
        mention
        for mention in batch.mentions
        if not (
            (brand := brands.get(mention.brand)) is not None
            and brand.owns(mention.network, mention.author.handle)
        )
    ]
    if len(kept) == len(batch.mentions):
        return batch
    LOGGER.debug("left out %d post(s) of the brand's own accounts", len(batch.mentions) - len(kept))
    return Batch(mentions=kept, cursor=batch.cursor, skipped=batch.skipped)


def disable(ctx: JobContext, name: str, source_key: str | None, exc: AuthenticationError) -> None:
    """Stop polling a connector whose credentials were refused: one log line, one alert.

    ``source_key``: the source whose poll was refused (None: the refresh job was).
    """
    reason = f"connector {name} disabled: {exc} (fix its credentials and restart)"
    keys = [source.key for source in ctx.connectors[name].sources()]
    with ctx.db.transaction() as session:
        if not sources.disable(session, name, keys, reason, now=ctx.now()):
            return
        if source_key is not None:
            # Counted, not backed off: a restart with fixed credentials polls it at once.
            sources.note_error(load_cursor(session, name, source_key), exc, now=ctx.now())
        LOGGER.error("%s", reason)
        health.raise_health_alert(
            session, name, None, reason, ctx.routing.levels[0], cause="disabled"
        )


def _record_failure(ctx: JobContext, name: str, key: str, exc: Exception) -> None:
    """Back a failing source off; logged when it starts failing (or this process starts),
    then every ``health.failing_log_minutes``; one health alert once it fails for
    ``health.failing_alert_minutes``.

    Not only ConnectorError: a surprise from a connector or from storage is recorded on
    the source's cursor row too, so `status` shows it failing with the error.
    """
    retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
    health_settings, now = ctx.settings.health, ctx.now()
    floor, _ = sources.pacing_bounds(ctx.settings, name)
    with ctx.db.transaction() as session:
        lease = source_leases.lease_seconds(ctx.settings, name)
        if not source_leases.holds(session, name, key, holder=ctx.holder, seconds=lease, now=now):
            return  # another daemon polls it now, and records its own failures
        row = load_cursor(session, name, key)
        previous_error_at = row.last_error_at
        failures, wait = sources.record_failure(
            session, name, key, exc, now=now, floor=floor, retry_after=retry_after
        )
        since = row.failing_since or now
        limit = timedelta(minutes=health_settings.failing_alert_minutes)
        # Raised when the failures cross the limit, so once per failing stretch.
        if now - since >= limit and (
            previous_error_at is None or previous_error_at - since < limit
        ):
            reason = (
                f"source {name}/{key} has failed for {(now - since).total_seconds() / 60:.0f} "
                f"minutes ({failures} polls in a row): {exc}"
            )
            health.raise_health_alert(
                session, name, key, reason, ctx.routing.levels[0], cause="failing"
            )
    source = f"{name}/{key}"
    logged = ctx.failure_logged_at.get(source)
    if (
        failures == 1
        or logged is None
        or now - logged >= timedelta(minutes=health_settings.failing_log_minutes)
    ):
        ctx.failure_logged_at[source] = now
        LOGGER.error(
            "source %s failed (%d in a row, failing since %s), retrying in %.0f s: %s",
            source,
            failures,
            f"{since:%Y-%m-%d %H:%M} UTC",
            wait,
            exc if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}",
        )
    else:
        LOGGER.debug("source %s failed (%d in a row), retrying in %.0f s", source, failures, wait)
    if not isinstance(exc, ConnectorError):
        LOGGER.debug("source %s: where it failed", source, exc_info=exc)
