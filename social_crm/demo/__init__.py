"""`social-crm demo`: the whole bot against local fake networks, with no credentials."""

from __future__ import annotations

import os
import threading
import time
from contextlib import ExitStack
from importlib.resources import files
from pathlib import Path

import requests
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from sqlalchemy import func, select

from social_crm import jobs
from social_crm.alerts.service import list_alerts
from social_crm.ambassadors.report import ambassador_rows
from social_crm.cli.render import cell, short_text
from social_crm.config import Settings, bundled_config, load_config
from social_crm.customers.importer import import_customers
from social_crm.daemon import Daemon
from social_crm.db import Database
from social_crm.delivery.enums import DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.demo.script import ACCOUNTS, BOTS, SCRIPT
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink
from social_crm.demo.web import serve_dashboard
from social_crm.engagement import lifecycle, service
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.models import Reply
from social_crm.engagement.recovery import recovery_report
from social_crm.mentions.exclusions import ExclusionCount, exclusion_report
from social_crm.mentions.models import MentionRecord

STEP_SECONDS = 0.4
# The person of the community team who approves the proposed reply.
APPROVER = "Maria (community team)"


def run_demo(
    *, console: Console, seconds: float | None = None, serve_seconds: float | None = 0
) -> None:
    """Start the fakes and sinks, publish the script, run the daemon (for ``seconds`` at
    most), print the results, then serve the dashboard on the demo's database for
    ``serve_seconds`` (None: until Ctrl-C; 0: not at all). Ctrl-C during the script ends
    the demo after the printout."""
    with ExitStack() as stack:
        reddit = stack.enter_context(FakeReddit())
        mastodon = stack.enter_context(FakeMastodon(owner="brewly"))
        smtp = stack.enter_context(SmtpSink())
        webhook = stack.enter_context(WebhookSink())
        for username, (domain, display_name, followers) in ACCOUNTS.items():
            mastodon.add_account(
                username, display_name=display_name, followers=followers, remote_domain=domain
            )
        for username, (domain, display_name, followers) in BOTS.items():
            mastodon.add_account(
                username,
                display_name=display_name,
                followers=followers,
                remote_domain=domain,
                bot=True,
            )
        os.environ.update(
            SOCIAL_CRM_DEMO_REDDIT_URL=reddit.url,
            SOCIAL_CRM_DEMO_MASTODON_URL=mastodon.url,
            SOCIAL_CRM_DEMO_SMTP_PORT=str(smtp.port),
            SOCIAL_CRM_DEMO_WEBHOOK_URL=webhook.url,
        )
        config_path = bundled_config("demo.yaml")
        settings = load_config(config_path)
        database = settings.resolved_data_dir / "social_crm.sqlite"
        for leftover in database.parent.glob(database.name + "*"):
            leftover.unlink()  # every demo starts from an empty database
        console.print(
            f"[bold]social-crm demo[/]: fake Reddit at {reddit.url}, fake Mastodon at "
            f"{mastodon.url}, database {database}"
        )

        daemon = Daemon(settings)
        daemon.start()
        customers = Path(str(files("social_crm.demo") / "customers.csv"))
        with daemon.db.transaction() as session:
            imported = import_customers(session, customers)
        console.print(f"imported {imported.created} customers from the sample CRM file {customers}")

        published: list[str] = []
        publisher = threading.Thread(
            target=_publish, args=(reddit, mastodon, published), daemon=True
        )
        started = time.monotonic()
        first_alert: list[float] = []
        ran_through = threading.Event()  # not stopped by Ctrl-C
        status = console.status("starting")

        def tick() -> bool:
            _approve_proposals(daemon)
            stored, left_out, pending, alerts = _progress(daemon)
            if alerts and not first_alert:
                first_alert.append(time.monotonic() - started)
            status.update(
                f"published {len(published)}/{len(SCRIPT)}  stored {stored}  "
                f"left out {left_out}  alerts {alerts}  emails {len(smtp.messages)}  "
                f"webhooks {len(webhook.payloads)}"
            )
            # Each post of the script is found by one source only once stored or left out.
            finished = (
                len(published) == len(SCRIPT) and stored + left_out >= len(SCRIPT) and pending == 0
            )
            timed_out = seconds is not None and time.monotonic() - started >= seconds
            if finished or timed_out:
                ran_through.set()
            return finished or timed_out

        with status:
            publisher.start()
            daemon.run(tick=tick)
        jobs.score(
            daemon.context
        )  # the ranking as of the last mention, not of the last scheduled run
        elapsed = time.monotonic() - started
        _report(console, settings, smtp, webhook)
        _reply_report(console, settings, reddit)
        if first_alert:
            console.print(
                f"first alert delivered {first_alert[0]:.1f} s after start; "
                f"demo took {elapsed:.1f} s"
            )
        console.print(
            "explore the demo database: social-crm alerts list -c config/demo.yaml; "
            "social-crm ambassadors list -c config/demo.yaml --format csv; "
            "social-crm replies show 1 -c config/demo.yaml; "
            "social-crm replies report -c config/demo.yaml"
        )
    if ran_through.is_set() and serve_seconds != 0:
        serve_dashboard(settings, console=console, seconds=serve_seconds)


def _approve_proposals(daemon: Daemon) -> None:
    """The community team's part: approve each draft the rules proposed, to resolve its
    alert once sent; the daemon's send job posts it."""
    with daemon.db.transaction() as session:
        proposed = session.scalars(
            select(Reply.id).where(Reply.status == ReplyStatus.DRAFT, Reply.rule.is_not(None))
        ).all()
        for reply_id in proposed:
            lifecycle.approve(
                session,
                reply_id,
                by=APPROVER,
                config=daemon.settings.engagement,
                resolve_alert=True,
            )


def _publish(reddit: FakeReddit, mastodon: FakeMastodon, published: list[str]) -> None:
    ids: dict[str, str] = {}
    for step in SCRIPT:
        time.sleep(STEP_SECONDS)
        published.append(step.publish(reddit, mastodon, ids))


def _progress(daemon: Daemon) -> tuple[int, int, int, int]:
    """(mentions stored, items left out by the listening rules, mentions or deliveries
    still in the pipeline, alerts delivered)."""
    with daemon.db.transaction() as session:
        stored = session.scalar(select(func.count()).select_from(MentionRecord)) or 0
        left_out = sum(row.count for row in exclusion_report(session))
        unprocessed = (
            session.scalar(
                select(func.count())
                .select_from(MentionRecord)
                .where(MentionRecord.escalated_at.is_(None))
            )
            or 0
        )
        pending = (
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING)
            )
            or 0
        )
        delivered = (
            session.scalar(
                select(func.count(func.distinct(Delivery.alert_id))).where(
                    Delivery.status == DeliveryStatus.SENT
                )
            )
            or 0
        )
    return stored, left_out, unprocessed + pending, delivered


def _report_left_out(console: Console, rows: list[ExclusionCount]) -> None:
    """The noise the listening rules kept out: never stored, never an alert."""
    total = sum(row.count for row in rows)
    table = Table(
        "rule", "source", "posts", title=f"Left out by the listening rules: {total} posts"
    )
    for row in rows:
        table.add_row(escape(row.rule), escape(row.source_key), str(row.count))
    console.print(table)


def _report(console: Console, settings: Settings, smtp: SmtpSink, webhook: WebhookSink) -> None:
    db = Database(settings.database_url)
    with db.transaction() as session:
        alerts = list_alerts(session)
        ranking = ambassador_rows(session, limit=10)
        left_out = exclusion_report(session)
    db.close()
    table = Table(
        "id",
        "author",
        "customer",
        "mentions",
        "text",
        "sent to",
        title="Alerts for the community team",
    )
    for alert in alerts:
        mention = alert.first_mention
        if mention is None:
            continue  # health alerts: the demo's fake networks do not fail
        customer = mention.customer
        table.add_row(
            str(alert.id),
            mention.handle,
            f"{customer.name} ({customer.tier})" if customer else "",
            str(alert.mention_count),
            short_text(mention.text, 48),
            ", ".join(d.channel for d in alert.deliveries if d.status == DeliveryStatus.SENT),
        )
    console.print(table)
    for message in smtp.messages:
        subject = " ".join(str(message["Subject"]).split())  # unfold the long header
        console.print(f"  email received: {escape(subject)}")
    console.print(f"  webhook posts received: {len(webhook.payloads)}")
    _report_left_out(console, left_out)
    ambassadors = Table(
        "rank",
        "author",
        "customer",
        "score",
        "positive",
        "negative",
        "reach",
        title="Ambassador ranking for marketing",
    )
    for row in ranking:
        ambassadors.add_row(
            str(row.rank),
            row.author,
            row.customer,
            f"{row.score:.2f}",
            str(row.positive),
            str(row.negative),
            str(row.reach),
        )
    console.print(ambassadors)


def _reply_report(console: Console, settings: Settings, reddit: FakeReddit) -> None:
    """The reply that was approved and sent: what, where, as whom, the thread on the fake
    network as a reader sees it, and the recovery rate."""
    db = Database(settings.database_url)
    with db.transaction() as session:
        sent = [
            service.get_reply(session, reply.id)
            for reply in service.list_replies(session, status=ReplyStatus.SENT)
        ]
        report = recovery_report(session, window_days=settings.engagement.recovery_window_days)
    db.close()
    console.print()
    console.print("[bold]A reply, approved by a person and sent by the daemon[/]")
    if not sent:
        console.print("  no reply was sent")
        return
    reply = sent[-1]
    summary = reply.summary
    lines = [
        f"reply {summary.id} to {cell(summary.network)}:{cell(summary.handle)}"
        + (f" = {cell(summary.customer)}" if summary.customer else "")
        + (f", answering alert {summary.alert_id}" if summary.alert_id else ""),
        f"drafted by {cell(summary.created_by)}, approved by {cell(summary.approved_by)}",
        f"sent by the daemon as {cell(summary.account)}"
        + (f"; alert {summary.alert_id} resolved" if reply.resolve_alert else ""),
        f"where: {cell(summary.posted_url)}",
        "text:",
    ]
    for line in lines:
        _indented(console, line, 2)
    for line in (reply.outgoing_text or summary.text).splitlines():
        if line.strip():
            _indented(console, escape(line), 4)
        else:
            console.print()  # the blank line before the footer
    _indented(console, "on the fake Reddit, the thread reads:", 2)
    for depth, author, text in _thread(reddit, summary.mention_url):
        indent = 4 + 2 * depth
        _indented(console, escape(short_text(f"{author}: {text}", console.width - indent)), indent)
    total = report.total
    rate = "—" if total.rate is None else f"{total.rate:.0%}"
    _indented(
        console,
        f"recovery rate: {rate} ({total.recovered} recovered, {total.not_recovered} not "
        f"recovered, {total.pending} pending)",
        2,
    )


def _indented(console: Console, line: str, indent: int) -> None:
    """One line of the report, wrapped between words with its indent kept."""
    console.print(Padding(line, (0, 0, 0, indent), expand=False), highlight=False)


def _thread(reddit: FakeReddit, post_url: str) -> list[tuple[int, str, str]]:
    """(depth, author, text) of a Reddit post and its comments, read from the fake over HTTP
    as any reader (an app-only token) reads them."""
    article = post_url.split("/comments/", 1)[1].split("/", 1)[0]
    token = requests.post(
        f"{reddit.url}/api/v1/access_token",
        auth=(reddit.client_id, reddit.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()["access_token"]
    post, comments = requests.get(
        f"{reddit.url}/comments/{article}/",
        headers={"Authorization": f"bearer {token}"},
        params={"raw_json": "1"},
        timeout=5,
    ).json()
    head = post["data"]["children"][0]["data"]
    found = [(0, str(head["author"]), str(head["title"]))]

    def walk(listing: object, depth: int) -> None:
        children = listing.get("data", {}).get("children", []) if isinstance(listing, dict) else []
        for child in children:
            if child.get("kind") == "t1":
                data = child["data"]
                found.append((depth, str(data["author"]), str(data["body"])))
                walk(data.get("replies"), depth + 1)

    walk(comments, 1)
    return found
