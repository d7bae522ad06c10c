"""Synthetic items shaped like the institute's, for the benchmarks and the store tests.

Each has a title, a 300-character summary, most an image with a "photo by" caption, a date
at random over 25 years (so new rows land all over the indexes), a type from TYPES; the
first type takes 30 %, and callers spread items over TOPICS with TOPIC_WEIGHTS.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from feedsvc.model import Item

TOPICS = [f"topic-{n:02d}" for n in range(10)]
TYPES = {
    "report": "Report",
    "commentary": "Commentary",
    "tool": "Tool",
    "journal-article": "Journal Article",
    "news-release": "News Release",
    "testimony": "Testimony",
    "blog": "Blog",
    "rand-weekly-recap": "RAND Weekly Recap",
}
TOPIC_WEIGHTS = [0.3] + [0.7 / 9] * 9
TYPE_WEIGHTS = [0.3] + [0.7 / 7] * 7
START = datetime(2000, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 25 * 365 * 86_400
WORDS = [
    "security",
    "cooperation",
    "deterrence",
    "alliance",
    "partner",
    "capacity",
    "reform",
    "defense",
    "policy",
    "analysis",
    "budget",
    "force",
    "posture",
    "region",
    "strategy",
    "training",
    "logistics",
    "readiness",
]


def source_url(topic: str) -> str:
    """A source address per topic; the benchmark store is filled directly, never fetched."""
    return f"http://127.0.0.1:9/{topic}.html"


def item(number: int, rng: random.Random, position: int) -> Item:
    """One synthetic item; `number` makes its link (and so its guid) unique."""
    type_slug = rng.choices(list(TYPES), TYPE_WEIGHTS)[0]
    words = " ".join(rng.choices(WORDS, k=40))
    link = f"https://www.example.org/pubs/{type_slug}/{number}.html"
    image = rng.random() < 0.8
    return Item(
        guid=link,
        link=link,
        title=f"Item {number}: " + " ".join(rng.choices(WORDS, k=7)).capitalize(),
        summary_html=f"{words[:300]} <em>{number}</em>",
        summary_text=f"{words[:300]} {number}",
        type_slug=type_slug,
        type_label=TYPES[type_slug],
        published=START + timedelta(seconds=rng.randrange(SPAN_SECONDS)),
        image_url=f"https://www.example.org/images/{number}.jpg" if image else None,
        image_caption=f"A {WORDS[number % len(WORDS)]} meeting, photo by Staff {number}"
        if image
        else None,
        image_credit=f"Staff {number}" if image else None,
        author=None,
        position=position,
    )
