"""Feed identities: which feeds exist, their keys, paths and titles. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from feedsvc.config import Config, TopicConfig


@dataclass(frozen=True, order=True)
class FeedKey:
    """A feed is a topic, a type, or a topic and a type; its key is also its URL path."""

    topic: str | None = None
    type: str | None = None

    def __post_init__(self) -> None:
        if self.topic is None and self.type is None:
            raise ValueError("a feed needs a topic, a type or both")

    @property
    def path(self) -> str:
        """`topics/<t>`, `types/<y>` or `topics/<t>/types/<y>`: the URL without `/feed.<fmt>`."""
        parts = []
        if self.topic:
            parts.append(f"topics/{self.topic}")
        if self.type:
            parts.append(f"types/{self.type}")
        return "/".join(parts)

    @classmethod
    def from_path(cls, path: str) -> FeedKey:
        """The inverse of `path`; ValueError for any other document's path (an archive page)."""
        parts = path.split("/")
        if len(parts) % 2 or not set(parts[::2]) <= {"topics", "types"}:
            raise ValueError(f"not a feed path: {path!r}")
        values = dict(zip(parts[::2], parts[1::2], strict=True))
        return cls(topic=values.get("topics"), type=values.get("types"))

    @classmethod
    def is_feed_path(cls, path: str) -> bool:
        """Whether `path` names a feed rather than an archive page or a digest."""
        try:
            cls.from_path(path)
        except ValueError:
            return False
        return True


@dataclass(frozen=True, order=True)
class ArchiveKey:
    """Page `page` (1 = oldest) of a feed's RFC 5005 archive, kept with the rendered feeds."""

    feed: FeedKey
    page: int

    @property
    def path(self) -> str:
        """`<feed path>/archive/<page>`: the URL without `.<fmt>`."""
        return f"{self.feed.path}/archive/{self.page}"


@dataclass(frozen=True, order=True)
class DigestKey:
    """A topic's weekly digest, kept with the rendered feeds."""

    topic: str

    @property
    def path(self) -> str:
        """`topics/<t>/digest/weekly`: the URL without `.<fmt>`."""
        return f"topics/{self.topic}/digest/weekly"


def affected_feeds(topic: str, type_slugs: set[str]) -> set[FeedKey]:
    """The feeds that change when items of these types change in this topic."""
    keys = {FeedKey(topic=topic)}
    for type_slug in type_slugs:
        keys |= {FeedKey(type=type_slug), FeedKey(topic=topic, type=type_slug)}
    return keys


def feed_title(key: FeedKey, config: Config, type_labels: dict[str, str]) -> str:
    """A human title: "Security Cooperation", "Report", "Security Cooperation: Report"."""
    parts = []
    if key.topic:
        topic = config.topic(key.topic)
        parts.append(topic.title if topic else key.topic)
    if key.type:
        parts.append(type_labels.get(key.type, key.type))
    return ": ".join(parts)


def feed_description(key: FeedKey, config: Config, type_labels: dict[str, str]) -> str:
    """One sentence saying what the feed holds."""
    if key.topic and key.type:
        topic_title = feed_title(FeedKey(key.topic), config, type_labels)
        what = f"{type_labels.get(key.type, key.type)} items on {topic_title}"
    elif key.topic:
        topic = config.topic(key.topic)
        if topic and topic.description:
            return topic.description
        what = f"Everything published on {feed_title(key, config, type_labels)}"
    else:
        what = f"Every {type_labels.get(key.type or '', key.type)} item across all topics"
    return f"{what}, kept by {config.service.title}."


def feed_author(key: FeedKey, config: Config) -> str:
    """A feed's author: its topic's `author`; a type feed spans topics, so the service title."""
    topic = config.topic(key.topic) if key.topic else None
    return topic.author if topic else config.service.title


def digest_title(topic: TopicConfig) -> str:
    """The title of a topic's weekly digest, in the feed and in OPML."""
    return f"{topic.title}: weekly digest"


def digest_description(topic: TopicConfig, service_title: str) -> str:
    """What a topic's weekly digest holds, in the feed and in OPML."""
    return (
        f"One entry per week with everything published on {topic.title} that week, "
        f"kept by {service_title}."
    )
