"""Synthetic data for the benchmarks: a config, a store grown to any size, a listing page.

Items look like the institute's (a title, a 300-character summary, most with an image and a
"photo by" caption), dated at random over 25 years so that new rows land all over the
indexes, spread over TOPICS and TYPES. The first topic and the first type take 30 % each,
so even the smallest store holds 60+ items in every feed measured (topic, type, both).
The store is filled through Store.bulk_insert.
"""

from __future__ import annotations

import html
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedsvc.normalize import Item
from feedsvc.store import Store

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
BATCH = 50_000
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


def write_config(folder: Path, page_url: str | None = None) -> Path:
    """A config.toml for the benchmark store (its topics), or for one page to ingest."""
    topics = (
        [("bench-ingest", page_url)]
        if page_url
        else [(topic, source_url(topic)) for topic in TOPICS]
    )
    blocks = "".join(
        f'\n[[topics]]\nslug = "{slug}"\ntitle = "{slug.title()}"\n'
        f'  [[topics.sources]]\n  url = "{url}"\n  preset = "rand-topic"\n  robots = false\n'
        for slug, url in topics
    )
    path = folder / "config.toml"
    path.write_text(
        '[service]\ndatabase = "sqlite:///feedsvc.sqlite3"\nbase_url = "http://127.0.0.1:8000"\n'
        '[publish]\ndirectory = "public"\n'
        # The ingest figures time feedsvc's own work, not the politeness waits it adds.
        "[ingest]\nhost_delay_seconds = 0\nimage_probes_per_run = 0\n" + blocks,
        encoding="utf-8",
    )
    return path


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


def grow(store: Store, start: int, stop: int, now: datetime) -> None:
    """Add items numbered start..stop-1, BATCH at a time, one bulk insert per topic."""
    rng = random.Random(start)
    for first in range(start, stop, BATCH):
        by_topic: dict[str, list[Item]] = {}
        for number in range(first, min(first + BATCH, stop)):
            chunk = by_topic.setdefault(rng.choices(TOPICS, TOPIC_WEIGHTS)[0], [])
            chunk.append(item(number, rng, len(chunk)))
        for topic, chunk in by_topic.items():
            store.bulk_insert(topic, source_url(topic), chunk, now)


def listing_page(first: int, count: int = 100) -> bytes:
    """A topic page in the institute's layout holding `count` items from number `first` on."""
    rng = random.Random(first)
    return (
        "<html><body><ul class='teasers list organic'>"
        + "".join(_teasers(first, count, rng))
        + "</ul></body></html>"
    ).encode("utf-8")


def _teasers(first: int, count: int, rng: random.Random) -> Iterator[str]:
    for number in range(first, first + count):
        fake = item(number, rng, 0)
        date = fake.published.strftime("%b %d, %Y") if fake.published else ""
        yield (
            f"<li><div class='img-wrap'><a href='{fake.link}'><img src='{fake.image_url}' "
            f"alt='{html.escape(fake.image_caption or '', quote=True)}'></a></div>"
            f"<div class='text'><p class='type'>{fake.type_label}</p>"
            f"<h3 class='title'><a href='{fake.link}'>{html.escape(fake.title)}</a></h3>"
            f"<p class='desc'>{html.escape(fake.summary_text)}</p>"
            f"<p class='date'>{date}</p></div></li>"
        )
