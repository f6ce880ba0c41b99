"""Listening rules: texts decided per second, for 50 rules and for 50 brands' rule sets.

Texts are posts of realistic length (one line to a few paragraphs) built from the demo's
script and random filler. Three figures:

- one brand with 50 rules (a query of 19 terms, 25 excluded words and phrases, 2 authors,
  2 subreddits, an instance, a keyword scope): the path every fetched item takes, once;
- 50 brands of 10 rules each, every text decided by each of them (the cost of a replay
  over a mixed database, or of 50 brands' items at once);
- the first case with ``languages`` set and no language from the network, so lingua
  detects it for each text that the cheaper rules do not drop first.

    .venv/bin/python benchmarks/rule_matching.py [--texts 5000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from itertools import pairwise

from social_crm.demo.script import SCRIPT
from social_crm.listening import Item, RuleSet, parse_query

FILLER = [
    "the",
    "a",
    "and",
    "of",
    "to",
    "in",
    "is",
    "it",
    "for",
    "on",
    "with",
    "my",
    "this",
    "that",
    "was",
    "but",
    "so",
    "very",
    "just",
    "really",
    "grinder",
    "espresso",
    "coffee",
    "beans",
    "machine",
    "morning",
    "cup",
    "milk",
    "frother",
    "crema",
    "price",
    "support",
    "order",
    "delivery",
    "broken",
    "works",
    "great",
    "awful",
    "love",
    "hate",
    "refund",
    "review",
    "week",
    "month",
    "today",
    "barista",
    "café",
    "crème",
    "naïve",
    "über",
]
# Words that noise is made of: one in ten texts has one.
NOISE = [
    "hiring",
    "giveaway",
    "beer",
    "ipa",
    "deal",
    "discount",
    "job",
    "vacancy",
    "promo",
    "coupon",
    "airdrop",
    "crypto",
    "nsfw",
    "lager",
    "stout",
    "recruiter",
    "sponsored",
    "affiliate",
    "referral",
]
BRANDS = [f"brand{n}" for n in range(200)]
VOCABULARY = BRANDS + FILLER


def make_texts(count: int, rng: random.Random) -> list[str]:
    """Posts of 5 to 120 words: demo posts, filler and brand names, some hashtags."""
    script = [step.text for step in SCRIPT]
    texts = []
    for _ in range(count):
        words = rng.choices(VOCABULARY, k=rng.randint(5, 120))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words) + 1), rng.choice(script))
        if rng.random() < 0.2:
            words.append("#" + rng.choice(VOCABULARY))
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words) + 1), rng.choice(NOISE))
        texts.append(" ".join(words).capitalize() + ".")
    return texts


def fifty_rules(brand: int, rng: random.Random, *, languages: bool = False) -> RuleSet:
    """One brand's rule set with 50 rules."""
    terms = rng.sample(BRANDS, 16) + rng.sample(FILLER, 4)
    query = " OR ".join(
        f'"{a} {b}"' if i % 5 == 0 else a for i, (a, b) in enumerate(pairwise(terms))
    )
    return RuleSet.compile(
        brand=f"Brand{brand}",
        keywords=[f"brand{brand}", f"brand{brand} coffee"],
        hashtags=[f"brand{brand}"],
        query=parse_query(f"({query}) AND NOT (#spam OR $scam)"),
        exclude=[*rng.sample(NOISE, 15), *(f"{w} now" for w in rng.sample(FILLER, 10))],
        exclude_authors=["spammer", "deals@bots.example"],
        exclude_subreddits=["beer", "jobs"],
        exclude_instances=["spam.example"],
        languages=["en", "nl"] if languages else [],
        scope={"subreddits": "keyword"},
    )


def ten_rules(brand: int, rng: random.Random) -> RuleSet:
    """One brand's rule set with 10 rules: a short query, exclusions, a scope."""
    a, b, c = rng.sample(VOCABULARY, 3)
    return RuleSet.compile(
        brand=f"Brand{brand}",
        keywords=[f"brand{brand}"],
        query=parse_query(f'(brand{brand} OR "{a} {b}") AND NOT {c}'),
        exclude=rng.sample(NOISE, 4),
        exclude_subreddits=["beer"],
        scope={"subreddits": "keyword"},
    )


def rate(texts: list[str], decide: Callable[[Item], object]) -> float:
    """Texts decided per second, best of three rounds."""
    items = [
        Item(
            text=text,
            network="reddit",
            source_kind="subreddits",
            source_name="r/coffee",
            subreddit="coffee",
            author="someone",
        )
        for text in texts
    ]
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for item in items:
            decide(item)
        best = min(best, time.perf_counter() - began)
    return len(texts) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = make_texts(args.texts, rng)
    chars = sum(len(text) for text in texts) / len(texts)
    print(f"{len(texts)} texts, {chars:.0f} characters on average")

    one = fifty_rules(0, rng)
    print(f"one brand, 50 rules:            {rate(texts, one.decide):10,.0f} texts/s")

    brands = [ten_rules(n, rng) for n in range(50)]

    def every_brand(item: Item) -> None:
        for rules in brands:
            rules.decide(item)

    print(f"50 brands x 10 rules each:      {rate(texts, every_brand):10,.0f} texts/s")
    detecting = fifty_rules(0, rng, languages=True)
    detecting.decide(Item(text="warm up the language detector", network="reddit"))
    sample = texts[: max(len(texts) // 10, 1)]
    print(f"one brand, 50 rules + lingua:   {rate(sample, detecting.decide):10,.0f} texts/s")


if __name__ == "__main__":
    main()
