"""Fetch one page of a source the way the source asks: over HTTP with its headers, or
rendered in the browser (`fetch = "browser"`)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from feedsvc.config import SourceConfig
from feedsvc.fetch.client import HTML_TYPES, Fetched, Fetcher
from feedsvc.fetch.guard import source_guard

JSON_TYPES = ("application/json", "text/json", "application/ld+json", "text/plain")


def fetch_source_page(
    fetcher: Fetcher,
    source: SourceConfig,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: tuple[str, ...] = HTML_TYPES,
) -> Fetched:
    """One page of `source`; the browser is loaded only for the sources that ask for it.
    Whatever page linked `url` (a `next` link), it may reach only what the source's own
    URL may."""
    guard = source_guard(source.url)
    if source.fetch == "browser":
        from feedsvc.fetch.browser import render  # Playwright, imported when first needed

        return render(
            fetcher,
            url,
            wait_for=source.wait_for,
            robots=source.robots,
            headers=source.headers,
            guard=guard,
            etag=etag,
            last_modified=last_modified,
        )
    return fetcher.fetch(
        url,
        etag=etag,
        last_modified=last_modified,
        robots=source.robots,
        accept=accept,
        headers=source.headers,
        guard=guard,
    )


def accepted_types(source: SourceConfig, feed_types: tuple[str, ...]) -> tuple[str, ...]:
    """The media types a source's page may come as: a feed, a JSON document, or HTML."""
    if source.kind == "feed":
        return feed_types
    if source.kind == "json" and source.json is None:
        return JSON_TYPES
    return HTML_TYPES


def page_url(source: SourceConfig, number: int) -> str:
    """The URL of listing page `number`; page 1 is the configured URL itself."""
    if number == 1:
        return source.url
    parts = urlsplit(source.url)
    query = [(k, v) for k, v in parse_qsl(parts.query, True) if k != source.page_param]
    query.append((source.page_param, str(number)))
    return urlunsplit(parts._replace(query=urlencode(query)))
