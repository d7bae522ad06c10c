"""Commands for operators setting up a site: `feedsvc discover` and `feedsvc demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from feedsvc.config import Config, IngestConfig
from feedsvc.discover.items import NothingFound, discover
from feedsvc.discover.report import propose
from feedsvc.extract.listing import ExtractError
from feedsvc.fetch.charset import page_encoding
from feedsvc.fetch.client import Fetcher, FetchError, user_agent

EXIT_OK, EXIT_FAILED = 0, 1


def add_commands(commands: argparse._SubParsersAction) -> None:
    """The operator commands' arguments."""
    found = commands.add_parser(
        "discover", help="propose a [[topics.sources]] block for a page with no selectors yet"
    )
    found.add_argument("url", help="the listing page (its address goes into the block)")
    found.add_argument("--file", metavar="PATH", help="read the page from this file, not the URL")
    demo = commands.add_parser(
        "demo", help="serve the bundled captures from 127.0.0.1, ingest them and serve the feeds"
    )
    demo.add_argument("--port", type=int, default=8000, help="port of the feeds (default: 8000)")
    demo.add_argument(
        "--directory", default="var/demo", help="where the demo writes (default: var/demo)"
    )


def cmd_discover(config: Config | None, args: argparse.Namespace) -> int:
    """Print a proposed source block for the page, or what was tried and exit 1."""
    try:
        body, encoding = _page(config, args)
        found = discover(body, args.url, encoding)
    except (FetchError, ExtractError, OSError) as exc:
        print(f"feedsvc: discover: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except NothingFound as exc:
        print(f"feedsvc: {exc}; tried:", file=sys.stderr)
        for step in exc.tried:
            print(f"  - {step}", file=sys.stderr)
        return EXIT_FAILED
    proposal = propose(found, args.url, body, encoding)
    print(proposal.block, end="")
    return EXIT_OK if proposal.items else EXIT_FAILED


def _page(config: Config | None, args: argparse.Namespace) -> tuple[bytes, str]:
    """The page's bytes and encoding: from --file, or fetched politely like any source."""
    if args.file:
        body = Path(args.file).read_bytes()
        return body, page_encoding(body, None)
    settings = config.ingest if config else IngestConfig()
    base_url = config.service.base_url if config else "http://127.0.0.1"
    fetcher = Fetcher(settings, agent=user_agent(base_url))
    try:
        fetched = fetcher.fetch(args.url)
    finally:
        fetcher.close()
    return fetched.body, fetched.encoding or page_encoding(fetched.body, None)


def cmd_demo(config: Config | None, args: argparse.Namespace) -> int:
    """Serve the bundled captures, ingest them and serve the feeds, offline."""
    from feedsvc.cli.demo import run_demo

    return run_demo(Path(args.directory), args.port)
