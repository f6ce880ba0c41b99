"""Text as every database stores it: no NUL, no lone surrogate, no more than its column holds."""

from __future__ import annotations

import re

from sqlalchemy.orm import InstrumentedAttribute

REPLACEMENT = "\ufffd"
# NUL (PostgreSQL refuses it in text) and surrogates, which pair only in UTF-16 and which
# no UTF-8 encoder accepts; valid text from JSON never holds an unpaired one in Python.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str, column: InstrumentedAttribute[str] | None = None) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD, cut to ``column``'s length."""
    text = _UNSTORABLE.sub(REPLACEMENT, text)
    length = getattr(column.type, "length", None) if column is not None else None
    return text[:length] if length else text
