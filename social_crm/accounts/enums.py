"""The accounts domain's vocabularies: roles, stored as these strings, and what each may do."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Role(StrEnum):
    """What a user does: reads, or acts on one part of the work."""

    VIEWER = "viewer"  # reads everything, changes nothing
    COMMUNITY = "community"  # alerts, replies and author-customer links
    MARKETING = "marketing"  # ambassador reviews
    ADMIN = "admin"  # everything


class Permission(StrEnum):
    """One kind of action a role may take."""

    READ = "read"
    ALERTS = "alerts"  # acknowledge, assign, resolve, reopen, annotate
    LINKS = "links"  # confirm or reject link suggestions
    REPLIES = "replies"  # draft and send replies
    AMBASSADORS = "ambassadors"  # approve, reject, opt out


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.COMMUNITY: frozenset(
        {Permission.READ, Permission.ALERTS, Permission.LINKS, Permission.REPLIES}
    ),
    Role.MARKETING: frozenset({Permission.READ, Permission.AMBASSADORS}),
    Role.ADMIN: frozenset(Permission),
}
