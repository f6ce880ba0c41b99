"""A network that takes replies, as a Python object: the Replyable side of a connector."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Outgoing, Posted, ReplyTarget, TargetState


class ProcessDied(BaseException):
    """Stands for the process being killed: no ``except Exception`` on the way catches it."""


@dataclass
class ScriptedReplies:
    """Posts replies into ``threads``; ``failures`` are raised before posting, one per call,
    ``after_posting`` after the post is made (its outcome unknown to the caller)."""

    network: str = "reddit"
    account: str = "u/brewly_support"
    statuses: dict[str, str] = field(default_factory=dict)  # target native id -> status
    threads: dict[str, list[Posted]] = field(default_factory=dict)  # the account's replies
    failures: list[Exception] = field(default_factory=list)
    after_posting: list[BaseException] = field(default_factory=list)
    posted: list[Outgoing] = field(default_factory=list)  # every reply() that posted
    inspected: list[ReplyTarget] = field(default_factory=list)
    clock: Callable[[], datetime] | None = None  # when the network says a reply was posted
    delay: float = 0.0  # seconds each post takes, so that two senders overlap
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply_account(self) -> str:
        return self.account

    def inspect(self, target: ReplyTarget) -> TargetState:
        self.inspected.append(target)
        return TargetState(
            status=self.statuses.get(target.native_id, "open"),
            account_replies=tuple(self.threads.get(target.thread_id, ())),
        )

    def reply(self, outgoing: Outgoing) -> Posted:
        time.sleep(self.delay)
        with self.lock:
            return self._post(outgoing)

    def _post(self, outgoing: Outgoing) -> Posted:
        if self.failures:
            raise self.failures.pop(0)
        number = len(self.posted) + 1
        posted = Posted(
            native_id=f"t1_reply{number}",
            url=f"https://www.reddit.com/r/brewly/comments/{outgoing.target.thread_id}/_/reply{number}",
            # The network puts the author's handle in front of a reply, as Mastodon does.
            text=f"@{outgoing.target.author_handle} {outgoing.text}",
            posted_at=self.clock() if self.clock else None,
            private=outgoing.private,
        )
        self.posted.append(outgoing)
        self.threads.setdefault(outgoing.target.thread_id, []).append(posted)
        if self.after_posting:
            raise self.after_posting.pop(0)
        return posted

    def answer_by_hand(self, thread_id: str, text: str) -> Posted:
        """A person of the brand answers in the thread from the account, outside social-crm."""
        posted = Posted(
            native_id=f"t1_hand{len(self.threads.get(thread_id, ())) + 1}",
            url=f"https://www.reddit.com/r/brewly/comments/{thread_id}/_/hand",
            text=text,
        )
        self.threads.setdefault(thread_id, []).append(posted)
        return posted

    def close(self) -> None:
        pass
