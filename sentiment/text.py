"""Making any string safe to classify."""

from __future__ import annotations

# Longer posts are cut: the models see a few hundred tokens at most anyway.
MAX_CHARS = 5000


def clean_text(text: str) -> str:
    """The text without NUL bytes or lone surrogates, cut to MAX_CHARS characters."""
    text = text[:MAX_CHARS].replace("\x00", " ")
    return text.encode("utf-8", "replace").decode("utf-8")
