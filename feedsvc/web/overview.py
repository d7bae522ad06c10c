"""What the index and topic pages say about each topic: its state in words, its newest items.

A person opening the service sees at once whether a topic works: how many items it holds,
when it last succeeded, and, when a source fails, which one and why. Read from the store
with the web tier's plain reads (no SQLAlchemy in a web worker).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from feedsvc.config import Config, TopicConfig
from feedsvc.keys import FeedKey
from feedsvc.model import Headline, SourceStatus
from feedsvc.store.reads import Reads

NEWEST_SHOWN = 5


@dataclass(frozen=True)
class TopicState:
    """One topic's health and newest items, as the discovery pages show them."""

    items: int
    last_success: datetime | None
    failing: list[tuple[str, str]]  # (source URL, the error in words)
    pending: list[str]  # sources never fetched yet
    newest: list[Headline]

    @property
    def summary(self) -> str:
        """One sentence: items stored and last success, or that nothing was fetched yet."""
        if self.last_success is None:
            return (
                "Nothing fetched yet: the first ingest has not succeeded."
                if not self.pending
                else "Not fetched yet: the first ingest runs when the scheduler starts."
            )
        return f"{self.items} items stored; last successful fetch {when(self.last_success)}."


def topic_state(
    store: Reads, topic: TopicConfig, statuses: dict[tuple[str, str], SourceStatus]
) -> TopicState:
    """The state of a topic from its sources' statuses and its feed's stored items."""
    mine = [statuses.get((topic.slug, source.url)) for source in topic.sources]
    successes = [s.last_success_at for s in mine if s and s.last_success_at]
    return TopicState(
        items=store.member_count(FeedKey(topic=topic.slug)),
        last_success=max(successes, default=None),
        failing=[(s.url, s.last_error) for s in mine if s and s.last_error],
        pending=[
            source.url
            for source, s in zip(topic.sources, mine, strict=True)
            if s is None or s.last_attempt_at is None
        ],
        newest=store.newest(topic.slug, NEWEST_SHOWN),
    )


def topic_states(
    store: Reads, config: Config, topics: Iterable[TopicConfig]
) -> dict[str, TopicState]:
    """Each topic's state, by its page URL (the key the discovery pages' feed groups have)."""
    statuses = {(s.topic, s.url): s for s in store.sources()}
    base = config.service.base_url
    return {f"{base}/topics/{t.slug}/": topic_state(store, t, statuses) for t in topics}


def when(value: datetime | None) -> str:
    """A time as operators and readers read it here: UTC, to the minute."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"
