"""Adding a site: `feedsvc discover`, `feedsvc preview` and `feedsvc check [--fetch]`.

discover proposes a source block for a page; preview shows what ingest would store from a
topic's sources; check validates the config and, with --fetch, previews every source.
None of them writes to the store.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.cli.common import Command, Exit, UsageError, add_source_choice, chosen_sources
from feedsvc.config import Config, IngestConfig, SourceConfig
from feedsvc.model import Item

if TYPE_CHECKING:
    from feedsvc.ingest.preview import SourcePreview

TITLE_WIDTH, LINK_WIDTH, TYPE_WIDTH = 40, 56, 16


def _discover_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the listing page (its address goes into the block)")
    parser.add_argument("--file", metavar="PATH", help="read the page from this file, not the URL")


def discover(config: Config | None, args: argparse.Namespace) -> int:
    """Print a proposed source block for the page, or what was tried and exit 1."""
    from feedsvc.discover.items import NothingFound, discover
    from feedsvc.discover.report import propose
    from feedsvc.extract.listing import ExtractError
    from feedsvc.fetch.client import FetchError

    try:
        body, encoding = _page(config, args)
        found = discover(body, args.url, encoding)
    except (FetchError, ExtractError, OSError) as exc:
        print(f"feedsvc: discover: {exc}", file=sys.stderr)
        return Exit.FAILED
    except NothingFound as exc:
        print(f"feedsvc: {exc}; tried:", file=sys.stderr)
        for step in exc.tried:
            print(f"  - {step}", file=sys.stderr)
        return Exit.FAILED
    proposal = propose(found, args.url, body, encoding)
    print(proposal.block, end="")
    return Exit.OK if proposal.items else Exit.FAILED


def _page(config: Config | None, args: argparse.Namespace) -> tuple[bytes, str]:
    """The page's bytes and encoding: from --file, or fetched politely like any source."""
    from feedsvc.fetch.charset import page_encoding
    from feedsvc.fetch.client import Fetcher, user_agent
    from feedsvc.fetch.guard import source_guard

    if args.file:
        body = Path(args.file).read_bytes()
        return body, page_encoding(body, None)
    settings = config.ingest if config else IngestConfig()
    base_url = config.service.base_url if config else "http://127.0.0.1"
    fetcher = Fetcher(settings, agent=user_agent(base_url))
    try:
        fetched = fetcher.fetch(args.url, guard=source_guard(args.url))
    finally:
        fetcher.close()
    return fetched.body, fetched.encoding or page_encoding(fetched.body, None)


def _preview_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_choice(parser)
    parser.add_argument(
        "--file", metavar="PATH", help="read this file as the source's page instead of fetching"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def preview(config: Config, args: argparse.Namespace) -> int:
    """Preview the topic's sources: exit 0 when each yields items, 1 when one yields none."""
    chosen = chosen_sources(config, args.topic, args.source)
    if args.file and len(chosen) != 1:
        raise UsageError("--file reads one source's page: give --source N")
    previews = previews_of(config, chosen, Path(args.file) if args.file else None)
    if args.json:
        print(json.dumps({"sources": [_document(p) for p in previews]}, indent=2))
    else:
        for one in previews:
            print(preview_text(one))
    return Exit.OK if all(p.items for p in previews) else Exit.FAILED


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fetch", action="store_true", help="also preview every source; fail when one yields none"
    )


def check(config: Config, args: argparse.Namespace) -> int:
    """The config is valid (main loaded it); with --fetch, every source yields items."""
    sources = sum(len(topic.sources) for topic in config.topics)
    print(f"{config.path}: OK: {len(config.topics)} topics, {sources} sources")
    for topic in config.topics:
        for source in topic.sources:
            preset = f" (preset {source.preset})" if source.preset else ""
            print(f"  {topic.slug}: {source.url}{preset}")
    return _check_fetch(config) if args.fetch else Exit.OK


def _check_fetch(config: Config) -> int:
    """Every source previewed; each yielding nothing is named with the selector that
    matched nothing."""
    failed = False
    for topic in config.topics:
        for number, one in enumerate(previews_of(config, list(topic.sources)), start=1):
            if one.items:
                print(f"  {topic.slug}:{number} {one.url}: {len(one.items)} items")
                continue
            failed = True
            print(
                f"  {topic.slug}:{number} {one.url}: FAILED: no items; {one.failure()}"
                + "".join(f"\n    - {warning}" for warning in one.warnings)
            )
    count = sum(len(topic.sources) for topic in config.topics)
    print(f"{count} sources fetched: " + ("some yield no item" if failed else "all OK"))
    return Exit.FAILED if failed else Exit.OK


def previews_of(
    config: Config, sources: list[SourceConfig], file: Path | None = None
) -> list[SourcePreview]:
    """Each source previewed through one polite fetcher."""
    from feedsvc.fetch.client import make_fetcher
    from feedsvc.ingest.preview import preview_source

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


COMMANDS = (
    Command(
        "discover",
        "propose a [[topics.sources]] block for a page with no selectors yet",
        discover,
        _discover_arguments,
        config="optional",
    ),
    Command(
        "preview",
        "fetch a topic's sources and show what ingest would store; stores nothing",
        preview,
        _preview_arguments,
    ),
    Command("check", "validate the config file and exit", check, _check_arguments),
)
