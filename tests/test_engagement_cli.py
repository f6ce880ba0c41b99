"""``social-crm replies`` as a person types it: thin commands, one-line errors, 80 columns."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from social_crm.config import EngagementConfig
from social_crm.db import Database
from social_crm.engagement.sending import send_due
from social_crm.mentions.models import MentionRecord

from .commands import COLUMNS, one_error_line, social_crm
from .escalation import escalate
from .factories import ANGRY, BRAND, ENGAGEMENT, POST_T0, link_customer, post, store
from .scripted_replies import ScriptedReplies

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # one backend will do

LONG = "annelies.vandermeer@mastodon.example.social"


@pytest.fixture
def config(write_config, db_url: str) -> Path:
    return write_config(brands=[BRAND], database={"url": db_url}, engagement=ENGAGEMENT)


@pytest.fixture
def mentions(db: Database) -> dict[str, int]:
    """Anna (a customer) and a long Mastodon handle complain; their mention ids."""
    store(
        db,
        (post("t3_a", author="anna", text="My Brewly broke after a week. " * 4), ANGRY),
        (post("109", author=LONG, network="mastodon", text="Awful, I hate it"), ANGRY),
    )
    link_customer(db, "anna", name="Anna de Vries")
    escalate(db)
    with db.transaction() as session:
        return dict(session.execute(select(MentionRecord.native_id, MentionRecord.id)).all())


def flat(output: str) -> str:
    """The output with its lines joined, as words: what it says, however it was wrapped."""
    return " ".join(output.split())


def run(config: Path, *args: str) -> str:
    result = social_crm("replies", *args, "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for line in result.stdout.splitlines():
        assert len(line.rstrip()) <= COLUMNS, line
    return result.stdout


def test_a_reply_from_draft_to_approval_through_the_commands(
    config: Path, mentions: dict[str, int]
) -> None:
    me = getpass.getuser()
    drafted = run(config, "draft", str(mentions["t3_a"]), "--situation", "apology")
    assert drafted.startswith(f"reply 1 drafted by {me}: apology (en) to reddit:anna\n")
    # Wrapped between words at 80 columns.
    assert "Sorry, Anna de Vries! We sent you a message; see also https://brewly.example/help" in (
        flat(drafted)
    )
    run(
        config,
        "draft",
        str(mentions["109"]),
        "--text",
        "We are sorry, please DM us.",
        "--by",
        "joost",
    )
    edited = run(
        config, "edit", "1", "--text", "Sorry Anna, we sent you a message.", "--by", "joost"
    )
    assert edited == "reply 1 edited by joost\n"
    approved = run(config, "approve", "1", "--by", "maria", "--resolve-alert")
    assert approved == "reply 1 approved by maria; the daemon sends it and resolves alert 1\n"
    listed = run(config, "list")
    assert f"mastodon:{LONG}" in listed and "reddit:anna (mention" in listed
    assert "approved" in listed and "draft" in listed
    shown = run(config, "show", "1")
    for expected in (
        "reply 1: approved, apology (en), template apology-en",
        "to:         reddit:anna = Anna de Vries (mention 1, alert 1)",
        "visibility: public, as the post",
        "edited:     ",
        "by joost",
        "resolves alert 1 when sent",
        "  Sorry Anna, we sent you a message.",
        "History",
    ):
        assert expected in shown, (expected, shown)
    queued = run(config, "send", "1")
    assert queued == "reply 1 queued; the running daemon sends it at its next pass\n"
    rejected = run(config, "reject", "2", "--note", "handled by phone", "--by", "maria")
    assert rejected == "reply 2 rejected by maria\n"
    assert "no replies match status=sent" in run(config, "list", "--status", "sent")


def test_a_dry_run_shows_the_text_where_and_as_whom(config: Path, mentions: dict[str, int]) -> None:
    run(config, "draft", str(mentions["t3_a"]), "--situation", "apology", "--private")
    shown = run(config, "send", "1", "--dry-run")
    for expected in (
        "reply 1 (draft), dry run: nothing is posted",
        "as:         nobody: no configured connector replies on reddit",
        "where:      https://www.reddit.com/t3_a",
        "visibility: private, to anna only",
        "subject:    Your post about Brewly",
        "would go:   no: it is a draft; it goes once approved",
        "key:        social-crm-reply-1-",
    ):
        assert expected in shown, (expected, shown)
    # Exactly what would be posted: the text, then the brand's footer.
    assert flat(shown).endswith(
        "text: Sorry, Anna de Vries! We sent you a message; see also https://brewly.example/help "
        "Brewly support (replies are sent with social-crm)"
    )


def test_mistakes_are_one_line_and_change_nothing(config: Path, mentions: dict[str, int]) -> None:
    run(config, "draft", str(mentions["t3_a"]), "--situation", "apology", "--by", "maria")
    line = one_error_line(social_crm("replies", "send", "1", "--config", str(config)))
    assert line == "error: reply 1 is a draft; it is sent once approved"
    run(config, "approve", "1")
    line = one_error_line(social_crm("replies", "approve", "1", "--config", str(config)))
    assert line == "error: reply 1 is approved; only drafts can be approved"
    line = one_error_line(social_crm("replies", "show", "7", "--config", str(config)))
    assert line == "error: no reply with id 7"
    line = one_error_line(
        social_crm("replies", "draft", "999", "--text", "hi", "--config", str(config))
    )
    assert line == "error: no mention with id 999"
    line = one_error_line(
        social_crm("replies", "draft", "1", "--template", "nope", "--config", str(config))
    )
    assert line.startswith("error: no reply template 'nope'; templates: apology-en, apology-nl")
    line = one_error_line(
        social_crm("replies", "list", "--status", "posted", "--config", str(config)), code=2
    )
    assert "'posted' is not one of 'draft', 'approved', 'sending', 'sent'" in line
    line = one_error_line(social_crm("replies", "draft", "--config", str(config)), code=2)
    assert "name a mention or an --alert, not both" in line
    assert "approved" in run(config, "show", "1").splitlines()[0]  # still as it was


def test_a_sent_reply_shows_in_the_alert_the_timeline_and_the_report(
    config: Path, db: Database, mentions: dict[str, int]
) -> None:
    run(config, "draft", "--alert", "1", "--situation", "apology", "--by", "maria")
    run(config, "approve", "1", "--by", "maria", "--resolve-alert")
    later = POST_T0 + timedelta(days=30)
    assert (
        send_due(
            db,
            {"reddit": ScriptedReplies()},
            EngagementConfig.model_validate(ENGAGEMENT),
            now=later,
        ).sent
        == 1
    )
    alert = social_crm("alerts", "show", "1", "--config", str(config))
    assert alert.returncode == 0, alert.stderr
    assert "reply:        1 sent " in alert.stdout and "approved by maria" in alert.stdout
    assert "answered by reply 1: https://www.reddit.com/" in alert.stdout
    customer = social_crm("customers", "show", "C-1", "--config", str(config))
    assert customer.returncode == 0, customer.stderr
    assert "reply" in customer.stdout and "#1 sent by maria" in customer.stdout
    report = run(config, "report")
    assert "1 conversation(s) answered, 1 of them negative" in report
    assert "recovery rate: —" in report and "1 pending" in report
    assert "By responder" in report and "maria" in report


def test_do_not_contact_on_a_customer_or_an_author(config: Path, mentions: dict[str, int]) -> None:
    def customers(*args: str) -> str:
        result = social_crm("customers", "do-not-contact", *args, "--config", str(config))
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert (
        customers("C-1", "--by", "maria") == "customer C-1 (Anna de Vries): not to be contacted\n"
    )
    assert (
        "not to be contacted since"
        in social_crm("customers", "show", "C-1", "--config", str(config)).stdout
    )
    assert customers("C-1", "--off") == "customer C-1 (Anna de Vries): may be contacted again\n"
    assert customers("--author", f"mastodon:{LONG}") == f"mastodon:{LONG}: not to be contacted\n"
    line = one_error_line(social_crm("customers", "do-not-contact", "C-9", "--config", str(config)))
    assert line == "error: no customer with id 'C-9'"
