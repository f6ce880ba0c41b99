"""Conversations: a reply's parent and root as status URIs, the form of every native id.

A status names its parent by ``in_reply_to_id``, a local id of the server that served it.
The parent's URI is known when the connector returned that status before (the status
index); otherwise the reply's ``/context`` on the same server gives its ancestors, the
first of them the conversation's root, in one request.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from connectors.errors import AuthenticationError, ConnectorError
from connectors.mastodon.client import _Instance
from connectors.mastodon.refresh import URI_MEMORY, _StatusIndex

LOGGER = logging.getLogger(__name__)

CONTEXT_BUDGET_RESERVE = 0.2  # looking up ancestors leaves this share of the budget to polling


class _Threads:
    """Resolves replies to (parent URI, root URI), remembering each conversation's root."""

    def __init__(self, index: _StatusIndex) -> None:
        self._index = index
        self._lock = threading.Lock()
        self._roots: OrderedDict[str, str] = OrderedDict()  # status uri -> its root's uri

    def resolve(
        self, key: str, instance: _Instance, status: Mapping[str, Any]
    ) -> tuple[str | None, str | None]:
        """(parent URI, root URI) of ``status`` (not a boost); (None, None) for a first post.

        A parent that cannot be resolved (deleted, not visible, budget low) leaves both
        None, logged at debug: the reply then starts its own conversation.
        """
        parent_id = status.get("in_reply_to_id")
        if parent_id is None:
            return None, None
        parent = self._index.uri_of(instance.host, str(parent_id))
        if parent is not None:
            return parent, self.root_of(parent)
        try:
            context = instance.call(
                key,
                lambda: instance.client.status_context(status["id"]),
                missing_ok=True,
                reserve=CONTEXT_BUDGET_RESERVE,
            )
        except AuthenticationError:
            raise
        except ConnectorError as exc:
            LOGGER.debug("mastodon %s: parent of %s not resolved: %s", key, status.get("id"), exc)
            return None, None
        ancestors = context.get("ancestors") if isinstance(context, Mapping) else None
        chain = [a for a in ancestors or [] if isinstance(a, Mapping) and "uri" in a and "id" in a]
        if not chain or str(chain[-1]["id"]) != str(parent_id):
            LOGGER.debug("mastodon %s: parent of %s is not visible", key, status.get("id"))
            return None, None
        root = str(chain[0]["uri"])
        for ancestor in chain:
            self._index.remember(str(ancestor["uri"]), instance.host, str(ancestor["id"]))
            self.note(str(ancestor["uri"]), root)
        return str(chain[-1]["uri"]), root

    def root_of(self, uri: str) -> str | None:
        """The root URI of a conversation a status seen before belongs to, if remembered."""
        with self._lock:
            return self._roots.get(uri)

    def note(self, uri: str, root: str) -> None:
        """Remember that status ``uri`` belongs to the conversation started by ``root``."""
        with self._lock:
            self._roots[uri] = root
            self._roots.move_to_end(uri)
            while len(self._roots) > URI_MEMORY:
                self._roots.popitem(last=False)
