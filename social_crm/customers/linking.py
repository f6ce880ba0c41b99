"""Tie authors to CRM customers on evidence, each kind weighed, every decision remembered.

Evidence for a pair (author, customer), each kind counted once with its configured weight:
the author's handle is in the CRM (``crm_handle``); a Mastodon profile field verified with
``rel=me`` links to the customer's website (``verified_link``); the profile shows the
customer's email (``email_in_profile``) or website domain (``domain_in_profile``); the
same username on another network belongs to the customer (``same_username``); the
display name is close to the customer's name (``display_name``, weight x similarity).

The weighted sum decides: at or above ``auto_link_threshold`` the author is linked (if no
other customer reaches ``suggest_threshold``); at or above ``suggest_threshold`` a
LinkSuggestion waits for a person. A rejected or unlinked pair never comes back.

Only unlinked authors that were never checked, or were checked before the customers last
changed, are looked at; a link clears the mark of same-named authors on other networks.
"""

from __future__ import annotations

import html
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, tuple_
from sqlalchemy.orm import Session, joinedload

from social_crm.config import LinkingConfig
from social_crm.customers.authors import find_author
from social_crm.customers.enums import SuggestionStatus
from social_crm.customers.handles import (
    BARE_DOMAIN,
    EMAIL,
    URL,
    name_key,
    name_similarity,
    site_keys_in,
    username,
)
from social_crm.customers.models import Customer, Identity, LinkSuggestion
from social_crm.db import watermarks
from social_crm.db.base import utcnow
from social_crm.errors import Conflict, InvalidTransition, NotFound
from social_crm.mentions.models import AuthorRecord

LOGGER = logging.getLogger(__name__)

CUSTOMERS_CHANGED = "linking.customers_changed"
CHUNK = 200
MIN_USERNAME_LENGTH = 4  # shorter names ("bob", "ai") are too common to be evidence
# A person said no: the pair is never suggested or linked again.
BLOCKED = (SuggestionStatus.REJECTED, SuggestionStatus.UNLINKED)
AUTO, CRM_HANDLE = "auto", "crm-handle"

# The statuses a suggestion may move to, by a person or by automatic linking. Unlinking
# is guarded by the author's link instead: a person's unlink is recorded on the pair's
# suggestion (made if there is none) whatever it said before.
TRANSITIONS: Mapping[SuggestionStatus, frozenset[SuggestionStatus]] = {
    SuggestionStatus.PENDING: frozenset(
        {SuggestionStatus.CONFIRMED, SuggestionStatus.REJECTED, SuggestionStatus.SUPERSEDED}
    ),
    # Suggested again by automatic linking, or confirmed by a person.
    SuggestionStatus.SUPERSEDED: frozenset({SuggestionStatus.PENDING, SuggestionStatus.CONFIRMED}),
    # A person may still link a pair that they (or someone) rejected or unlinked.
    SuggestionStatus.REJECTED: frozenset({SuggestionStatus.CONFIRMED}),
    SuggestionStatus.UNLINKED: frozenset({SuggestionStatus.CONFIRMED}),
    SuggestionStatus.CONFIRMED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One reason to believe an author is a customer."""

    kind: str
    detail: str
    weight: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored with links and suggestions."""
        return {"kind": self.kind, "detail": self.detail, "weight": round(self.weight, 4)}


@dataclass(frozen=True, slots=True)
class SuggestionView:
    """A link suggestion as people review it: the author, the customer and the evidence."""

    id: int
    network: str
    handle: str
    customer_name: str
    customer_external_id: str
    confidence: float
    status: str
    evidence: tuple[Evidence, ...]
    display_name: str = ""  # the author's name as their profile shows it
    author_url: str = ""  # the author's profile
    created_at: datetime | None = None

    @classmethod
    def of(cls, suggestion: LinkSuggestion) -> SuggestionView:
        """The read model of a stored suggestion."""
        return cls(
            id=suggestion.id,
            network=suggestion.author.network,
            handle=suggestion.author.handle,
            customer_name=suggestion.customer.name,
            customer_external_id=suggestion.customer.external_id,
            confidence=suggestion.confidence,
            status=suggestion.status,
            evidence=tuple(
                Evidence(str(e["kind"]), str(e["detail"]), float(e["weight"]))
                for e in suggestion.evidence
            ),
            display_name=suggestion.author.display_name,
            author_url=suggestion.author.url,
            created_at=suggestion.created_at,
        )


@dataclass(frozen=True, slots=True)
class Profile:
    """What an author's profile says, as plain text: bio, fields, and verified links."""

    texts: tuple[str, ...]
    verified_urls: tuple[str, ...]


def total(evidence: Iterable[Evidence]) -> float:
    """The weighted sum of a pair's evidence, each kind counted once (its strongest)."""
    best: dict[str, float] = {}
    for item in evidence:
        best[item.kind] = max(best.get(item.kind, 0.0), item.weight)
    return sum(best.values())


# -- the job --------------------------------------------------------------------------------


def customers_changed(session: Session, *, now: datetime | None = None) -> None:
    """Note that customer data changed, so every unlinked author is looked at again."""
    watermarks.put(session, CUSTOMERS_CHANGED, now or utcnow())


def link_authors(
    session: Session, config: LinkingConfig | None = None, *, now: datetime | None = None
) -> int:
    """Link the unlinked authors not checked since the customers changed; returns how many.

    Each author is claimed (``FOR UPDATE SKIP LOCKED``) in this transaction, so several
    daemons share the authors and never decide on one twice.
    """
    config = config or LinkingConfig()
    now = now or utcnow()
    changed_at = watermarks.get(session, CUSTOMERS_CHANGED)
    stale = AuthorRecord.link_checked_at.is_(None)
    if changed_at is not None:
        stale = stale | (AuthorRecord.link_checked_at < changed_at)
    ids = session.scalars(
        select(AuthorRecord.id)
        .where(AuthorRecord.customer_id.is_(None), stale)
        .order_by(AuthorRecord.id)
    ).all()
    linked = suggested = checked = 0
    for start in range(0, len(ids), CHUNK):
        # Claimed: another daemon linking now skips these and takes others; one that has
        # checked some of them since the ids were read leaves them no longer stale.
        authors = session.scalars(
            select(AuthorRecord)
            .where(
                AuthorRecord.id.in_(ids[start : start + CHUNK]),
                AuthorRecord.customer_id.is_(None),
                stale,
            )
            .order_by(AuthorRecord.id)
            .with_for_update(skip_locked=True)
        ).all()
        checked += len(authors)
        found = gather_evidence(session, authors, config)
        decided = _decisions(session, [a.id for a in authors])
        for author in authors:
            outcome = _decide(session, author, found.get(author.id, {}), decided, config, now)
            linked += outcome == "linked"
            suggested += outcome == "suggested"
            author.link_checked_at = now
        session.flush()
    if linked or suggested:
        LOGGER.info(
            "linking: %d author(s) checked, %d linked, %d suggested",
            checked,
            linked,
            suggested,
        )
    return linked


def _decisions(
    session: Session, author_ids: Sequence[int]
) -> dict[tuple[int, int], LinkSuggestion]:
    return {
        (s.author_id, s.customer_id): s
        for s in session.scalars(
            select(LinkSuggestion).where(LinkSuggestion.author_id.in_(author_ids))
        )
    }


def _decide(
    session: Session,
    author: AuthorRecord,
    found: dict[int, list[Evidence]],
    decided: dict[tuple[int, int], LinkSuggestion],
    config: LinkingConfig,
    now: datetime,
) -> str:
    """Link, suggest or do nothing for one author; returns "linked", "suggested" or ""."""
    scored = sorted(
        (
            (total(evidence), customer_id, evidence)
            for customer_id, evidence in found.items()
            if not (
                (previous := decided.get((author.id, customer_id))) is not None
                and previous.status in BLOCKED
            )
        ),
        key=lambda item: (-item[0], item[1]),
    )
    if not scored:
        return ""
    by_crm = [item for item in scored if any(e.kind == "crm_handle" for e in item[2])]
    contenders = [item for item in scored if item[0] >= config.suggest_threshold]
    if by_crm:
        _, customer_id, evidence = by_crm[0]
        _link(session, author, customer_id, evidence, by=CRM_HANDLE, now=now)
        _settle(decided, author.id, customer_id, CRM_HANDLE, now)
        return "linked"
    if len(contenders) == 1 and contenders[0][0] >= config.auto_link_threshold:
        _, customer_id, evidence = contenders[0]
        _link(session, author, customer_id, evidence, by=AUTO, now=now)
        _settle(decided, author.id, customer_id, AUTO, now)
        return "linked"
    for confidence, customer_id, evidence in contenders[:3]:
        suggestion = decided.get((author.id, customer_id))
        stored = [e.as_dict() for e in evidence]
        if suggestion is None:
            suggestion = LinkSuggestion(
                author_id=author.id,
                customer_id=customer_id,
                confidence=round(confidence, 4),
                evidence=stored,
                status=SuggestionStatus.PENDING,
                created_at=now,
            )
            session.add(suggestion)
            decided[(author.id, customer_id)] = suggestion
            LOGGER.info(
                "suggested %s:%s as customer #%d (%.2f)",
                author.network,
                author.handle,
                customer_id,
                confidence,
            )
        elif suggestion.status in (SuggestionStatus.PENDING, SuggestionStatus.SUPERSEDED):
            suggestion.status, suggestion.evidence = SuggestionStatus.PENDING, stored
            suggestion.confidence = round(confidence, 4)
    return "suggested" if contenders else ""


def _settle(
    decided: dict[tuple[int, int], LinkSuggestion],
    author_id: int,
    customer_id: int,
    by: str,
    now: datetime,
) -> None:
    """Pending suggestions of a linked author: its own is confirmed, the others superseded."""
    for (a_id, c_id), suggestion in decided.items():
        if a_id != author_id or suggestion.status != SuggestionStatus.PENDING:
            continue
        suggestion.status = (
            SuggestionStatus.CONFIRMED if c_id == customer_id else SuggestionStatus.SUPERSEDED
        )
        suggestion.decided_by, suggestion.decided_at = by, now


def _link(
    session: Session,
    author: AuthorRecord,
    customer_id: int,
    evidence: Sequence[Evidence] | Sequence[dict[str, Any]],
    *,
    by: str,
    now: datetime,
) -> None:
    author.customer_id = customer_id
    author.linked_by = by
    author.linked_at = now
    author.link_evidence = [e.as_dict() if isinstance(e, Evidence) else dict(e) for e in evidence]
    LOGGER.info(
        "linked %s author %s to customer #%d (%s)", author.network, author.handle, customer_id, by
    )
    # Authors of the same name elsewhere have new evidence now: look at them again.
    name = username(author.network, author.handle)
    if len(name) >= MIN_USERNAME_LENGTH:
        for other in session.scalars(
            select(AuthorRecord).where(
                AuthorRecord.customer_id.is_(None),
                AuthorRecord.network != author.network,
                AuthorRecord.link_checked_at.is_not(None),
                _username_in(AuthorRecord.network, AuthorRecord.handle, {name}),
            )
        ):
            if username(other.network, other.handle) == name:
                other.link_checked_at = None


# -- evidence -------------------------------------------------------------------------------


def profile_of(author: AuthorRecord) -> Profile:
    """The author's stored profile as plain texts and verified link URLs."""
    data = author.profile or {}
    texts: list[str] = []
    verified: list[str] = []
    note = data.get("note") or data.get("bio") or ""
    if isinstance(note, str) and note:
        plain, hrefs = _plain(note)
        texts.extend([plain, *hrefs])
    for item in data.get("fields") or []:
        if not isinstance(item, dict):
            continue
        plain, hrefs = _plain(str(item.get("value") or ""))
        texts.extend([plain, *hrefs])
        if item.get("verified_at"):
            verified.extend(hrefs or URL.findall(plain) or [plain])
    return Profile(tuple(t for t in texts if t), tuple(v for v in verified if v))


def _plain(markup: str) -> tuple[str, list[str]]:
    """HTML (as Mastodon sends it) as plain text, and the links in it."""
    hrefs = re.findall(r"""href=["']([^"']+)["']""", markup, flags=re.IGNORECASE)
    text = re.sub(r"<(?:br|/p|p)\b[^>]*>", " ", markup, flags=re.IGNORECASE)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip(), [html.unescape(h) for h in hrefs]


def _emails_and_sites(profile: Profile) -> tuple[set[str], set[str]]:
    emails: set[str] = set()
    sites: set[str] = set()
    for text in profile.texts:
        emails.update(e.lower() for e in EMAIL.findall(text))
        rest = EMAIL.sub(" ", re.sub(r"mailto:\S+", " ", text, flags=re.IGNORECASE))
        for address in URL.findall(rest):
            sites.update(site_keys_in(address))
        for match in BARE_DOMAIN.finditer(URL.sub(" ", rest)):
            sites.update(site_keys_in(match.group(0)))
    return emails, sites


def _username_in(network_col: Any, handle_col: Any, names: set[str]) -> ColumnElement[bool]:
    """Rows whose handle has one of ``names`` as its username (``name@...`` on Mastodon)."""
    if not names:
        return false()
    patterns = [
        handle_col.like(
            name.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "@%", escape="\\"
        )
        for name in sorted(names)
    ]
    return or_(
        (network_col != "mastodon") & handle_col.in_(sorted(names)),
        (network_col == "mastodon") & or_(*patterns),
    )


Found = dict[int, dict[int, list[Evidence]]]  # author id -> customer id -> evidence


def gather_evidence(
    session: Session, authors: Sequence[AuthorRecord], config: LinkingConfig
) -> Found:
    """Every piece of evidence tying each author to each customer (author id → customer id)."""
    weights = config.weights
    found: Found = defaultdict(lambda: defaultdict(list))
    _crm_handle(session, authors, weights.crm_handle, found)
    emails, verified, mentioned = _profile_leads(authors)
    _email_in_profile(session, emails, weights.email_in_profile, found)
    _verified_link(session, verified, weights.verified_link, found)
    _domain_in_profile(session, mentioned, verified, weights.domain_in_profile, found)
    _same_username(session, authors, weights.same_username, found)
    _display_name(session, authors, config, found)
    return {
        author_id: {c: list(ev) for c, ev in per_author.items() if ev}
        for author_id, per_author in found.items()
    }


def _add(
    found: Found, author: AuthorRecord, customer_id: int, kind: str, detail: str, weight: float
) -> None:
    """Note one piece of evidence, unless its kind weighs nothing."""
    if weight > 0:
        found[author.id][customer_id].append(Evidence(kind, detail, weight))


def _crm_handle(
    session: Session, authors: Sequence[AuthorRecord], weight: float, found: Found
) -> None:
    """The CRM names the author's handle."""
    pairs = {(a.network, a.handle): a for a in authors}
    for network, handle, customer_id in session.execute(
        select(Identity.network, Identity.handle, Identity.customer_id).where(
            tuple_(Identity.network, Identity.handle).in_(list(pairs))
        )
    ):
        detail = f"the CRM lists {network} handle {handle}"
        _add(found, pairs[(network, handle)], customer_id, "crm_handle", detail, weight)


Leads = dict[str, list[tuple[AuthorRecord, str]]]  # key -> (author, where it was seen)


def _profile_leads(authors: Sequence[AuthorRecord]) -> tuple[Leads, Leads, Leads]:
    """What the authors' profiles show, by email, by verified site, by any site named."""
    emails: Leads = defaultdict(list)
    verified: Leads = defaultdict(list)
    mentioned: Leads = defaultdict(list)
    for author in authors:
        if not author.profile:
            continue
        profile = profile_of(author)
        shown, sites = _emails_and_sites(profile)
        for email in shown:
            emails[email].append((author, email))
        for url in profile.verified_urls:
            for key in site_keys_in(url):
                verified[key].append((author, url))
        for key in sites:
            mentioned[key].append((author, key))
    return emails, verified, mentioned


def _email_in_profile(session: Session, emails: Leads, weight: float, found: Found) -> None:
    """The profile shows the customer's email address."""
    if not emails:
        return
    for email, customer_id in session.execute(
        select(Customer.email_key, Customer.id).where(Customer.email_key.in_(list(emails)))
    ):
        for author, _ in emails[email or ""]:
            detail = f"the profile shows {email}"
            _add(found, author, customer_id, "email_in_profile", detail, weight)


def _verified_link(session: Session, verified: Leads, weight: float, found: Found) -> None:
    """A profile link verified with rel=me is the customer's website (once per author)."""
    for domain, customer_id in _customers_at(session, verified):
        seen: set[int] = set()
        for author, url in verified[domain or ""]:
            if author.id not in seen:
                seen.add(author.id)
                detail = f"verified (rel=me) profile link {url} is the customer's site {domain}"
                _add(found, author, customer_id, "verified_link", detail, weight)


def _domain_in_profile(
    session: Session, mentioned: Leads, verified: Leads, weight: float, found: Found
) -> None:
    """The profile names the customer's website, with no verified link to it."""
    for domain, customer_id in _customers_at(session, mentioned):
        seen = {author.id for author, _ in verified.get(domain or "", [])}
        for author, _ in mentioned[domain or ""]:
            if author.id not in seen:
                seen.add(author.id)  # once per author and customer
                detail = f"the profile mentions the customer's site {domain}"
                _add(found, author, customer_id, "domain_in_profile", detail, weight)


def _customers_at(session: Session, sites: Leads) -> list[tuple[str | None, int]]:
    """(domain, customer id) of the customers whose website is one of ``sites``."""
    if not sites:
        return []
    return [
        (domain, customer_id)
        for domain, customer_id in session.execute(
            select(Customer.domain, Customer.id).where(Customer.domain.in_(list(sites)))
        )
    ]


def _same_username(
    session: Session, authors: Sequence[AuthorRecord], weight: float, found: Found
) -> None:
    """The same username on another network: in the CRM, or an author already linked."""
    by_name: dict[str, list[AuthorRecord]] = defaultdict(list)
    for author in authors:
        name = username(author.network, author.handle)
        if len(name) >= MIN_USERNAME_LENGTH:
            by_name[name].append(author)
    if not by_name:
        return
    names = set(by_name)
    crm_rows = session.execute(
        select(Identity.network, Identity.handle, Identity.customer_id).where(
            _username_in(Identity.network, Identity.handle, names)
        )
    ).all()
    linked_rows = session.execute(
        select(AuthorRecord.network, AuthorRecord.handle, AuthorRecord.customer_id).where(
            AuthorRecord.customer_id.is_not(None),
            _username_in(AuthorRecord.network, AuthorRecord.handle, names),
        )
    ).all()
    for rows, where in ((crm_rows, "in the CRM"), (linked_rows, "a linked author")):
        for network, handle, customer_id in rows:
            for author in by_name.get(username(network, handle), []):
                if network != author.network and customer_id is not None:
                    detail = f"same username as {network}:{handle} ({where})"
                    _add(found, author, customer_id, "same_username", detail, weight)


def _display_name(
    session: Session, authors: Sequence[AuthorRecord], config: LinkingConfig, found: Found
) -> None:
    """The display name is close to the name of a customer: one with the exact folded name,
    or one found by other evidence (weight x similarity)."""
    keys: dict[str, list[AuthorRecord]] = defaultdict(list)
    for author in authors:
        if key := name_key(author.display_name):
            keys[key].append(author)
    if keys:
        for customer_id, key in session.execute(
            select(Customer.id, Customer.name_key).where(Customer.name_key.in_(list(keys)))
        ):
            for author in keys[key or ""]:
                found[author.id].setdefault(customer_id, [])
    candidate_ids = {c for per_author in found.values() for c in per_author}
    if not candidate_ids:
        return
    names_by_id = dict(
        session.execute(
            select(Customer.id, Customer.name).where(Customer.id.in_(list(candidate_ids)))
        ).all()
    )
    weight = config.weights.display_name
    for author in authors:
        per_author = found.get(author.id)
        if not per_author or not author.display_name:
            continue
        for customer_id in list(per_author):
            similarity = name_similarity(author.display_name, names_by_id.get(customer_id, ""))
            if similarity >= config.name_min_similarity:
                detail = (
                    f"display name {author.display_name!r} matches "
                    f"{names_by_id[customer_id]!r} ({similarity:.2f})"
                )
                _add(found, author, customer_id, "display_name", detail, weight * similarity)


# -- people's decisions ---------------------------------------------------------------------


def pending_suggestions(
    session: Session, *, offset: int = 0, limit: int | None = None
) -> list[SuggestionView]:
    """Suggestions waiting for a person, most confident first (from the ``offset``-th)."""
    return [
        SuggestionView.of(suggestion)
        for suggestion in session.scalars(
            select(LinkSuggestion)
            .join(AuthorRecord, AuthorRecord.id == LinkSuggestion.author_id)
            .where(
                LinkSuggestion.status == SuggestionStatus.PENDING,
                AuthorRecord.customer_id.is_(None),
            )
            .options(joinedload(LinkSuggestion.author), joinedload(LinkSuggestion.customer))
            .order_by(LinkSuggestion.confidence.desc(), LinkSuggestion.id)
            .offset(offset)
            .limit(limit)
        )
    ]


def _check_move(suggestion: LinkSuggestion, target: SuggestionStatus) -> None:
    """Raise InvalidTransition unless the table lets ``suggestion`` move to ``target``."""
    if target not in TRANSITIONS[SuggestionStatus(suggestion.status)]:
        raise InvalidTransition(
            f"link suggestion {suggestion.id} is {suggestion.status}, "
            + (
                "not pending"
                if target == SuggestionStatus.REJECTED
                else f"so it cannot be {target}"
            )
        )


def _suggestion(session: Session, suggestion_id: int) -> LinkSuggestion:
    """The suggestion with ``suggestion_id``, or NotFound."""
    suggestion = session.get(LinkSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(f"no link suggestion with id {suggestion_id}")
    return suggestion


def confirm(session: Session, suggestion_id: int, *, by: str) -> SuggestionView:
    """A person confirms a suggestion (or re-links a rejected or unlinked pair): link it."""
    suggestion = _suggestion(session, suggestion_id)
    author = suggestion.author
    if author.customer_id == suggestion.customer_id:
        raise InvalidTransition(
            f"{author.network}:{author.handle} is already linked to that customer"
        )
    if author.customer_id is not None:
        raise Conflict(
            f"{author.network}:{author.handle} is linked to another customer; "
            "unlink it from that customer first"
        )
    _check_move(suggestion, SuggestionStatus.CONFIRMED)
    now = utcnow()
    _link(session, author, suggestion.customer_id, suggestion.evidence, by=by, now=now)
    suggestion.status, suggestion.decided_by, suggestion.decided_at = (
        SuggestionStatus.CONFIRMED,
        by,
        now,
    )
    for other in session.scalars(
        select(LinkSuggestion).where(
            LinkSuggestion.author_id == author.id,
            LinkSuggestion.id != suggestion.id,
            LinkSuggestion.status == SuggestionStatus.PENDING,
        )
    ):
        other.status, other.decided_by, other.decided_at = SuggestionStatus.SUPERSEDED, by, now
    session.flush()
    return SuggestionView.of(suggestion)


def reject(session: Session, suggestion_id: int, *, by: str) -> SuggestionView:
    """A person rejects a suggestion: that pair is never suggested or linked again."""
    suggestion = _suggestion(session, suggestion_id)
    _check_move(suggestion, SuggestionStatus.REJECTED)
    suggestion.status, suggestion.decided_by, suggestion.decided_at = (
        SuggestionStatus.REJECTED,
        by,
        utcnow(),
    )
    session.flush()
    return SuggestionView.of(suggestion)


def unlink(session: Session, network: str, handle: str, *, by: str) -> SuggestionView:
    """Undo an author's link and remember it, so the pair is never linked automatically again."""
    author = find_author(session, handle, network=network)
    if author.customer_id is None:
        raise InvalidTransition(f"{network}:{author.handle} is not linked to a customer")
    now = utcnow()
    evidence = list(author.link_evidence or [])
    memory = session.scalar(
        select(LinkSuggestion).where(
            LinkSuggestion.author_id == author.id,
            LinkSuggestion.customer_id == author.customer_id,
        )
    )
    if memory is None:
        memory = LinkSuggestion(
            author_id=author.id,
            customer_id=author.customer_id,
            confidence=round(sum(float(e.get("weight", 0)) for e in evidence), 4),
            evidence=evidence,
            created_at=now,
        )
        session.add(memory)
    memory.status, memory.decided_by, memory.decided_at = SuggestionStatus.UNLINKED, by, now
    LOGGER.info(
        "unlinked %s author %s from customer #%d (by %s)",
        network,
        author.handle,
        author.customer_id,
        by,
    )
    author.customer_id = None
    author.linked_by = author.linked_at = None
    author.link_evidence = None
    author.link_checked_at = now
    session.flush()
    return SuggestionView.of(memory)
