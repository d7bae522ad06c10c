"""Discovery: the index, each topic's page and OPML subscription lists of every feed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, render_template, request
from werkzeug.exceptions import BadRequest

from feedsvc.config import TopicConfig
from feedsvc.formats import MEDIA_TYPES, static_url
from feedsvc.keys import (
    DigestKey,
    FeedKey,
    custom_keys,
    digest_description,
    digest_title,
    feed_description,
    feed_title,
    home_url,
    urls,
)
from feedsvc.web.opml import MEDIA_TYPE as OPML_MEDIA_TYPE
from feedsvc.web.opml import PREFERRED_FORMAT as OPML_FORMAT
from feedsvc.web.opml import SETS as OPML_SETS
from feedsvc.web.opml import Folder, Outline, TopicOutlines, opml_document, opml_folders
from feedsvc.web.overview import topic_states, when
from feedsvc.web.service import Service, known_topic, service
from feedsvc.web.service import labels as type_labels

bp = Blueprint("pages", __name__)
BY_TYPE = "Every topic, by type"  # the titles of the groups after the topics'
CUSTOM = "Filtered feeds"


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
    """Every feed, or with ?set=topics or ?set=types a set whose feeds never overlap."""
    svc = service()
    chosen = request.args.get("set", "all") if request.query_string else "all"
    if chosen not in OPML_SETS:
        raise BadRequest(f"set must be one of: {', '.join(OPML_SETS)}")
    groups = _all_groups(svc)
    topics = [_topic_outlines(svc, t, g) for t, g in zip(svc.config.topics, groups, strict=False)]
    by_type = [_folder(g) for g in groups[len(topics) :] if g.title == BY_TYPE]
    folders = opml_folders(topics, by_type[0] if by_type else None, chosen)
    if chosen == "all":  # filtered feeds overlap the topics and types they are cut from
        folders += [_folder(g) for g in groups[len(topics) :] if g.title == CUSTOM]
    return _opml(svc, f"{svc.config.service.title}: {OPML_SETS[chosen]}", folders)


@bp.get("/topics/<topic>/feeds.opml")
def opml_topic(topic: str) -> Response:
    """One topic's feed, its weekly digest and its per-type feeds."""
    svc = service()
    topic_config = known_topic(svc, topic)
    group = _topic_group(svc, topic_config, type_labels(svc))
    folders = opml_folders([_topic_outlines(svc, topic_config, group)], None, "all")
    return _opml(svc, f"{svc.config.service.title}: {group.title}", folders)


def _all_groups(svc: Service) -> list[FeedGroup]:
    """Every feed: each topic's, then the per-type feeds of the types seen so far, then the
    operator's filtered feeds."""
    labels = type_labels(svc)
    groups = [_topic_group(svc, topic, labels) for topic in svc.config.topics]
    types = [FeedKey(type=slug) for slug in _by_label(svc.store.type_labels(), labels)]
    if types:
        groups.append(FeedGroup(BY_TYPE, None, _listed(svc, types, labels)))
    if svc.config.custom_feeds:
        groups.append(FeedGroup(CUSTOM, None, _listed(svc, custom_keys(svc.config), labels)))
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


def _folder(group: FeedGroup) -> Folder:
    """A group of listed feeds as an OPML folder, one outline per feed."""
    return Folder(
        group.title,
        [Outline(f.title, f.urls[OPML_FORMAT], f.home_url, f.description) for f in group.feeds],
    )


def _topic_outlines(svc: Service, topic: TopicConfig, group: FeedGroup) -> TopicOutlines:
    """A topic's group (its feed first, then per type) with its weekly digest beside it."""
    feed, *by_type = _folder(group).outlines
    digest_outline = Outline(
        digest_title(topic),
        DigestKey(topic.slug).url(svc.config.service.base_url, OPML_FORMAT),
        feed.html_url,
        digest_description(topic, svc.config.service.title),
    )
    return TopicOutlines(topic.title, feed, digest_outline, by_type)


def _opml(svc: Service, title: str, folders: list[Folder]) -> Response:
    """An OPML 2.0 document of these folders."""
    body = opml_document(title, svc.config.service.title, folders)
    response = Response(body, content_type=OPML_MEDIA_TYPE)
    response.add_etag()
    return response.make_conditional(request)
