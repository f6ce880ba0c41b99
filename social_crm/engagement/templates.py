"""Reply templates: which one fits a mention, and its text with the mention's variables filled."""

from __future__ import annotations

import logging

from social_crm.config import EngagementConfig, ReplyTemplate, Situation
from social_crm.mentions.models import MentionRecord

LOGGER = logging.getLogger(__name__)


def pick(
    config: EngagementConfig, *, brand: str, situation: Situation | str, language: str | None
) -> ReplyTemplate | None:
    """The brand's template for ``situation`` in ``language``, else in its default language."""
    default = config.brand(brand).default_language
    for wanted in (base_language(language), default):
        for template in config.templates:
            if (template.brand, template.situation, template.language) == (
                brand,
                situation,
                wanted,
            ):
                return template
    return None


def base_language(language: str | None) -> str | None:
    """``nl`` for ``nl-BE`` or ``NL``: templates are per language, not per region."""
    return language.split("-")[0].split("_")[0].lower() if language else None


def variables(config: EngagementConfig, mention: MentionRecord) -> dict[str, str]:
    """The values of every template variable for a reply to ``mention``."""
    author = mention.author
    customer = author.customer
    name = author.display_name or author.handle
    return {
        "author": author.display_name or author.handle,
        "brand": mention.brand,
        "link": config.brand(mention.brand).link or "",
        "customer_name": customer.name if customer is not None else name,
    }


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with its variables filled in (checked when the configuration loaded)."""
    return text.format_map(values)


def with_footer(text: str, footer: str | None) -> str:
    """The text as posted: the body, then the brand's footer after a blank line."""
    return f"{text.rstrip()}\n\n{footer.strip()}" if footer and footer.strip() else text
