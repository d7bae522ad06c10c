"""`feedsvc preview` and `feedsvc check --fetch`: a source's items before anything is stored."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from feedsvc.config import Config, SourceConfig, TopicConfig
from feedsvc.fetch.client import make_fetcher
from feedsvc.ingest.preview import SourcePreview, preview_source
from feedsvc.model import Item

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
TITLE_WIDTH, LINK_WIDTH, TYPE_WIDTH = 40, 56, 16


def add_preview_command(commands: argparse._SubParsersAction) -> None:
    """`preview`'s arguments."""
    preview = commands.add_parser(
        "preview", help="fetch a topic's sources and show what ingest would store; stores nothing"
    )
    preview.add_argument("--topic", metavar="SLUG", required=True, help="the topic to preview")
    preview.add_argument(
        "--source", metavar="N", type=int, help="only the topic's Nth source (1 = the first)"
    )
    preview.add_argument(
        "--file", metavar="PATH", help="read this file as the source's page instead of fetching"
    )
    preview.add_argument("--json", action="store_true", help="print one JSON document")


def cmd_preview(config: Config, args: argparse.Namespace) -> int:
    """Preview the topic's sources: exit 0 when each yields items, 1 when one yields none."""
    chosen = chosen_sources(config, args.topic, args.source)
    if isinstance(chosen, str):
        print(f"feedsvc: {chosen}", file=sys.stderr)
        return EXIT_USAGE
    if args.file and len(chosen) != 1:
        print("feedsvc: --file reads one source's page: give --source N", file=sys.stderr)
        return EXIT_USAGE
    previews = previews_of(config, chosen, Path(args.file) if args.file else None)
    if args.json:
        print(json.dumps({"sources": [_document(p) for p in previews]}, indent=2))
    else:
        for preview in previews:
            print(preview_text(preview))
    return EXIT_OK if all(p.items for p in previews) else EXIT_FAILED


def check_fetch(config: Config) -> int:
    """`check --fetch`: every source previewed; each yielding nothing is named with the
    selector that matched nothing."""
    chosen = [source for topic in config.topics for source in topic.sources]
    failed = False
    for topic in config.topics:
        for number, preview in enumerate(previews_of(config, topic.sources), start=1):
            if preview.items:
                print(f"  {topic.slug}:{number} {preview.url}: {len(preview.items)} items")
                continue
            failed = True
            print(
                f"  {topic.slug}:{number} {preview.url}: FAILED: no items; {preview.failure()}"
                + "".join(f"\n    - {warning}" for warning in preview.warnings)
            )
    print(f"{len(chosen)} sources fetched: " + ("some yield no item" if failed else "all OK"))
    return EXIT_FAILED if failed else EXIT_OK


def chosen_sources(config: Config, slug: str, number: int | None) -> list[SourceConfig] | str:
    """The topic's sources (or its Nth), or why the arguments name none."""
    topic: TopicConfig | None = config.topic(slug)
    if topic is None:
        known = ", ".join(t.slug for t in config.topics)
        return f"unknown topic {slug!r}; expected one of: {known}"
    if number is None:
        return list(topic.sources)
    if not 1 <= number <= len(topic.sources):
        return f"topic {slug!r} has sources 1 to {len(topic.sources)}, not {number}"
    return [topic.sources[number - 1]]


def previews_of(
    config: Config, sources: list[SourceConfig], file: Path | None = None
) -> list[SourcePreview]:
    """Each source previewed through one polite fetcher."""
    fetcher = make_fetcher(config)
    try:
        return [preview_source(fetcher, config, source, file) for source in sources]
    finally:
        fetcher.close()


def preview_text(preview: SourcePreview) -> str:
    """The table of items, each selector's count and every warning."""
    lines = [f"{preview.url}: {len(preview.items)} items"]
    header = (
        f"{'title':<{TITLE_WIDTH}}  {'link':<{LINK_WIDTH}}  {'type':<{TYPE_WIDTH}}  "
        f"{'date':<10}  image  summary"
    )
    lines += [header] + [_row(item) for item in preview.items]
    lines += ["selectors:"] + [f"  {count.line()}" for count in preview.selectors]
    lines += [f"warnings: {len(preview.warnings)}"] + [f"  - {w}" for w in preview.warnings]
    return "\n".join(lines) + "\n"


def _row(item: Item) -> str:
    date = item.published.date().isoformat() if item.published else "-"
    title, link = _cut(item.title, TITLE_WIDTH), _cut(item.link, LINK_WIDTH)
    return (
        f"{title:<{TITLE_WIDTH}}  {link:<{LINK_WIDTH}}"
        f"  {_cut(item.type_slug, TYPE_WIDTH):<{TYPE_WIDTH}}  {date:<10}  "
        f"{'yes' if item.image_url else 'no':<5}  {len(item.summary_text)}"
    )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _document(preview: SourcePreview) -> dict:
    """One source in `--json`: the items with their public field names."""
    return {
        "url": preview.url,
        "items": [
            {
                "guid": item.guid,
                "link": item.link,
                "title": item.title,
                "type": item.type_slug,
                "type_label": item.type_label,
                "published": item.published.isoformat() if item.published else None,
                "summary": item.summary_text,
                "image": item.image_url,
                "caption": item.image_caption,
                "credit": item.image_credit,
                "author": item.author,
            }
            for item in preview.items
        ],
        "selectors": {
            count.key: {
                "selector": count.selector,
                "matched": count.matched,
                "of": count.of,
                "not_dates": count.not_dates,
                "example": count.example,
            }
            for count in preview.selectors
        },
        "warnings": preview.warnings,
    }
