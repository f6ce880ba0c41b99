"""A connector whose network is a Python list: for daemon tests and the third-party plug-in test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from connectors.base import Author, Batch, Mention, Revision, Source, Watch


class ScriptedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: str = "scripted"


class ScriptedConnector:
    """Serves posts appended to ``posts``; ``failures`` are raised one per fetch first."""

    settings_model: ClassVar[type[BaseModel]] = ScriptedSettings

    def __init__(self, settings: ScriptedSettings, *, watches: Sequence[Watch]) -> None:
        self.network = settings.network
        self.brand = watches[0].name
        self.posts: list[tuple[str, str, str]] = []  # (id, author, text)
        self.edits: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.failures: list[Exception] = []
        self.fetches = 0

    def post(self, author: str, text: str) -> str:
        native_id = f"p{len(self.posts) + 1:06d}"
        self.posts.append((native_id, author, text))
        return native_id

    def sources(self) -> list[Source]:
        return [Source(key=f"{self.brand}:all", brand=self.brand)]

    def fetch(self, source: Source, cursor: str | None) -> Batch:
        self.fetches += 1
        if self.failures:
            raise self.failures.pop(0)
        new = [p for p in self.posts if cursor is None or p[0] > cursor]
        mentions = [
            Mention(
                network=self.network,
                native_id=pid,
                brand=source.brand,
                source=source.key,
                url=f"https://scripted.example/{pid}",
                author=Author(self.network, who),
                text=text,
                created_at=datetime.now(UTC),
                kind="post",
                thread_id=pid,
            )
            for pid, who, text in new
        ]
        return Batch(mentions, new[-1][0] if new else cursor)

    def refresh(
        self, native_ids: Sequence[str], *, locators: Mapping[str, str] | None = None
    ) -> list[Revision]:
        return [
            Revision(native_id=i, text="", deleted=True)
            if i in self.deleted
            else Revision(native_id=i, text=self.edits[i], edited_at=datetime.now(UTC))
            for i in native_ids
            if i in self.deleted or i in self.edits
        ]

    def close(self) -> None:
        pass
