"""What every view needs: the config, the read-only store and the worker's cache."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from flask import current_app
from werkzeug.exceptions import NotFound

from feedsvc.config import Config, TopicConfig
from feedsvc.keys import FeedKey, type_labels
from feedsvc.store.reads import Reader
from feedsvc.web.cache import FeedCache
from feedsvc.web.suggest import unknown

if TYPE_CHECKING:
    from feedsvc.store.engine import Store


@dataclass(frozen=True)
class Service:
    """What every view needs, passed explicitly rather than through flask.g."""

    config: Config
    store: Reader  # published bytes and small lookups, without SQLAlchemy
    cache: FeedCache
    search_cache: FeedCache  # rendered searches, per query, format and limit

    @cached_property
    def full_store(self) -> Store:
        """The whole store, read-only, for what is rendered in memory (feedsvc.publish.live)."""
        from feedsvc.store.engine import open_store

        return open_store(self.config.service, readonly=True)


def service() -> Service:
    """The application's Service (views have no flask.g: a scheduler job has no request)."""
    return current_app.extensions["feedsvc"]


def known_topic(svc: Service, slug: str) -> TopicConfig:
    """The configured topic, or a one-line 404."""
    topic = svc.config.topic(slug)
    if topic is None:
        raise NotFound(unknown("topic", slug, (t.slug for t in svc.config.topics)))
    return topic


def check_exists(svc: Service, key: FeedKey) -> None:
    """A feed of an unknown topic, type or custom feed is a 404 naming the closest ones."""
    if key.custom:
        slugs = [feed.slug for feed in svc.config.custom_feeds]
        if key.custom not in slugs:
            raise NotFound(unknown("custom feed", key.custom, slugs))
        return
    if key.topic:
        known_topic(svc, key.topic)
    known = labels(svc)
    if key.type and key.type not in known:
        raise NotFound(unknown("type", key.type, known))


def labels(svc: Service) -> dict[str, str]:
    """Display labels of every type known to the config or the store."""
    return type_labels(svc.config, svc.store.type_labels())
