"""Escalation rules: which mentions matter, and how much.

A rule (``escalation.rules``, see :class:`social_crm.config.EscalationRule`) lists
conditions; a mention matches when every condition the rule sets holds. Rules are tried
in order and the FIRST match wins, so put the most specific rules first. A mention that
matches no rule raises no alert.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from social_crm.config import EscalationRule
from social_crm.mentions.models import MentionRecord


@dataclass(frozen=True, slots=True)
class Facts:
    """What rules look at, read from a stored mention, its sentiment, author and customer."""

    label: str
    confidence: float
    uncertain: bool
    tier: str | None
    is_customer: bool
    followers: int
    reach: int
    text: str
    brand: str
    network: str

    @classmethod
    def of(cls, mention: MentionRecord) -> Facts | None:
        """The facts of a classified mention; None when it has no sentiment yet."""
        sentiment = mention.sentiment
        if sentiment is None:
            return None
        customer = mention.author.customer
        tier = (customer.tier or "").strip().lower() if customer else ""
        return cls(
            label=sentiment.label,
            confidence=sentiment.confidence,
            # Stored with the label: its top score was below sentiment.uncertain_below.
            uncertain=bool(sentiment.uncertain),
            tier=tier or None,
            is_customer=customer is not None,
            followers=mention.author.followers or 0,
            reach=mention.reach or 0,
            text=mention.text,
            brand=mention.brand.lower(),
            network=mention.network.lower(),
        )


@lru_cache(maxsize=1024)
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern; spaces in a phrase match any whitespace."""
    words = r"\s+".join(re.escape(word) for word in keyword.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def matches(rule: EscalationRule, facts: Facts) -> bool:
    """True when every condition ``rule`` sets holds for ``facts``."""
    return (
        facts.label in rule.sentiment
        and (rule.min_confidence is None or facts.confidence >= rule.min_confidence)
        and (rule.uncertain is None or facts.uncertain == rule.uncertain)
        and (not rule.tiers or facts.tier in rule.tiers)
        and (rule.customer is None or facts.is_customer == rule.customer)
        and (rule.min_followers is None or facts.followers >= rule.min_followers)
        and (rule.min_reach is None or facts.reach >= rule.min_reach)
        and (not rule.brands or facts.brand in rule.brands)
        and (not rule.networks or facts.network in rule.networks)
        and (not rule.keywords or any(keyword_pattern(k).search(facts.text) for k in rule.keywords))
    )


def first_match(rules: Sequence[EscalationRule], facts: Facts) -> EscalationRule | None:
    """The first rule that matches, or None."""
    return next((rule for rule in rules if matches(rule, facts)), None)
