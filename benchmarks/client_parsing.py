"""CPU time per item that the network clients and connectors spend reading listings.

    python benchmarks/client_parsing.py [--posts 500] [--comments 500] [--statuses 200]
        [--rounds 5] [--reddit-share 0.6] [--comment-share 0.8] [--seed 1]

The local fake Reddit and Mastodon run in a child process, filled with ``--posts``
submissions and ``--comments`` comments in r/brewly and ``--statuses`` statuses tagged
#brewly (no replies: a reply to an unseen status costs the connector one more request),
so that ``time.process_time()`` here counts only the client side: the real praw and
Mastodon.py clients (unpatched), requests, and the connectors. The fakes serve the fields
current Reddit and Mastodon answers carry; Reddit titles, self texts and comment bodies
are the recorded real ones in ``../shared/fixtures/reddit`` (or ``$SOCIAL_CRM_FIXTURES``)
where that folder exists, generated sentences elsewhere, and the run says which.

Each figure is the CPU time of this process per item read, in the best and the median of
``--rounds`` rounds after a warm-up round (other load on the machine only ever adds
time: the best round is the closest to the code's own cost); every round runs each
measurement in turn, so that such load weighs on all of them alike:

- Mastodon.py ``timeline_hashtag(..., limit=40)``, paged forward with ``min_id``; the same
  URLs read with ``requests`` and ``.json()`` (HTTP and JSON decoding alone); and
  Mastodon.py's typed conversion (``try_cast_recurse`` into ``PaginatableList[Status]``)
  timed on its own over the same decoded pages, plus its share under cProfile;
- praw ``subreddit.new`` and ``subreddit.comments`` (100 items a request), with the same
  two breakdowns (``requests`` alone; praw's objectifier on the decoded pages);
- ``connector.fetch(source, cursor)`` of the Reddit connector (new posts, comments) and
  of the Mastodon connector (a hashtag, polled), from a cursor just before the items:
  everything up to connectors.base.Mention, and the connectors' own conversion
  (``mention_from_status``, ``mention_from_submission``, ``mention_from_comment``) alone
  on the clients' items. Reddit authors' profiles are read once per author and process;
  the warm-up reads them all, so the figure is the steady state of authors seen before
  (a new author costs one more request).

Printed: a table of ms CPU per item and the items/s one core could parse, the implied
ceiling on mentions/s one Python process could ingest with a mix of ``--reddit-share``
Reddit items (``--comment-share`` of them comments) and the rest Mastodon statuses if
nothing else cost anything, and, where the recorded traffic is there, how the fakes'
items compare with recorded real ones (fields, bytes and client conversion CPU per item).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import multiprocessing
import os
import pstats
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import praw  # noqa: E402
import requests  # noqa: E402
import yaml  # noqa: E402
from mastodon import Mastodon  # noqa: E402
from mastodon.return_types import PaginatableList, Status  # noqa: E402
from mastodon.types_base import try_cast_recurse  # noqa: E402

from connectors.base import Source, Watch  # noqa: E402
from connectors.mastodon import MastodonConnector, instance_domain, mention_from_status  # noqa: E402
from connectors.mastodon.settings import MastodonSettings  # noqa: E402
from connectors.reddit import (  # noqa: E402
    PROFILES_PER_FETCH,
    RedditConnector,
    RedditSettings,
    mention_from_comment,
    mention_from_submission,
)
from social_crm.demo.servers.mastodon import FakeMastodon  # noqa: E402
from social_crm.demo.servers.reddit import FakeReddit  # noqa: E402

SUBREDDIT = "brewly"
HASHTAG = "brewly"
OWNER = "brewly"
TOKEN = "demo-token"
CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-secret"
USER_AGENT = "social-crm client parsing benchmark"
REDDIT_AUTHORS = 100  # round robin: any 100 consecutive items hold every author
MASTODON_ACCOUNTS = 300
REMOTE_DOMAINS = ("mastodon.social", "fosstodon.org", "mastodon.nl", "chaos.social", None)
REDDIT_PAGE = 100
MASTODON_PAGE = 40
COMPARED_PAGES = 3  # of the fakes' pages, set against the recorded real items
SENTENCES = (
    "My Brewly broke after two weeks, terrible.",
    "Support never answers, this is awful.",
    "The grinder leaks water everywhere and I hate it.",
    "Love my Brewly, perfect espresso every morning!",
    "Great design and so quiet, excellent machine.",
    "The crema is amazing, best coffee at home.",
    "Support was fast and friendly, thank you!",
    "Does the Brewly One work on 110V?",
    "I ordered the grinder last Tuesday.",
    "Which beans do you use with it?",
    "The manual is forty pages long.",
    "It comes in black and in silver.",
    "Descaling takes about twenty minutes if you follow the app.",
    "Has anyone tried the oat milk setting yet?",
)
# A subreddit's (or multireddit's, or the front page's) new posts or new comments.
LISTING_URI = re.compile(r"/(?P<listing>new|comments)/?(?:\?|$)")
LINKS = ("https://brewly.example/support", "https://example.org/review/brewly-one")


def fixtures_root() -> Path:
    """Recorded real traffic: $SOCIAL_CRM_FIXTURES or ../shared/fixtures (as the tests)."""
    env = os.environ.get("SOCIAL_CRM_FIXTURES")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "fixtures"


# -- recorded real items ---------------------------------------------------------------


def _reddit_answers(path: Path) -> Iterator[tuple[dict[str, Any], Any]]:
    """(interaction, decoded JSON answer) of every JSON answer in one recorded praw cassette."""
    for interaction in json.loads(path.read_text(encoding="utf-8"))["interactions"]:
        try:
            yield interaction, json.loads(interaction["response"]["body"].get("string") or "")
        except ValueError:
            continue


def _things(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every t1/t3 item in a decoded Reddit answer, nested ones included."""
    if isinstance(node, dict):
        if node.get("kind") in ("t1", "t3") and isinstance(node.get("data"), dict):
            yield node["kind"], node["data"]
        for value in node.values():
            yield from _things(value)
    elif isinstance(node, list):
        for value in node:
            yield from _things(value)


def recorded_reddit_listings(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Recorded real subreddit ``new`` (t3) and ``comments`` (t1) listings: (year, raw JSON)."""
    found: dict[str, list[tuple[str, str]]] = {"t3": [], "t1": []}
    for path in sorted((root / "reddit").glob("*.json")):
        for interaction, body in _reddit_answers(path):
            match = LISTING_URI.search(interaction["request"]["uri"])
            if match is None or not isinstance(body, dict) or body.get("kind") != "Listing":
                continue
            kind = "t3" if match["listing"] == "new" else "t1"
            if body["data"].get("children"):
                year = str(interaction.get("recorded_at", "?"))[:4]
                found[kind].append((year, json.dumps(body)))
    return found


def recorded_reddit_texts(root: Path) -> dict[str, list[str]] | None:
    """Titles, self texts and comment bodies of every recorded real item (None: no folder)."""
    folder = root / "reddit"
    if not folder.is_dir():
        return None
    texts: dict[str, list[str]] = {"title": [], "selftext": [], "body": []}
    for path in sorted(folder.glob("*.json")):
        for _, body in _reddit_answers(path):
            for kind, data in _things(body):
                for key in ("title", "selftext") if kind == "t3" else ("body",):
                    value = data.get(key)
                    if isinstance(value, str) and value not in ("", "[deleted]", "[removed]"):
                        texts[key].append(value)
    return texts if texts["title"] and texts["body"] else None


def _statuses(node: Any) -> Iterator[dict[str, Any]]:
    """Every status in a decoded Mastodon answer: lists, notifications, contexts."""
    if isinstance(node, list):
        for item in node:
            yield from _statuses(item)
    elif isinstance(node, dict):
        if {"uri", "content", "account", "created_at"} <= node.keys():
            yield node
            return
        if isinstance(node.get("status"), dict):
            yield from _statuses(node["status"])
        for key in ("statuses", "ancestors", "descendants"):
            yield from _statuses(node.get(key) or [])


def recorded_statuses(root: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Every status in the GET answers of the recorded Mastodon.py cassettes, and the years
    they were created in."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    found: list[dict[str, Any]] = []
    for path in sorted((root / "mastodon").glob("*.yaml")):
        for interaction in yaml.load(path.read_text(encoding="utf-8"), Loader=loader)[
            "interactions"
        ]:
            if interaction["request"]["method"] != "GET":
                continue
            raw = interaction["response"]["body"]["string"]
            try:
                found.extend(_statuses(json.loads(raw)))
            except ValueError:
                continue
    return sorted({str(status["created_at"])[:4] for status in found}), found


# -- the fakes, in a child process ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What the child process publishes."""

    posts: int
    comments: int
    statuses: int
    seed: int
    reddit_texts: dict[str, list[str]] | None


@dataclass(frozen=True, slots=True)
class Served:
    """Where the fakes listen, and the cursors just before the published items."""

    reddit_url: str
    mastodon_url: str
    post_cursor: str
    comment_cursor: str
    status_cursor: str


def _sentences(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(low, high)))


def _fill_reddit(reddit: FakeReddit, plan: Plan, rng: random.Random) -> tuple[str, str]:
    """Posts and comments in r/brewly; the fullnames published just before them."""
    texts = plan.reddit_texts
    authors = [f"redditor_{n}" for n in range(REDDIT_AUTHORS)]
    for n, name in enumerate(authors):
        reddit.set_profile(name, description=_sentences(rng, 0, 2), comment_karma=n * 37)
    post_cursor = reddit.submit(SUBREDDIT, author=authors[0], title="Brewly: the cursor")
    posts: list[str] = []
    for n in range(plan.posts):
        if texts:
            title = rng.choice(texts["title"])
            selftext = rng.choice(texts["selftext"]) if rng.random() < 0.5 else ""
        else:
            title = _sentences(rng, 1, 1)
            selftext = _sentences(rng, 0, 6)
        link = rng.choice(LINKS) if not selftext and rng.random() < 0.5 else None
        posts.append(
            reddit.submit(
                SUBREDDIT,
                author=authors[n % REDDIT_AUTHORS],
                title=title[:300],
                selftext=selftext,
                link=link,
                score=rng.randint(0, 500),
            )
        )
    comment_cursor = reddit.comment(posts[0], author=authors[0], body="the cursor")
    comments: list[str] = []
    for n in range(plan.comments):
        parent = rng.choice(comments[-50:]) if comments and rng.random() < 0.3 else None
        body = rng.choice(texts["body"]) if texts else _sentences(rng, 1, 4)
        comments.append(
            reddit.comment(
                parent or rng.choice(posts[-100:]),
                author=authors[(n * 7) % REDDIT_AUTHORS],
                body=body,
                score=rng.randint(-5, 200),
            )
        )
    return post_cursor, comment_cursor


def _fill_mastodon(mastodon: FakeMastodon, plan: Plan, rng: random.Random) -> str:
    """Statuses tagged #brewly from local and remote accounts; the id just before them."""
    accounts: list[str] = []
    for n in range(MASTODON_ACCOUNTS):
        domain = REMOTE_DOMAINS[n % len(REMOTE_DOMAINS)]
        fields = [("Website", f"https://people.example/{n}", n % 3 == 0)] if n % 2 else []
        mastodon.add_account(
            f"toot_{n}",
            display_name=f"Tooter {n} \N{HOT BEVERAGE}",
            followers=rng.randint(0, 5000),
            note=_sentences(rng, 0, 2),
            remote_domain=domain,
            fields=fields,
        )
        accounts.append(f"toot_{n}@{domain}" if domain else f"toot_{n}")
    cursor = mastodon.post(accounts[0], "the cursor", tags=[HASHTAG])
    for _ in range(plan.statuses):
        text = _sentences(rng, 1, 3)
        if rng.random() < 0.3:
            text += f" {rng.choice(LINKS)}"
        mastodon.post(
            rng.choice(accounts),
            text,
            tags=[HASHTAG],
            mention=OWNER if rng.random() < 0.2 else None,
            favourites=rng.randint(0, 50),
            reblogs=rng.randint(0, 10),
            media=[("image", "A cup of coffee")] if rng.random() < 0.1 else (),
        )
    return cursor


def serve(conn: Connection, plan: Plan) -> None:
    """Start and fill the fakes, send where they are, and serve until told to stop."""
    rng = random.Random(plan.seed)
    with (
        FakeReddit(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as reddit,
        FakeMastodon(access_token=TOKEN, owner=OWNER, rate_limit=10**9) as mastodon,
    ):
        post_cursor, comment_cursor = _fill_reddit(reddit, plan, rng)
        status_cursor = _fill_mastodon(mastodon, plan, rng)
        conn.send(Served(reddit.url, mastodon.url, post_cursor, comment_cursor, status_cursor))
        conn.recv()


# -- measuring ------------------------------------------------------------------------


Work = Callable[[], tuple[float, int]]  # one round: (CPU seconds, items read)


def cpu(work: Callable[[], int]) -> Work:
    """``work`` (which returns the items it read) timed with time.process_time()."""

    def timed() -> tuple[float, int]:
        start = time.process_time()
        items = work()
        return time.process_time() - start, items

    return timed


def per_item(works: dict[str, Work], rounds: int) -> dict[str, list[float]]:
    """CPU seconds per item of each work, one warm-up round and then ``rounds`` rounds.

    The works take turns within each round, in order, so that other load on the machine
    weighs on all of them alike and a round's figures can be set against each other.
    """
    for work in works.values():
        work()
    figures: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(rounds):
        for name, work in works.items():
            seconds, items = work()
            figures[name].append(seconds / max(items, 1))
    return figures


class Bench:
    """The clients and connectors pointed at the served fakes, and what each reads."""

    def __init__(self, served: Served, plan: Plan) -> None:
        self.served = served
        self.plan = plan
        self.mastodon = Mastodon(
            access_token=TOKEN, api_base_url=served.mastodon_url, ratelimit_method="throw"
        )
        self.reddit = praw.Reddit(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            user_agent=USER_AGENT,
            oauth_url=served.reddit_url,
            reddit_url=served.reddit_url,
            short_url=served.reddit_url,
            check_for_updates=False,
            check_for_async=False,
        )
        self.session = requests.Session()
        self.reddit_token: str | None = None
        self.raw_pages: dict[str, list[bytes]] = {"status": [], "t3": [], "t1": []}

    # Mastodon ---------------------------------------------------------------------------

    def mastodon_py(self) -> int:
        """Page the hashtag timeline forward from the cursor with Mastodon.py."""
        read, newest = 0, self.served.status_cursor
        while page := self.mastodon.timeline_hashtag(HASHTAG, min_id=newest, limit=MASTODON_PAGE):
            read += len(page)
            newest = page[0]["id"]
        return read

    def mastodon_requests(self) -> int:
        """The same pages with requests and .json(); keeps their bytes for the conversion."""
        url = f"{self.served.mastodon_url}/api/v1/timelines/tag/{HASHTAG}"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        read, newest, raw = 0, self.served.status_cursor, []
        while True:
            response = self.session.get(
                url, params={"min_id": newest, "limit": MASTODON_PAGE}, headers=headers
            )
            page = response.json()
            if not page:
                break
            raw.append(response.content)
            read += len(page)
            newest = page[0]["id"]
        self.raw_pages["status"] = raw
        return read

    def mastodon_cast(self) -> tuple[float, int]:
        """Mastodon.py's typed conversion of the decoded pages, timed without the decoding."""
        return _timed_each(
            self.raw_pages["status"], lambda data: try_cast_recurse(PaginatableList[Status], data)
        )

    def mastodon_profile_share(self) -> float:
        """try_cast_recurse's cumulative share of timeline_hashtag's CPU under cProfile."""
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(self.mastodon_py)
        stats = pstats.Stats(profiler)
        cast = max(
            (row[3] for (_, _, name), row in stats.stats.items() if name == "try_cast_recurse"),
            default=0.0,
        )
        return cast / stats.total_tt if stats.total_tt else 0.0

    # praw -------------------------------------------------------------------------------

    def praw_listing(self, listing: str) -> int:
        """Every item of r/brewly's ``new`` or ``comments`` listing with praw."""
        subreddit = self.reddit.subreddit(SUBREDDIT)
        limit = self.plan.posts if listing == "new" else self.plan.comments
        generator = getattr(subreddit, listing)(limit=limit, request_limit=REDDIT_PAGE)
        return sum(1 for _ in generator)

    def reddit_requests(self, listing: str) -> int:
        """The same pages with requests and .json(); keeps their bytes for the objectifier."""
        if self.reddit_token is None:
            self.reddit_token = self.session.post(
                f"{self.served.reddit_url}/api/v1/access_token",
                auth=(CLIENT_ID, CLIENT_SECRET),
                data={"grant_type": "client_credentials"},
            ).json()["access_token"]
        headers = {"Authorization": f"bearer {self.reddit_token}", "User-Agent": USER_AGENT}
        url = f"{self.served.reddit_url}/r/{SUBREDDIT}/{listing}/"
        limit = self.plan.posts if listing == "new" else self.plan.comments
        read, after, raw = 0, None, []
        while read < limit:
            params: dict[str, Any] = {"limit": REDDIT_PAGE, "raw_json": 1}
            if after:
                params["after"] = after
            response = self.session.get(url, params=params, headers=headers)
            body = response.json()
            children = body["data"]["children"]
            if not children:
                break
            raw.append(response.content)
            read += len(children)
            after = body["data"]["after"]
            if after is None:
                break
        self.raw_pages["t3" if listing == "new" else "t1"] = raw
        return read

    def objectify(self, data: Any) -> Any:
        """What praw.Reddit.get does with a decoded answer (praw has no public name for it)."""
        return self.reddit._objector.objectify(data=data)

    def praw_objectify(self, kind: str) -> tuple[float, int]:
        """praw's objectifier on the decoded pages, timed without the decoding."""
        return _timed_each(self.raw_pages[kind], self.objectify)

    # connectors -------------------------------------------------------------------------

    def status_parse(self) -> tuple[float, int]:
        """mention_from_status alone, on Mastodon.py's statuses of the kept pages."""
        instance = instance_domain(self.served.mastodon_url)
        pages = [
            try_cast_recurse(PaginatableList[Status], json.loads(raw))
            for raw in self.raw_pages["status"]
        ]
        start = time.process_time()
        for page in pages:
            for status in page:
                mention_from_status(status, brand="Brewly", source="tag", instance=instance)
        return time.process_time() - start, sum(map(len, pages))

    def reddit_parse(self, kind: str) -> tuple[float, int]:
        """mention_from_submission or _comment alone, on praw's items of the kept pages."""
        convert = mention_from_submission if kind == "t3" else mention_from_comment
        items = [
            item
            for raw in self.raw_pages[kind]
            for item in self.objectify(json.loads(raw)).children
        ]
        site = self.served.reddit_url
        start = time.process_time()
        for item in items:
            convert(item, brand="Brewly", source="listing", site_url=site)
        return time.process_time() - start, len(items)

    def reddit_connector(self) -> tuple[RedditConnector, dict[str, Source]]:
        pages = math.ceil((max(self.plan.posts, self.plan.comments) + 1) / REDDIT_PAGE)
        settings = RedditSettings(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            user_agent=USER_AGENT,
            base_url=self.served.reddit_url,
            page_size=REDDIT_PAGE,
            max_pages_per_fetch=min(100, pages),
        )
        connector = RedditConnector(
            settings, watches=[Watch(name="Brewly", subreddits=(SUBREDDIT,))]
        )
        sources = {s.key.rsplit(":", 1)[-1]: s for s in connector.sources()}
        for _ in range(math.ceil(REDDIT_AUTHORS / PROFILES_PER_FETCH)):
            connector.fetch(sources["new"], None)  # the newest page: every author's profile
        return connector, sources

    def mastodon_connector(self) -> tuple[MastodonConnector, Source]:
        settings = MastodonSettings(
            api_base_url=self.served.mastodon_url,
            access_token=TOKEN,
            page_size=MASTODON_PAGE,
            max_pages_per_fetch=min(1000, math.ceil(self.plan.statuses / MASTODON_PAGE) + 1),
        )
        connector = MastodonConnector(settings, watches=[Watch(name="Brewly", hashtags=(HASHTAG,))])
        (source,) = connector.sources()
        return connector, source


def _timed_each(raw_pages: list[bytes], convert: Callable[[Any], Any]) -> tuple[float, int]:
    """CPU seconds of ``convert`` over freshly decoded pages (decoding not counted), items."""
    spent, items = 0.0, 0
    for raw in raw_pages:
        data = json.loads(raw)
        items += len(data) if isinstance(data, list) else len(data["data"]["children"])
        start = time.process_time()
        convert(data)
        spent += time.process_time() - start
    return spent, items


def _fetch(connector: Any, source: Source, cursor: str) -> int:
    batch = connector.fetch(source, cursor)
    return len(batch.mentions)


# -- the comparison with recorded real items --------------------------------------------


def compare_with_recorded(bench: Bench, root: Path, rounds: int) -> list[tuple[str, ...]]:
    """Fields, JSON bytes and client conversion CPU per item: recorded real vs the fakes'.

    The conversion of both is timed in turns, over at most COMPARED_PAGES of the fakes'.
    """
    rows: list[tuple[str, ...]] = []
    listings = recorded_reddit_listings(root)
    objectify = bench.objectify

    def cast(data: Any) -> Any:
        return try_cast_recurse(PaginatableList[Status], data)

    for kind, what in (("t3", "Reddit submission"), ("t1", "Reddit comment")):
        fake_pages = bench.raw_pages[kind][:COMPARED_PAGES]
        if not listings[kind] or not fake_pages:
            continue
        newest = max(year for year, _ in listings[kind])  # older answers carry fewer fields
        real_pages = [raw.encode() for year, raw in listings[kind] if year == newest]
        real_items = [c["data"] for raw in real_pages for c in json.loads(raw)["data"]["children"]]
        fake_items = [c["data"] for raw in fake_pages for c in json.loads(raw)["data"]["children"]]
        figures = per_item(
            {
                "real": lambda p=real_pages: _timed_each(p, objectify),
                "fake": lambda p=fake_pages: _timed_each(p, objectify),
            },
            rounds,
        )
        rows.append(_compare_row(what, [newest], real_items, fake_items, figures))
    years, real_statuses = recorded_statuses(root)
    fake_pages = bench.raw_pages["status"][:COMPARED_PAGES]
    if real_statuses and fake_pages:
        real_pages = [json.dumps(real_statuses).encode()] * COMPARED_PAGES
        fake_statuses = [status for raw in fake_pages for status in json.loads(raw)]
        figures = per_item(
            {
                "real": lambda: _timed_each(real_pages, cast),
                "fake": lambda: _timed_each(fake_pages, cast),
            },
            rounds,
        )
        rows.append(_compare_row("Mastodon status", years, real_statuses, fake_statuses, figures))
    return rows


def _keys(node: dict[str, Any], prefix: str = "") -> set[str]:
    """Every key of a JSON object, nested objects' keys dotted."""
    found: set[str] = set()
    for key, value in node.items():
        found.add(prefix + key)
        if isinstance(value, dict):
            found |= _keys(value, f"{prefix}{key}.")
    return found


def _compare_row(
    what: str,
    years: list[str],
    real: list[dict[str, Any]],
    fake: list[dict[str, Any]],
    figures: dict[str, list[float]],
) -> tuple[str, ...]:
    real_keys = statistics.median(len(_keys(item)) for item in real)
    fake_keys = statistics.median(len(_keys(item)) for item in fake)
    shared = set.union(*(_keys(item) for item in real)) & set.union(*(_keys(i) for i in fake))
    real_bytes = statistics.median(len(json.dumps(item)) for item in real)
    fake_bytes = statistics.median(len(json.dumps(item)) for item in fake)
    real_s, fake_s = (min(figures[name]) for name in ("real", "fake"))
    return (
        what,
        f"{len(real)}, {'-'.join(dict.fromkeys([years[0], years[-1]]))}",
        f"{real_keys:.0f} / {fake_keys:.0f} ({len(shared)})",
        f"{real_bytes:.0f} / {fake_bytes:.0f}",
        f"{real_s * 1e6:.0f} / {fake_s * 1e6:.0f}",
    )


# -- the report -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500, help="Reddit submissions published")
    parser.add_argument("--comments", type=int, default=500, help="Reddit comments published")
    parser.add_argument("--statuses", type=int, default=200, help="Mastodon statuses published")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per figure")
    parser.add_argument("--reddit-share", type=float, default=0.6, help="Reddit share of the mix")
    parser.add_argument("--comment-share", type=float, default=0.8, help="comments among Reddit")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()

    root = fixtures_root()
    recorded = root.is_dir()
    reddit_texts = recorded_reddit_texts(root) if recorded else None
    plan = Plan(args.posts, args.comments, args.statuses, args.seed, reddit_texts)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve, args=(theirs, plan), daemon=True)
    child.start()
    try:
        served: Served = ours.recv()
        print(
            f"{args.posts} submissions, {args.comments} comments ({REDDIT_AUTHORS} authors), "
            f"{args.statuses} statuses ({MASTODON_ACCOUNTS} accounts), served by the fakes in "
            f"a child process; best and median of {args.rounds} round(s) after a warm-up"
        )
        print(
            "Reddit texts: "
            + (
                f"recorded real titles, self texts and bodies from {root / 'reddit'}"
                if reddit_texts
                else f"generated sentences (no recorded traffic at {root})"
            )
            + "; Mastodon texts: generated sentences, hashtags, links and mentions"
        )
        report(Bench(served, plan), args, root if recorded else None)
    finally:
        ours.send("stop")
        child.join(timeout=10)
        if child.is_alive():
            child.terminate()
    print(f"({time.perf_counter() - started:.0f} s)")


# What the table shows: (label, work, note); a note names the work it is a share of.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("Mastodon.py timeline_hashtag(limit=40)", "status", ""),
    ("  requests.get().json(), same URLs", "status_http", "HTTP + JSON decode"),
    ("  try_cast_recurse on the decoded pages", "status_cast", "status"),
    ("praw subreddit.new (100 a request)", "post", ""),
    ("  requests.get().json(), same URLs", "post_http", "HTTP + JSON decode"),
    ("  praw objectify on the decoded pages", "post_obj", "post"),
    ("praw subreddit.comments (100 a request)", "comment", ""),
    ("  requests.get().json(), same URLs", "comment_http", "HTTP + JSON decode"),
    ("  praw objectify on the decoded pages", "comment_obj", "comment"),
    ("MastodonConnector.fetch, hashtag -> Mention", "conn_status", ""),
    ("  mention_from_status alone", "status_parse", "conn_status"),
    ("RedditConnector.fetch, new posts -> Mention", "conn_post", ""),
    ("  mention_from_submission alone", "post_parse", "conn_post"),
    ("RedditConnector.fetch, comments -> Mention", "conn_comment", ""),
    ("  mention_from_comment alone", "comment_parse", "conn_comment"),
)


def report(bench: Bench, args: argparse.Namespace, root: Path | None) -> None:
    """Measure every work in turns, print the table, the ceiling and the comparison."""
    served = bench.served
    reddit, sources = bench.reddit_connector()
    mastodon, source = bench.mastodon_connector()
    works: dict[str, Work] = {
        "status": cpu(bench.mastodon_py),
        "status_http": cpu(bench.mastodon_requests),
        "status_cast": bench.mastodon_cast,
        "post": cpu(lambda: bench.praw_listing("new")),
        "post_http": cpu(lambda: bench.reddit_requests("new")),
        "post_obj": lambda: bench.praw_objectify("t3"),
        "comment": cpu(lambda: bench.praw_listing("comments")),
        "comment_http": cpu(lambda: bench.reddit_requests("comments")),
        "comment_obj": lambda: bench.praw_objectify("t1"),
        "conn_status": cpu(lambda: _fetch(mastodon, source, served.status_cursor)),
        "status_parse": bench.status_parse,
        "conn_post": cpu(lambda: _fetch(reddit, sources["new"], served.post_cursor)),
        "post_parse": lambda: bench.reddit_parse("t3"),
        "conn_comment": cpu(lambda: _fetch(reddit, sources["comments"], served.comment_cursor)),
        "comment_parse": lambda: bench.reddit_parse("t1"),
    }
    figures = per_item(works, args.rounds)
    reddit.close()
    mastodon.close()
    cast_profiled = bench.mastodon_profile_share()
    best = {name: min(values) for name, values in figures.items()}
    median = {name: statistics.median(values) for name, values in figures.items()}

    print(
        f"\n{'CPU of this process per item read, ms':<46} {'best':>7} {'median':>7} "
        f"{'items/s':>8}  (items/s: one core, best round)"
    )
    for label, name, note in ROWS:
        if note in works:  # a share of that work
            owner = {"status": "Mastodon.py", "post": "praw", "comment": "praw"}.get(note, "fetch")
            note = f"{best[name] / best[note]:.0%} of {owner}"
            if name == "status_cast":
                note += f" (under cProfile: {cast_profiled:.0%})"
        print(
            f"{label:<46} {best[name] * 1e3:>7.3f} {median[name] * 1e3:>7.3f} "
            f"{1 / best[name]:>8,.0f}  {note}"
        )

    reddit_share, comments = args.reddit_share, args.comment_share

    def ceiling(figure: dict[str, float], post: str, comment: str, status: str) -> str:
        reddit_s = (1 - comments) * figure[post] + comments * figure[comment]
        return f"{1 / (reddit_share * reddit_s + (1 - reddit_share) * figure[status]):>6,.0f}"

    print(
        f"\nCeiling for one process, {reddit_share:.0%} Reddit ({comments:.0%} of it comments)"
        f" / {1 - reddit_share:.0%} Mastodon, if nothing else cost anything (best rounds;"
        " median rounds):"
    )
    clients, connectors = (
        ("post", "comment", "status"),
        ("conn_post", "conn_comment", "conn_status"),
    )
    print(
        f"  the clients alone (praw, Mastodon.py): {ceiling(best, *clients)} items/s"
        f"    ({ceiling(median, *clients).strip()})"
    )
    print(
        f"  the connectors (to Mention):           {ceiling(best, *connectors)} mentions/s"
        f" ({ceiling(median, *connectors).strip()})"
    )

    if root is None:
        print(f"\nNo recorded traffic at {fixtures_root()}: no comparison with real items.")
        return
    rows = compare_with_recorded(bench, root, min(args.rounds, 3))  # a side figure: fewer rounds
    print(
        f"\nRecorded real items ({root}; Reddit: the newest recorded listings) against the"
        " fakes' items, per item (medians; CPU: best round), real / fake:"
    )
    header = ("item", "recorded", "fields (shared)", "JSON bytes", "client µs CPU")
    widths = (18, 11, 17, 12, 13)
    print("  " + " ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  " + " ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
