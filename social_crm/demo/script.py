"""The demo's scripted stream: what people say about Brewly, in the order they say it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit


@dataclass(frozen=True, slots=True)
class Step:
    """One published post; ``publish`` returns its id on the fake network.

    ``noise``: a post the demo's listening rules leave out (config/demo.yaml), never stored.
    """

    network: str
    author: str
    text: str
    publish: Callable[[FakeReddit, FakeMastodon, dict[str, str]], str]
    noise: bool = False


# The brand's Reddit account (config/demo.yaml): its replies are posted as this user.
BRAND_ON_REDDIT = "brewly_official"
# How long an answer to the brand's reply waits for that reply to be posted.
REPLY_WAIT_SECONDS = 30.0

ACCOUNTS = {
    # username: (remote instance, display name, followers)
    "anna": ("mastodon.nl", "Anna de Vries", 1200),
    "bob": ("fosstodon.org", "Bob Miller", 85),
    "coffeegeek": ("mastodon.social", "The Coffee Geek", 15000),
    "lotte": ("mastodon.nl", "Lotte", 40),
    "kaffeeklaus": ("chaos.social", "Klaus", 310),
    "beanjobs": ("mastodon.social", "Bean Jobs", 2300),
}
# Accounts flagged as bots on their instance.
BOTS = {"brewdeals": ("botsin.space", "Brewly Deals", 12)}


def reddit_post(
    key: str, subreddit: str, author: str, title: str, body: str = "", *, noise: bool = False
) -> Step:
    """A new submission, remembered as ``key`` for replies."""
    return Step(
        "reddit",
        author,
        title,
        lambda r, m, ids: ids.setdefault(
            key, r.submit(subreddit, author=author, title=title, selftext=body)
        ),
        noise,
    )


def reddit_reply(parent: str, author: str, body: str, *, noise: bool = False) -> Step:
    """A comment under the post or comment remembered as ``parent``."""
    return Step(
        "reddit",
        author,
        body,
        lambda r, m, ids: r.comment(ids[parent], author=author, body=body),
        noise,
    )


def answer_to_brand(post: str, author: str, body: str) -> Step:
    """A comment answering the brand's reply under the post remembered as ``post``, once the
    daemon has posted that reply (under the post itself if none comes in time)."""

    def publish(reddit: FakeReddit, _mastodon: FakeMastodon, ids: dict[str, str]) -> str:
        parent = _brand_reply(reddit) or ids[post]
        return reddit.comment(parent, author=author, body=body)

    return Step("reddit", author, body, publish)


def _brand_reply(reddit: FakeReddit) -> str | None:
    """The brand's reply, waited for; then a second more, the time it takes to read it (and
    what the author says next is written in a later second than the reply)."""
    deadline = time.monotonic() + REPLY_WAIT_SECONDS
    while not reddit.comments_by(BRAND_ON_REDDIT):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    time.sleep(1.0)
    return reddit.comments_by(BRAND_ON_REDDIT)[0]


def toot(
    user: str,
    text: str,
    *,
    mention: str | None = None,
    language: str = "en",
    noise: bool = False,
) -> Step:
    """A Mastodon status by one of ACCOUNTS or BOTS (hashtags in the text are tags)."""
    author = f"{user}@{(ACCOUNTS.get(user) or BOTS[user])[0]}"
    return Step(
        "mastodon",
        author,
        text,
        lambda r, m, ids: m.post(author, text, mention=mention, language=language),
        noise,
    )


SCRIPT: list[Step] = [
    reddit_post(
        "one",
        "brewly",
        "espresso_erik",
        "A year with the Brewly One",
        "Perfect espresso every single morning. Best purchase I have made, love it!",
    ),
    toot("anna", "Just unboxed my #Brewly grinder. Gorgeous design and so quiet, I love it!"),
    reddit_post(
        "ipa",
        "beer",
        "hoppy_hank",
        "Brewly Beer's new IPA is out",
        "Tried the Brewly beer IPA tonight: very hoppy, a bit too bitter for me.",
        noise=True,  # found by search; r/beer is excluded
    ),
    reddit_post(
        "help",
        "brewly",
        "neutral_ned",
        "Does the Brewly One work on 110V?",
        "Moving abroad next month and wondering about the voltage.",
    ),
    reddit_post(
        "broken",
        "brewly",
        "Grumpy_Gus",
        "Brewly support is a disgrace",
        "My grinder broke after two weeks and support has ignored me for three weeks. "
        "Terrible service, worst purchase ever. I want a refund.",
    ),
    toot(
        "coffeegeek",
        "Reviewing the #Brewly One this week. First impressions: solid build, "
        "simple menu. Full review on Friday.",
    ),
    reddit_reply("broken", "latte_lisa", "Same here, mine leaks water everywhere. Really awful."),
    reddit_reply(
        "broken",
        "AutoModerator",
        "Your post about Brewly support has been flagged for review. Please read the rules.",
        noise=True,  # a known bot
    ),
    toot(
        "brewdeals",
        "#Brewly grinder deal: 20% off today only! Follow and boost for the giveaway.",
        noise=True,  # the account is flagged as a bot
    ),
    toot(
        "bob",
        "@brewly my order arrived broken and nobody answers my emails. Awful, "
        "disappointing experience.",
        mention="brewly",
    ),
    reddit_reply(
        "one", "espresso_erik", "Update: the new descaling tablets work great too. Happy!"
    ),
    toot("lotte", "Mijn #Brewly werkt geweldig, echt een aanrader!", language="nl"),
    reddit_post(
        "grinders",
        "espresso",
        "new_barista",
        "Which grinder for a beginner?",
        "Budget around 200, mostly for espresso at home. Any advice?",
        noise=True,  # r/espresso keeps only posts that name Brewly
    ),
    toot(
        "kaffeeklaus",
        "Meine #Brewly Mühle ist endlich da und sie mahlt wunderbar fein!",
        language="de",
        noise=True,  # only English and Dutch are kept
    ),
    toot(
        "beanjobs",
        "#Brewly is hiring a barista trainer in Utrecht. Apply by Friday!",
        noise=True,  # job ads are excluded
    ),
    reddit_reply("help", "koffie_kees", "Ja hoor, de Brewly One werkt prima op 110V en 230V."),
    toot("anna", "Third week with my #Brewly and every cup is excellent. Highly recommend it!"),
    reddit_reply("broken", "latte_lisa", "Still no answer to my ticket either. Horrible."),
    toot(
        "coffeegeek",
        "The #Brewly One review is up: great espresso, fair price, excellent "
        "milk frother. Recommended!",
    ),
    reddit_post(
        "tips",
        "espresso",
        "espresso_erik",
        "Brewly tip: grind finer for the Brewly One",
        "Finer grind gave me wonderful crema. Great machine.",
    ),
    toot(
        "anna",
        "Thank you @brewly for the fantastic support today, you are awesome!",
        mention="brewly",
    ),
    answer_to_brand(
        "broken",
        "Grumpy_Gus",
        "Thank you, that was quick! The new grinder is on its way. Much appreciated.",
    ),
]
