"""Document identities: which feeds exist, which an item joins, their paths, URLs and titles.

Pure. Every URL of a feed, an archive page or a digest is made here, from its key.
"""

from __future__ import annotations

from dataclasses import dataclass

from feedsvc.config import Config, TopicConfig
from feedsvc.formats import FORMATS


@dataclass(frozen=True, order=True)
class FeedKey:
    """A feed is a topic, a type, or a topic and a type, or an operator's filtered feed
    (`custom`, a [[custom_feeds]] slug); its key is also its URL path."""

    topic: str | None = None
    type: str | None = None
    custom: str | None = None

    def __post_init__(self) -> None:
        if self.custom is not None and (self.topic or self.type):
            raise ValueError("a custom feed has no topic or type of its own")
        if self.topic is None and self.type is None and self.custom is None:
            raise ValueError("a feed needs a topic, a type or both")

    @property
    def path(self) -> str:
        """`topics/<t>`, `types/<y>`, `topics/<t>/types/<y>` or `feeds/<slug>`: the URL
        without `/feed.<fmt>`."""
        if self.custom:
            return f"feeds/{self.custom}"
        parts = []
        if self.topic:
            parts.append(f"topics/{self.topic}")
        if self.type:
            parts.append(f"types/{self.type}")
        return "/".join(parts)

    def url(self, base_url: str, fmt: str) -> str:
        """The public URL of one format of the feed."""
        return f"{base_url}/{self.path}/feed.{fmt}"

    @classmethod
    def from_path(cls, path: str) -> FeedKey:
        """The inverse of `path`; ValueError for any other document's path (an archive page)."""
        parts = path.split("/")
        if len(parts) == 2 and parts[0] == "feeds":
            return cls(custom=parts[1])
        if len(parts) % 2 or not set(parts[::2]) <= {"topics", "types"}:
            raise ValueError(f"not a feed path: {path!r}")
        values = dict(zip(parts[::2], parts[1::2], strict=True))
        return cls(topic=values.get("topics"), type=values.get("types"))

    @classmethod
    def of_item(cls, topic: str, type_slug: str) -> tuple[FeedKey, FeedKey, FeedKey]:
        """The feeds an item of this type in this topic belongs to: topic, type, both."""
        return cls(topic=topic), cls(type=type_slug), cls(topic=topic, type=type_slug)


@dataclass(frozen=True, order=True)
class ArchiveKey:
    """Page `page` (1 = oldest) of a feed's RFC 5005 archive."""

    feed: FeedKey
    page: int

    @property
    def path(self) -> str:
        """`<feed path>/archive/<page>`: the URL without `.<fmt>`."""
        return f"{self.feed.path}/archive/{self.page}"

    def url(self, base_url: str, fmt: str) -> str:
        """The public URL of one format of the page."""
        return f"{base_url}/{self.path}.{fmt}"


@dataclass(frozen=True, order=True)
class DigestKey:
    """A topic's weekly digest."""

    topic: str

    @property
    def path(self) -> str:
        """`topics/<t>/digest/weekly`: the URL without `.<fmt>`."""
        return f"topics/{self.topic}/digest/weekly"

    def url(self, base_url: str, fmt: str) -> str:
        """The public URL of one format of the digest."""
        return f"{base_url}/{self.path}.{fmt}"


DocumentKey = FeedKey | ArchiveKey | DigestKey


def urls(key: DocumentKey, base_url: str) -> dict[str, str]:
    """A document's URL in every format."""
    return {fmt: key.url(base_url, fmt) for fmt in FORMATS}


def affected_feeds(topic: str, type_slugs: set[str]) -> set[FeedKey]:
    """The feeds that change when items of these types change in this topic."""
    keys = {FeedKey(topic=topic)}
    for type_slug in type_slugs:
        keys.update(FeedKey.of_item(topic, type_slug))
    return keys


def type_labels(config: Config, stored: dict[str, str]) -> dict[str, str]:
    """Display labels of every type: the label a page gave (stored) wins over the config's."""
    return {**config.types, **stored}


def custom_keys(config: Config) -> list[FeedKey]:
    """The keys of the operator's filtered feeds, in config order."""
    return [FeedKey(custom=feed.slug) for feed in config.custom_feeds]


def home_url(key: FeedKey, config: Config) -> str:
    """The web page a feed stands for: its topic's first source page, else the index."""
    topic = config.topic(key.topic) if key.topic else None
    return topic.sources[0].url if topic else f"{config.service.base_url}/"


def feed_title(key: FeedKey, config: Config, type_labels: dict[str, str]) -> str:
    """A human title: "Security Cooperation", "Report", "Security Cooperation: Report", or
    a custom feed's own."""
    if key.custom:
        custom = config.custom_feed(key.custom)
        return custom.title if custom else key.custom
    parts = []
    if key.topic:
        topic = config.topic(key.topic)
        parts.append(topic.title if topic else key.topic)
    if key.type:
        parts.append(type_labels.get(key.type, key.type))
    return ": ".join(parts)


def feed_description(key: FeedKey, config: Config, type_labels: dict[str, str]) -> str:
    """One sentence saying what the feed holds."""
    if key.custom:
        custom = config.custom_feed(key.custom)
        if custom and custom.description:
            return custom.description
        title = feed_title(key, config, type_labels)
        return f"{title}: the items its words choose, kept by {config.service.title}."
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
