"""Every table of every domain in one metadata.

Tables refer to each other across domains by name (an author's customer, say); SQLAlchemy
resolves those names once every domain's models are imported. Whatever opens a database
(the daemon, the command line, migrations) imports this module first.
"""

from __future__ import annotations

from social_crm.accounts.models import ApiToken, LoginAttempt, User, WebSession
from social_crm.alerts.models import Alert, AlertNote
from social_crm.ambassadors.models import AmbassadorReview, AmbassadorScore
from social_crm.customers.models import Customer, Identity, LinkSuggestion
from social_crm.db.base import Base
from social_crm.db.heartbeats import Heartbeat
from social_crm.db.leases import Lease
from social_crm.db.watermarks import Watermark
from social_crm.delivery.models import Delivery
from social_crm.engagement.models import Reply, ReplyEvent, ReplyScan
from social_crm.mentions.models import (
    AuthorRecord,
    MentionRecord,
    SentimentRecord,
    SkippedItem,
    SourceCursor,
)
from social_crm.privacy.models import Erasure

metadata = Base.metadata

__all__ = [
    "Alert",
    "AlertNote",
    "AmbassadorReview",
    "AmbassadorScore",
    "ApiToken",
    "AuthorRecord",
    "Customer",
    "Delivery",
    "Erasure",
    "Heartbeat",
    "Identity",
    "Lease",
    "LinkSuggestion",
    "LoginAttempt",
    "MentionRecord",
    "Reply",
    "ReplyEvent",
    "ReplyScan",
    "SentimentRecord",
    "SkippedItem",
    "SourceCursor",
    "User",
    "Watermark",
    "WebSession",
    "metadata",
]
