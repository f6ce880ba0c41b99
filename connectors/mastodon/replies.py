"""Replies from the connector's own account, on its own instance (``api_base_url``).

A reply answers the target's local id on that instance: the id in the target's locator
when the status was read there, else the one ``search_v2(uri, resolve=True)`` finds. It
mentions the target's author and is never more visible than the target. Mastodon keeps an
``Idempotency-Key`` for about an hour, so a retry within the hour cannot post twice; after
that, ``inspect`` (the target's ``/context``, filtered to the account's own replies to it)
is what finds an earlier reply.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from connectors.base import Outgoing, Posted, ReplyTarget, TargetState
from connectors.errors import ConnectorError, TargetUnavailable
from connectors.mastodon.client import _Instance, _status_code, error_text
from connectors.mastodon.parse import _utc_datetime, status_text
from connectors.mastodon.refresh import URI_MEMORY

LOGGER = logging.getLogger(__name__)

# Visibilities from the widest to the narrowest; a reply takes the narrower of the target's
# and its own (a private message: direct). Anything else (a server's own kind) is direct.
VISIBILITY_ORDER = ("public", "unlisted", "private", "direct")
GONE_STATUSES = frozenset({404, 410})


def reply_visibility(target: str, *, private: bool) -> str:
    """The visibility of a reply to a status of ``target`` visibility: never wider."""
    wanted = "direct" if private else "public"
    ranks = [
        VISIBILITY_ORDER.index(v) if v in VISIBILITY_ORDER else len(VISIBILITY_ORDER) - 1
        for v in (target, wanted)
    ]
    return VISIBILITY_ORDER[max(ranks)]


def with_mention(text: str, author: str) -> str:
    """``text`` mentioning ``@author`` (``user@instance``): prepended when not already there."""
    handle = "@" + author.lstrip("@")
    if re.search(rf"(?<![\w@/]){re.escape(handle)}(?!\w|[.:-]\w|@)", text, re.IGNORECASE):
        return text
    return f"{handle} {text}"


def posted_from_status(status: Mapping[str, Any]) -> Posted:
    """A status of the account as Posted (a direct one is private)."""
    uri = str(status["uri"])
    return Posted(
        native_id=uri,
        url=str(status.get("url") or uri),
        text=status_text(status),
        posted_at=_utc_datetime(status["created_at"]),
        private=status.get("visibility") == "direct",
    )


class _Replies:
    """Posts replies and inspects their targets through the primary instance's client."""

    def __init__(self, instance: _Instance) -> None:
        self._instance = instance
        self._lock = threading.Lock()
        self._account: tuple[str, str] | None = None  # (account id, "@user@instance")
        self._local_ids: OrderedDict[str, str] = OrderedDict()  # target uri -> local id

    def account(self) -> tuple[str, str]:
        """(local account id, ``@user@instance``) of the token's owner, read once."""
        with self._lock:
            known = self._account
        if known is not None:
            return known
        instance = self._instance
        me = instance.call("reply account", instance.client.account_verify_credentials)
        if not isinstance(me, Mapping) or "id" not in me or "acct" not in me:
            raise ConnectorError(f"mastodon: {instance.host} did not say whose the token is")
        acct = str(me["acct"])
        if "@" not in acct:
            acct = f"{acct}@{instance.own_domain('reply account')}"
        known = (str(me["id"]), f"@{acct}")
        with self._lock:
            self._account = known
        return known

    def inspect(self, target: ReplyTarget) -> TargetState:
        """ "deleted" when the target is gone (404/410, or not found from the own instance),
        else "open"; and the account's replies to it, oldest first."""
        key = f"inspect {target.native_id}"
        account_id, _ = self.account()
        local_id = self._local_id(key, target)
        if local_id is None:
            return TargetState(status="deleted")
        client = self._instance.client
        status = self._read(key, lambda: client.status(local_id))
        context = self._read(key, lambda: client.status_context(local_id)) if status else None
        if status is None or context is None:
            self._forget(target.native_id)
            return TargetState(status="deleted")
        descendants = context.get("descendants") if isinstance(context, Mapping) else None
        replies = [
            posted_from_status(reply)
            for reply in descendants or []
            if isinstance(reply, Mapping)
            and str(reply.get("in_reply_to_id")) == local_id
            and str((reply.get("account") or {}).get("id")) == account_id
        ]
        return TargetState(
            status="open",
            account_replies=tuple(sorted(replies, key=lambda p: (p.posted_at, p.native_id))),
        )

    def reply(self, outgoing: Outgoing) -> Posted:
        """Post ``outgoing`` with its Idempotency-Key; TargetUnavailable when the target is gone."""
        target = outgoing.target
        key = f"reply to {target.native_id}"
        self.account()  # a refused token fails here, before anything is posted
        local_id = self._local_id(key, target)
        if local_id is None:
            raise TargetUnavailable(
                f"mastodon {key}: not found from {self._instance.host} (deleted, or not "
                "visible to the account); nothing was posted",
                reason="deleted",
            )
        text = with_mention(outgoing.text, target.author_handle)
        visibility = reply_visibility(target.visibility, private=outgoing.private)
        client = self._instance.client
        try:
            status = self._instance.call(
                key,
                lambda: client.status_post(
                    text,
                    in_reply_to_id=local_id,
                    visibility=visibility,
                    idempotency_key=outgoing.idempotency_key,
                ),
                write=True,
            )
        except ConnectorError as exc:
            if _status_code(exc.__cause__) in GONE_STATUSES:
                self._forget(target.native_id)
                said = error_text(exc.__cause__) or "gone"
                raise TargetUnavailable(
                    f"mastodon {key}: it was deleted ({said}); nothing was posted",
                    reason="deleted",
                ) from exc
            raise
        if not isinstance(status, Mapping) or "uri" not in status:
            raise ConnectorError(f"mastodon {key}: {self._instance.host} answered no status")
        return posted_from_status(status)

    def _local_id(self, key: str, target: ReplyTarget) -> str | None:
        """The target's id on the own instance: from its locator, remembered, or resolved."""
        host, _, status_id = (target.locator or "").rpartition("/")
        if host == self._instance.host and status_id:
            return status_id
        with self._lock:
            known = self._local_ids.get(target.native_id)
        if known is not None:
            return known
        instance = self._instance
        # Not found is an empty answer; an error (search switched off, say) is raised.
        result = instance.call(
            key,
            lambda: instance.client.search_v2(
                target.native_id, resolve=True, result_type="statuses", exclude_unreviewed=False
            ),
        )
        statuses = result.get("statuses") if isinstance(result, Mapping) else None
        for status in statuses or []:
            if isinstance(status, Mapping) and status.get("uri") == target.native_id:
                local_id = str(status["id"])
                with self._lock:
                    self._local_ids[target.native_id] = local_id
                    while len(self._local_ids) > URI_MEMORY:
                        self._local_ids.popitem(last=False)
                return local_id
        LOGGER.info("mastodon %s: %s does not resolve it", key, instance.host)
        return None

    def _forget(self, uri: str) -> None:
        with self._lock:
            self._local_ids.pop(uri, None)

    def _read(self, key: str, request: Callable[[], Any]) -> Any:
        """One read on the own instance; None when the server says it is gone (404, 410)."""
        try:
            return self._instance.call(key, request, missing_ok=True)
        except ConnectorError as exc:
            if _status_code(exc.__cause__) in GONE_STATUSES:
                return None
            raise
