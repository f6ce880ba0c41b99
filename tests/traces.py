"""Where a string is still stored: every text and JSON column of every table, searched."""

from __future__ import annotations

from sqlalchemy import JSON, String, Text, Unicode, cast, func, select
from sqlalchemy.orm import Session

from social_crm.schema import metadata


def places_holding(session: Session, needle: str) -> list[str]:
    """``table.column (n rows)`` for each column holding ``needle``, in any case."""
    pattern = f"%{needle.lower()}%"
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | Unicode | JSON):
                continue
            text = cast(column, Text) if isinstance(column.type, JSON) else column
            count = session.scalar(
                select(func.count()).select_from(table).where(func.lower(text).like(pattern))
            )
            if count:
                found.append(f"{table.name}.{column.name} ({count} rows)")
    return found
