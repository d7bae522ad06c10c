"""`feedsvc hide`, `unhide`, `items` and `history`: corrections that take effect at once.

Every change re-renders the affected feeds through the one write path
(`cycle.publish_and_export`) and is logged in the store's operator actions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from feedsvc.cli.common import (
    Command,
    Exit,
    UsageError,
    add_source_choice,
    chosen_sources,
    prepare_store,
)
from feedsvc.config import Config, SourceConfig
from feedsvc.extract.listing import ExtractError
from feedsvc.fetch.client import FetchError, make_fetcher
from feedsvc.ingest.not_on_page import linked_from, not_extracted
from feedsvc.ingest.reading import read_pages, unusable
from feedsvc.ingest.source import fetch_pages
from feedsvc.jobs.cycle import publish_and_export
from feedsvc.store import Store
from feedsvc.store.hiding import ListedItem

T = TypeVar("T")


def hide(config: Config, args: argparse.Namespace) -> int:
    """Hide the given links, or a source's items its extraction no longer yields."""
    if args.not_on_page != bool(args.source_of) or (args.not_on_page and args.links):
        raise UsageError("hide takes LINK... or --source-of TOPIC:N --not-on-page")
    if not args.not_on_page:
        return _set_hidden(config, args.links, hidden=True)
    slug, _, number = args.source_of.rpartition(":")
    chosen = chosen_sources(config, slug, int(number) if number.isdigit() else 0)
    try:
        stale = _not_on_page(config, slug, chosen[0])
    except (FetchError, ExtractError, ValueError) as exc:
        print(f"feedsvc: hide: {exc}; nothing hidden", file=sys.stderr)
        return Exit.FAILED
    if not stale:
        print("nothing to hide: the extraction yields every item the page links")
        return Exit.OK
    print(f"{len(stale)} stored items the page links but the extraction no longer yields:")
    for item in stale:
        print(f"  {item.link}  {item.title}")
    if not args.yes and input(f"Hide these {len(stale)} items? [y/N] ").strip().lower() != "y":
        print("nothing hidden")
        return Exit.FAILED
    return _set_hidden(config, [item.link for item in stale], hidden=True)


def unhide(config: Config, args: argparse.Namespace) -> int:
    """Put hidden items back where they sat in their feeds."""
    return _set_hidden(config, args.links, hidden=False)


def items(config: Config, args: argparse.Namespace) -> int:
    """What a topic (or one source) holds: first seen, last seen, hidden."""
    chosen = chosen_sources(config, args.topic, args.source)
    url = chosen[0].url if args.source else None
    listed = _with_store(config, lambda store: store.listed_items(args.topic, url))
    if args.json:
        print(json.dumps({"items": [_item_document(item) for item in listed]}, indent=2))
        return Exit.OK
    for item in listed:
        state = "hidden" if item.hidden else "shown"
        print(
            f"{state:<6}  first-seen={item.first_seen.isoformat()}  "
            f"last-seen={item.last_seen.isoformat()}  {item.link}  {item.title}"
        )
    print(f"{len(listed)} items, {sum(item.hidden for item in listed)} hidden")
    return Exit.OK


def history(config: Config, args: argparse.Namespace) -> int:
    """The operator actions logged in the store, oldest first."""
    for action in _with_store(config, lambda store: store.operator_actions()):
        print(f"{action.at.isoformat()}  {action.action}  {action.detail}")
    return Exit.OK


def _set_hidden(config: Config, links: list[str], *, hidden: bool) -> int:
    """Change the items, log it, and re-render every feed they were (or are again) in."""
    verb = "hide" if hidden else "unhide"
    now = datetime.now(UTC).replace(microsecond=0)
    size = config.feeds.archive_page_size

    def change(store: Store) -> tuple[list[str], list[str]]:
        changed, unknown = store.set_hidden(links, hidden, now, size, verb)
        if changed:
            fetcher = make_fetcher(config)  # the hub hears of the changed feeds
            try:
                publish_and_export(store, config, fetcher)
            finally:
                fetcher.close()
        return changed, unknown

    changed, unknown = _with_store(config, change)
    for link in changed:
        print(f"{verb}: {link}")
    for link in unknown:
        print(f"feedsvc: {verb}: no stored item has the link {link}", file=sys.stderr)
    print(f"{len(changed)} items {'hidden' if hidden else 'restored'}; feeds re-rendered")
    return Exit.FAILED if unknown else Exit.OK


def _not_on_page(config: Config, topic: str, source: SourceConfig) -> list[ListedItem]:
    """The source's visible items the current page links but the current extraction skips."""
    fetcher = make_fetcher(config)
    try:
        pages = fetch_pages(fetcher, source)
    finally:
        fetcher.close()
    found = read_pages(pages, source, dict(config.types), datetime.now(UTC))
    problem = unusable(found, source)
    if problem:  # a broken extraction would hide everything
        raise ValueError(problem)
    stored = _with_store(config, lambda store: store.listed_items(topic, source.url))
    return not_extracted(stored, {item.guid for item in found.items}, linked_from(pages))


def _with_store(config: Config, work: Callable[[Store], T]) -> T:
    """Run `work` on the config's store, created or upgraded first."""
    prepare_store(config)
    store = Store(config.service.database)
    try:
        return work(store)
    finally:
        store.close()


def _item_document(item: ListedItem) -> dict:
    return {
        "guid": item.guid,
        "link": item.link,
        "title": item.title,
        "type": item.type_slug,
        "source": item.source,
        "first_seen": item.first_seen.isoformat(),
        "last_seen": item.last_seen.isoformat(),
        "hidden": item.hidden,
    }


def _hide_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("links", nargs="*", metavar="LINK", help="the items' links")
    parser.add_argument(
        "--source-of", metavar="TOPIC:N", help="with --not-on-page: the topic's Nth source"
    )
    parser.add_argument(
        "--not-on-page",
        action="store_true",
        help="hide the source's items its current extraction of the current page no longer yields",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _unhide_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("links", nargs="+", metavar="LINK", help="the items' links")


def _items_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_choice(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")


COMMANDS = (
    Command(
        "hide",
        "take items out of every feed (kept stored, so never new again)",
        hide,
        _hide_arguments,
    ),
    Command("unhide", "put hidden items back in their feeds", unhide, _unhide_arguments),
    Command("items", "list a topic's stored items, hidden ones too", items, _items_arguments),
    Command("history", "list the operator actions logged in the store", history),
)
