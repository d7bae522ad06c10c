"""Adding a site: `feedsvc discover`, `feedsvc preview` and `feedsvc check [--fetch]`.

discover proposes a source block for a page; preview shows what ingest would store from a
topic's sources; check validates the config and, with --fetch, previews every source.
None of them writes to the store.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.cli.common import Command, Exit, UsageError, add_source_choice, chosen_sources
from feedsvc.config import Config, IngestConfig, SourceConfig
from feedsvc.model import Item

if TYPE_CHECKING:
    from feedsvc.discover.items import Discovery
    from feedsvc.discover.report import Proposal
    from feedsvc.ingest.preview import SourcePreview

TITLE_WIDTH, LINK_WIDTH, TYPE_WIDTH = 40, 56, 16
CANDIDATE_PREVIEW = 3  # items shown per list by `discover --candidates`


def _discover_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the listing page (its address goes into the block)")
    parser.add_argument("--file", metavar="PATH", help="read the page from this file, not the URL")
    parser.add_argument(
        "--fetch",
        choices=("http", "browser"),
        default="http",
        help="browser: read the page after its scripts ran (headless Chromium)",
    )
    parser.add_argument(
        "--wait-for", metavar="CSS", help="with --fetch browser: wait until this matches"
    )
    parser.add_argument(
        "--candidates",
        type=_positive,
        metavar="N",
        help="print the best N lists on the page, each with its score's reasons and a preview",
    )
    parser.add_argument(
        "--pick",
        type=_positive,
        default=1,
        metavar="K",
        help="write the block of the K-th best list (see --candidates); default 1",
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1, got {text!r}")
    return int(text)


def discover(config: Config | None, args: argparse.Namespace) -> int:
    """Print a proposed source block for the page (or the best lists with --candidates),
    or what was tried and exit 1."""
    from feedsvc.discover.items import NothingFound, candidates
    from feedsvc.discover.jsonblock import looks_like_json, propose_json
    from feedsvc.discover.report import propose
    from feedsvc.extract.listing import ExtractError
    from feedsvc.fetch.client import FetchError

    wanted = args.candidates or args.pick
    try:
        body, encoding = _page(config, args)
        if looks_like_json(body):  # an API's answer: a kind = "json" block
            proposal = propose_json(body, args.url)
            print(proposal.block, end="")
            return Exit.OK if proposal.items else Exit.FAILED
        found = candidates(body, args.url, encoding, wanted)
        if not args.candidates and len(found) < args.pick:
            raise NothingFound([f"--pick {args.pick}: the page has {len(found)} lists"])
    except (FetchError, ExtractError, OSError, ValueError) as exc:
        print(f"feedsvc: discover: {exc}", file=sys.stderr)
        return Exit.FAILED
    except NothingFound as exc:
        print(f"feedsvc: {exc}: tried:", file=sys.stderr)
        for step in exc.tried:
            print(f"  - {step}", file=sys.stderr)
        _advise_on_app_shell(body, args.url, encoding)
        return Exit.FAILED
    if args.candidates:
        for rank, one in enumerate(found, 1):
            print(_candidate_text(rank, one, propose(one, args.url, body, encoding)))
        return Exit.OK
    chosen = found[args.pick - 1]
    proposal = propose(chosen, args.url, body, encoding)
    block = proposal.block
    if args.fetch == "browser":  # the block reads the page as discover read it
        url_line = block.splitlines(keepends=True)[1]
        wait_for = args.wait_for or chosen.item
        block = block.replace(
            url_line, f'{url_line}fetch = "browser"\nwait_for = "{wait_for}"\n', 1
        )
    print(block, end="")
    return Exit.OK if proposal.items else Exit.FAILED


def _advise_on_app_shell(body: bytes, url: str, encoding: str | None) -> None:
    """When the page is an app shell, say so and what to write instead."""
    from feedsvc.discover.appshell import app_shell
    from feedsvc.extract.listing import ExtractError

    try:
        shell = app_shell(body, url, encoding)
    except ExtractError:  # nothing to read (an empty page): no shell to advise on
        return
    for line in shell.advice() if shell else ():
        print(f"  - {line}", file=sys.stderr)


def _candidate_text(rank: int, found: Discovery, proposal: Proposal) -> str:
    """One candidate list: its item selector, score, reasons and first three items."""
    lines = [
        f"{rank}. item = {found.item!r}: {len(proposal.items)} items, score {found.score:.1f}",
        "   because: " + "; ".join(found.reasons),
    ]
    lines += [
        f"   - {item.title[:70]}  <{item.link}>" for item in proposal.items[:CANDIDATE_PREVIEW]
    ]
    return "\n".join(lines)


def _page(config: Config | None, args: argparse.Namespace) -> tuple[bytes, str]:
    """The page's bytes and encoding: from --file, or fetched politely like any source."""
    from feedsvc.fetch.charset import page_encoding
    from feedsvc.fetch.client import HTML_TYPES, Fetcher, user_agent
    from feedsvc.fetch.guard import source_guard
    from feedsvc.fetch.page import JSON_TYPES

    if args.file:
        body = Path(args.file).read_bytes()
        return body, page_encoding(body, None)
    settings = config.ingest if config else IngestConfig()
    base_url = config.service.base_url if config else "http://127.0.0.1"
    fetcher = Fetcher(settings, agent=user_agent(base_url))
    try:
        if args.fetch == "browser":
            from feedsvc.fetch.browser import render

            fetched = render(fetcher, args.url, wait_for=args.wait_for)
        else:
            fetched = fetcher.fetch(
                args.url, guard=source_guard(args.url), accept=HTML_TYPES + JSON_TYPES
            )
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
    previews = previews_of(config, args.topic, chosen, Path(args.file) if args.file else None)
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
        for number, one in enumerate(previews_of(config, topic.slug, topic.sources), start=1):
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
    config: Config, topic: str, sources: Sequence[SourceConfig], file: Path | None = None
) -> list[SourcePreview]:
    """Each source previewed through one polite fetcher, with the selectors in force (a
    repair's, when one is applied)."""
    from feedsvc.fetch.client import make_fetcher
    from feedsvc.ingest.preview import preview_source
    from feedsvc.ingest.repairs import sources_in_force

    fetcher = make_fetcher(config)
    try:
        return [
            preview_source(fetcher, config, source, file)
            for source in sources_in_force(config, topic, sources)
        ]
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
