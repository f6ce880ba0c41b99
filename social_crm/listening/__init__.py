"""Listening rules: which fetched items become mentions (queries, exclusions, scopes).

Domain-free and storage-free: configuration validates queries with it, ingest applies it
once per fetched item, and the command line tries it on a text or on stored mentions.
"""

from __future__ import annotations

from social_crm.listening.query import Query, QuerySyntaxError, parse_query
from social_crm.listening.rules import (
    ALL,
    DEFAULT_BOTS,
    KEYWORD,
    SCOPES,
    SOURCE_KINDS,
    Decision,
    Item,
    RuleSet,
    source_scope,
)
from social_crm.listening.text import FoldedText, Term, fold

__all__ = [
    "ALL",
    "DEFAULT_BOTS",
    "KEYWORD",
    "SCOPES",
    "SOURCE_KINDS",
    "Decision",
    "FoldedText",
    "Item",
    "Query",
    "QuerySyntaxError",
    "RuleSet",
    "Term",
    "fold",
    "parse_query",
    "source_scope",
]
