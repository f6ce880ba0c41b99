"""Social handles in one canonical form, so a CRM entry and a post's author compare equal."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

REDDIT_NAME = re.compile(r"^[A-Za-z0-9_-]{3,20}$")
MASTODON_USER = re.compile(r"^[A-Za-z0-9_]+(?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
DOMAIN = re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$|^[A-Za-z0-9.-]+:\d+$")


def normalise_reddit(handle: str) -> str:
    """``/u/Name``, ``u/Name`` or ``Name`` as ``name``; ValueError if it cannot be a username."""
    name = re.sub(r"^/?u/", "", handle.strip(), flags=re.IGNORECASE).lstrip("@")
    if not REDDIT_NAME.match(name):
        raise ValueError(f"{handle!r} is not a Reddit username (3-20 letters, digits, - or _)")
    return name.lower()


def normalise_mastodon(handle: str, *, instance: str | None = None) -> str:
    """``@User@Host`` as ``user@host``; a bare ``user`` is qualified with ``instance``."""
    text = handle.strip()
    if text.startswith("https://") or text.startswith("http://"):
        # A profile URL: https://host/@user
        match = re.match(r"^https?://([^/]+)/@([^/?#]+)/?$", text)
        if not match:
            raise ValueError(f"{handle!r} is not a Mastodon profile URL (https://host/@user)")
        text = f"{match.group(2)}@{match.group(1)}"
    user, _, domain = text.lstrip("@").partition("@")
    domain = domain or (instance or "")
    if not domain:
        raise ValueError(f"{handle!r} needs its instance: write it as @user@instance")
    if not MASTODON_USER.match(user) or not DOMAIN.match(domain):
        raise ValueError(f"{handle!r} is not a Mastodon handle (@user@instance)")
    return f"{user}@{domain}".lower()


def normalise(network: str, handle: str) -> str:
    """The canonical handle on ``network``."""
    if network == "reddit":
        return normalise_reddit(handle)
    if network == "mastodon":
        return normalise_mastodon(handle)
    return handle.strip().lower()


# Hosts many people share: a link there names a person by its first path segment.
SHARED_HOSTS = frozenset(
    {
        "github.com",
        "gitlab.com",
        "codeberg.org",
        "linktr.ee",
        "medium.com",
        "instagram.com",
        "facebook.com",
        "linkedin.com",
        "youtube.com",
        "twitter.com",
        "x.com",
        "bsky.app",
        "reddit.com",
        "tiktok.com",
        "twitch.tv",
        "patreon.com",
        "ko-fi.com",
        "keybase.io",
    }
)
URL = re.compile(r"https?://[^\s<>\"')]+", re.IGNORECASE)
BARE_DOMAIN = re.compile(
    r"(?<![\w@.-])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})(/[^\s<>\"')]*)?",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")


def username(network: str, handle: str) -> str:
    """The name part of a normalised handle: ``user`` of ``user@instance`` on Mastodon."""
    return handle.partition("@")[0] if network == "mastodon" else handle


def site_key(address: str) -> str | None:
    """A web address as its site: ``acme.com`` for ``https://www.Acme.com/x``, None if none.

    On a host many people share (github.com, linktr.ee, ...) the first path segment is part
    of the site, so ``github.com/anna`` and ``github.com/bob`` differ.
    """
    text = address.strip()
    if not text:
        return None
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text, flags=re.IGNORECASE)
    host, _, path = text.partition("/")
    host = host.rpartition("@")[2].split(":")[0].strip(".").lower()
    host = host.removeprefix("www.")
    if not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}", host):
        return None
    if host in SHARED_HOSTS:
        segment = re.split(r"[/?#]", path, maxsplit=1)[0].strip().lower()
        return f"{host}/{segment}" if segment else None
    return host


def site_keys_in(address: str) -> list[str]:
    """A web address's site and every parent domain of it (``a.acme.com``, ``acme.com``)."""
    key = site_key(address)
    if key is None:
        return []
    if "/" in key:
        return [key]
    labels = key.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def name_key(name: str) -> str:
    """A name folded for comparison: no accents, no case, words separated by one space."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.split(r"[\W_]+", plain)).strip()


def name_similarity(first: str, second: str) -> float:
    """How alike two names are, 0 to 1, ignoring case, accents and word order."""
    a, b = name_key(first), name_key(second)
    if not a or not b:
        return 0.0
    in_order = SequenceMatcher(None, a, b).ratio()
    sorted_a, sorted_b = " ".join(sorted(a.split())), " ".join(sorted(b.split()))
    any_order = SequenceMatcher(None, sorted_a, sorted_b).ratio()
    joined = SequenceMatcher(None, a.replace(" ", ""), b.replace(" ", "")).ratio()
    return max(in_order, any_order, joined)
