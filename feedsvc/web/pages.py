"""Discovery: the index, each topic's page and OPML subscription lists of every feed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, render_template, request

from feedsvc.config import TopicConfig
from feedsvc.feeds import FeedKey, feed_description, feed_title, home_url, urls
from feedsvc.formats import MEDIA_TYPES, static_url
from feedsvc.opml import MEDIA_TYPE as OPML_MEDIA_TYPE
from feedsvc.opml import PREFERRED_FORMAT as OPML_FORMAT
from feedsvc.opml import Folder, Outline, opml_document
from feedsvc.overview import topic_states, when
from feedsvc.web.service import Service, known_topic, service
from feedsvc.web.service import labels as type_labels

bp = Blueprint("pages", __name__)


def init_app(app: Flask) -> None:
    """Serve the discovery pages and OPML lists."""
    app.register_blueprint(bp)


@dataclass(frozen=True)
class ListedFeed:
    """One feed as the discovery pages and OPML show it."""

    title: str
    description: str
    home_url: str
    urls: dict[str, str]


@dataclass(frozen=True)
class FeedGroup:
    """Feeds listed together: one topic's (everything, then per type), or the per-type feeds."""

    title: str
    page_url: str | None
    feeds: tuple[ListedFeed, ...]


@bp.get("/")
def index() -> str:
    svc = service()
    states = topic_states(svc.store, svc.config, svc.config.topics)
    return _page("index.html", svc, groups=_all_groups(svc), states=states)


@bp.get("/topics/<topic>/")
def topic_page(topic: str) -> str:
    svc = service()
    known = known_topic(svc, topic)
    group = _topic_group(svc, known, type_labels(svc))
    state = topic_states(svc.store, svc.config, [known])[group.page_url]
    return _page("topic.html", svc, group=group, state=state)


@bp.get("/feeds.opml")
def opml_all() -> Response:
    svc = service()
    return _opml(svc, f"{svc.config.service.title}: every feed", _all_groups(svc))


@bp.get("/topics/<topic>/feeds.opml")
def opml_topic(topic: str) -> Response:
    svc = service()
    group = _topic_group(svc, known_topic(svc, topic), type_labels(svc))
    return _opml(svc, f"{svc.config.service.title}: {group.title}", [group])


def _all_groups(svc: Service) -> list[FeedGroup]:
    """Every feed: each topic's, then the per-type feeds of the types seen so far."""
    labels = type_labels(svc)
    groups = [_topic_group(svc, topic, labels) for topic in svc.config.topics]
    types = [FeedKey(type=slug) for slug in _by_label(svc.store.type_labels(), labels)]
    if types:
        groups.append(FeedGroup("Every topic, by type", None, _listed(svc, types, labels)))
    return groups


def _topic_group(svc: Service, topic: TopicConfig, labels: dict[str, str]) -> FeedGroup:
    """A topic's feeds: everything, then one per type it has items of (one indexed query)."""
    slugs = _by_label(svc.store.topic_types(topic.slug), labels)
    keys = [FeedKey(topic=topic.slug)] + [FeedKey(topic=topic.slug, type=slug) for slug in slugs]
    page_url = f"{svc.config.service.base_url}/topics/{topic.slug}/"
    return FeedGroup(topic.title, page_url, _listed(svc, keys, labels))


def _by_label(slugs: Iterable[str], labels: dict[str, str]) -> list[str]:
    """Type slugs in the order a reader looks for them: by display label."""
    return sorted(slugs, key=lambda slug: labels.get(slug, slug).lower())


def _listed(svc: Service, keys: list[FeedKey], labels: dict[str, str]) -> tuple[ListedFeed, ...]:
    """Titles, descriptions and URLs of these feeds, in this order."""
    config = svc.config
    return tuple(
        ListedFeed(
            title=feed_title(key, config, labels),
            description=feed_description(key, config, labels),
            home_url=home_url(key, config),
            urls=urls(key, config.service.base_url),
        )
        for key in keys
    )


def _page(template: str, svc: Service, **context: object) -> str:
    """An HTML discovery page with what the base layout needs."""
    return render_template(
        template,
        config=svc.config,
        formats=MEDIA_TYPES,
        stylesheet=static_url(svc.config.service.base_url, "style.css"),
        when=when,
        **context,
    )


def _opml(svc: Service, title: str, groups: list[FeedGroup]) -> Response:
    """An OPML 2.0 list of these feeds, one outline each, folders by group."""
    folders = [
        Folder(
            group.title,
            [Outline(f.title, f.urls[OPML_FORMAT], f.home_url, f.description) for f in group.feeds],
        )
        for group in groups
    ]
    body = opml_document(title, svc.config.service.title, folders)
    response = Response(body, content_type=OPML_MEDIA_TYPE)
    response.add_etag()
    return response.make_conditional(request)
