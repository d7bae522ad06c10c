"""`feedsvc repair`: new selectors for a redesigned page, found from the items already stored.

Without a flag it reads each chosen source's page as it is now, ranks discover's lists by
how many stored items they reproduce and prints the best block, its diff against the
selectors in force and its preview. `--apply` puts that block in force (kept in the store,
logged; config.toml is not edited), `--undo` takes it out again, `--show` prints the block
in force ready to paste into config.toml.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import replace
from datetime import UTC, datetime

from feedsvc.cli.common import (
    Command,
    Exit,
    add_source_choice,
    chosen_sources,
    known_topic,
    prepare_store,
)
from feedsvc.config import Config, SourceConfig
from feedsvc.discover.repair import CannotRepair, Ranked, Repair, selectors_toml
from feedsvc.store import Store

CANDIDATES_SHOWN = 3
ITEMS_SHOWN = 10


def _arguments(parser: argparse.ArgumentParser) -> None:
    add_source_choice(parser)
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--apply",
        action="store_true",
        help="put the proposed block in force (kept in the store, logged; config.toml unchanged)",
    )
    action.add_argument(
        "--undo", action="store_true", help="take the repair out: the config's selectors again"
    )
    action.add_argument(
        "--show", action="store_true", help="print the block in force, ready for config.toml"
    )


def repair(config: Config, args: argparse.Namespace) -> int:
    """Propose (or apply, undo, show) a repair for each chosen source; exit 1 when one has none."""
    chosen = chosen_sources(config, args.topic, args.source)
    topic = known_topic(config, args.topic)
    numbers = {source.url: number for number, source in enumerate(topic.sources, 1)}
    prepare_store(config)
    store = Store(config.service.database)
    try:
        results = []
        for source in chosen:
            heading = f"{args.topic} source {numbers[source.url]} {source.url}:"
            print(f"# {heading}" if args.show else heading)  # --show prints TOML
            if args.undo:
                results.append(_undo(store, args.topic, source))
            elif args.show:
                results.append(_show(store, args.topic, source))
            else:
                results.append(_propose(store, config, args.topic, source, apply=args.apply))
    finally:
        store.close()
    return Exit.OK if all(results) else Exit.FAILED


def _propose(store: Store, config: Config, topic: str, source: SourceConfig, apply: bool) -> bool:
    """Read the page now, rank the candidate blocks, print the best; keep it with --apply."""
    from feedsvc.extract.listing import ExtractError
    from feedsvc.fetch.client import FetchError, make_fetcher
    from feedsvc.ingest.repairs import APPLIED, find_repair, in_force, keep
    from feedsvc.ingest.source import fetch_pages

    now = datetime.now(UTC).replace(microsecond=0)
    current = in_force(store, topic, source, now)  # drops a repair the config overruled
    fetcher = make_fetcher(config)
    try:
        # a browser source's wait_for names the old markup: wait for the page to settle
        page = fetch_pages(fetcher, replace(source, pages=1, wait_for=None))[0]
        found = find_repair(store, config, topic, source, page, now)
    except (FetchError, ExtractError) as exc:
        print(f"  cannot repair: the page could not be read: {exc}", file=sys.stderr)
        return False
    except CannotRepair as exc:
        print(f"  {exc}", file=sys.stderr)
        for step in exc.tried:
            print(f"    tried: {step}", file=sys.stderr)
        return False
    finally:
        fetcher.close()
    _print_candidates(found)
    if found.proposed is None:
        print(f"  cannot repair: {found.why_not()}; no block proposed", file=sys.stderr)
        return False
    _print_proposal(found.proposed, found.visible, current)
    if apply:
        keep(store, topic, source, found, APPLIED, now, "repair-apply")
        print("  applied: in force from the next run, on every host (feedsvc repair --undo)")
    return True


def _print_candidates(found: Repair) -> None:
    print("  candidates, by the stored items they reproduce, then discover's score:")
    for rank, one in enumerate(found.ranked[:CANDIDATES_SHOWN], 1):
        print(
            f"    {rank}. item = {one.source.selectors.item!r}: recognises "
            f"{len(one.recognised)} of {found.visible} stored items "
            f"({one.share(found.visible):.0%}), {len(one.new)} new, {len(one.lost)} lost; "
            f"score {one.score:.1f}"
        )
        if one.reasons:
            print("       because: " + "; ".join(one.reasons))
        for problem in one.disagreements[:CANDIDATES_SHOWN]:
            print(f"       differs: {problem}")


def _print_proposal(best: Ranked, visible: int, current: SourceConfig) -> None:
    print(f"  proposed: recognises {len(best.recognised)} of the {visible} stored items")
    print("[topics.sources.selectors]")
    print(best.block, end="")
    was = selectors_toml(current.selectors).splitlines()
    diff = difflib.unified_diff(was, best.block.splitlines(), "in force", "repair", lineterm="")
    print("  diff against the selectors in force:")
    for line in diff:
        print(f"    {line}")
    rows = [("=", item.title, item.link) for item in best.recognised]
    rows += [("+", item.title, item.link) for item in best.new]
    rows += [("-", item.title, item.link) for item in best.lost]
    print(
        f"  preview: {len(best.recognised)} recognised (=), {len(best.new)} new (+), "
        f"{len(best.lost)} lost (-)"
    )
    for mark, title, link in rows[:ITEMS_SHOWN]:
        print(f"    {mark} {title[:70]}  <{link}>")
    if len(rows) > ITEMS_SHOWN:
        print(f"    ... and {len(rows) - ITEMS_SHOWN} more")


def _undo(store: Store, topic: str, source: SourceConfig) -> bool:
    now = datetime.now(UTC).replace(microsecond=0)
    why = "undone by the operator: the config's selectors are in force again"
    if store.drop_repair(topic, source.url, now, "repair-undo", why):
        print(f"  {why}")
        return True
    print("  no repair to undo", file=sys.stderr)
    return False


def _show(store: Store, topic: str, source: SourceConfig) -> bool:
    from feedsvc.ingest.repairs import APPLIED, in_force

    in_force(store, topic, source, datetime.now(UTC).replace(microsecond=0))
    kept = store.source_repair(topic, source.url)
    if kept is None:
        print("  no repair: the config's selectors are in force")
        return False
    if kept.state == APPLIED:
        print(f"# repaired selectors in force since {kept.since.isoformat()}: {kept.note}")
        print("# paste in place of this source's [topics.sources.selectors] in config.toml")
    else:
        print(f"# proposed {kept.since.isoformat()}, not in force (feedsvc repair --apply)")
        print(f"# {kept.note}")
    print("[topics.sources.selectors]")
    print(kept.block, end="")
    return True


COMMANDS = (
    Command(
        "repair",
        "find a redesigned page's new selectors from the items already stored",
        repair,
        _arguments,
    ),
)
