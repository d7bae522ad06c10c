"""`make bench-discover`: discover → preview → ingest on every page of ../shared/realpages.

Each page is served from 127.0.0.1 at its original path (so relative links resolve as on
the site), then run through the command line as an operator would: `feedsvc discover URL`,
the block pasted into a config, `feedsvc preview --json`, `feedsvc ingest`. The stored items
are compared with the page's hand-made labels by link path and query: recall, precision,
titles exact, dates right / wrong / missing, and any traceback. Skips with a reason where
the corpus is absent. `--no-doc` prints only; otherwise docs/benchmarks.md's section is
rewritten.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from bench.corpus_report import USABLE, Outcome, write_section
from feedsvc.cli.main import main as feedsvc
from feedsvc.config import SourceConfig, load
from feedsvc.extract.listing import extract_document, parse_html
from feedsvc.fetch.charset import page_encoding
from feedsvc.keys import FeedKey
from feedsvc.store import Store
from tests.support.config import FAST_INGEST
from tests.support.pages import PageServer, Reply

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "realpages"


def link_key(url: str) -> str:
    """Path and query, unescaped the same way on both sides (pages keep Latin-1 escapes)."""
    parts = urlsplit(url.strip())
    query = sorted(parse_qsl(parts.query, keep_blank_values=True, encoding="latin-1"))
    return unquote(parts.path or "/", encoding="latin-1") + "?" + repr(query)


def run_cli(argv: list[str]) -> tuple[int, str, str, str | None]:
    """The command line in this process: exit status, stdout, stderr and any traceback."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = feedsvc(argv)
    except SystemExit as exc:
        status = int(exc.code or 0)
    except Exception:  # what the bench counts: an operator would see this traceback
        return 1, out.getvalue(), err.getvalue(), traceback.format_exc(limit=-3)
    return status, out.getvalue(), err.getvalue(), None


def config_text(block: str, folder: Path) -> str:
    return (
        f'[service]\ndatabase = "sqlite:///{folder / "feeds.sqlite3"}"\n'
        f'base_url = "http://feeds.test"\n[ingest]\n{FAST_INGEST}\n'
        f'[[topics]]\nslug = "found"\ntitle = "Found"\n\n{block}'
    )


def measure(name: str, server: PageServer, folder: Path) -> Outcome:
    """Serve the page at its original path and run discover, preview and ingest on it."""
    label = json.loads((CORPUS / "labels" / f"{name}.json").read_text(encoding="utf-8"))
    original = urlsplit(label["url"])
    path = original.path or "/"
    served = path + (f"?{original.query}" if original.query else "")
    server.routes = {served: Reply((CORPUS / "pages" / f"{name}.html").read_bytes(), 200,
                                   {"Content-Type": "text/html"})}  # fmt: skip
    outcome = Outcome(name, labelled=len(label["items"]))
    status, block, err, crash = run_cli(["discover", server.url(served)])
    if crash:
        outcome.tracebacks.append(f"discover: {crash.strip().splitlines()[-1]}")
        return outcome
    if "[[topics.sources]]\nurl" not in block:
        outcome.note = (err.strip().splitlines() or ["no block"])[0][:120]
        return outcome
    outcome.proposed = True
    outcome.item = next((ln for ln in block.splitlines() if ln.startswith("item = ")), "")[7:]
    said = next((ln for ln in block.splitlines() if ln.startswith("# Preview: ")), "")
    config = folder / "config.toml"
    config.write_text(config_text(block, folder), encoding="utf-8")
    outcome.survives = survives(load(config).topics[0].sources[0], server.url(served), name)
    status, shown, err, crash = run_cli(
        ["--config", str(config), "preview", "--topic", "found", "--json"]
    )
    if crash:
        outcome.tracebacks.append(f"preview: {crash.strip().splitlines()[-1]}")
        return outcome
    previewed = json.loads(shown)["sources"][0]["items"] if shown.startswith("{") else []
    status, ingested, err, crash = run_cli(["--config", str(config), "ingest"])
    if crash or "internal" in ingested + err:
        outcome.tracebacks.append(f"ingest: {(crash or ingested + err).strip().splitlines()[-1]}")
        return outcome
    outcome.ingested = status == 0
    if not outcome.ingested:
        outcome.note = (ingested + err).strip()[:160]
    store = Store(f"sqlite:///{folder / 'feeds.sqlite3'}")
    try:
        stored = store.entries(FeedKey(topic="found"), 5000) if outcome.ingested else []
    finally:
        store.close()
    first_said = int(said.split()[2]) if said else 0
    outcome.counts = (first_said, len(previewed), len(stored))
    compare(outcome, label, previewed if outcome.ingested else [])
    return outcome


def survives(source: SourceConfig, url: str, name: str) -> bool:
    """Whether the selectors read the same items after the site adds one at the top and
    drops one at the bottom (a copy of the first, with a new link)."""
    body = (CORPUS / "pages" / f"{name}.html").read_bytes()
    encoding = page_encoding(body, None)
    document = parse_html(body, encoding)
    before = [raw.link for raw in extract_document(document, source.selectors)]
    elements = document.cssselect(source.selectors.item)
    if len(elements) < 2:
        return False
    added = copy.deepcopy(elements[0])
    for link in added.iter("a"):
        link.set("href", (link.get("href") or "") + "-added")
    elements[0].addprevious(added)
    elements[-1].drop_tree()
    after = [raw.link for raw in extract_document(document, source.selectors)]
    return after == [before[0] + "-added" if before[0] else "", *before[:-1]]


def compare(outcome: Outcome, label: dict, previewed: list[dict]) -> None:
    """Recall, precision, titles and dates of the items (as preview shows what ingest stores,
    `published` null when undated) against the labels. Items sharing a link (two rows of a
    table linking one page, kept apart by an `id`) pair with their labels in page order."""
    by_link: dict[str, list[dict]] = {}
    for item in previewed:
        by_link.setdefault(link_key(item["link"]), []).append(item)
    wanted = {link_key(i["link"]) for i in label["items"]}
    allowed = wanted | {link_key(link) for link in label.get("also_ok", [])}
    outcome.found = len(previewed)
    outcome.extra = sum(link_key(item["link"]) not in allowed for item in previewed)
    for expected in label["items"]:
        copies = by_link.get(link_key(expected["link"]))
        if not copies:
            continue
        item = copies.pop(0)
        outcome.hits += 1
        outcome.titles += " ".join(item["title"].split()) == " ".join(expected["title"].split())
        if expected.get("date"):
            outcome.dated += 1
            if item["published"] is None:
                outcome.missing += 1
            elif item["published"][:10] == expected["date"]:
                outcome.right += 1
            else:
                outcome.wrong += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.discover", description=__doc__)
    parser.add_argument("names", nargs="*", help="pages to run (default: all)")
    parser.add_argument("--no-doc", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not (CORPUS / "labels").is_dir():
        print(f"bench-discover: skipped: the corpus {CORPUS} is absent")
        return 0
    names = args.names or sorted(p.stem for p in (CORPUS / "labels").glob("*.json"))
    server = PageServer()
    outcomes = []
    started = time.monotonic()
    try:
        for name in names:
            with tempfile.TemporaryDirectory() as folder:
                outcomes.append(measure(name, server, Path(folder)))
            print(row(outcomes[-1]), flush=True)
    finally:
        server.close()
    seconds = time.monotonic() - started
    print(total(outcomes, seconds))
    if not args.no_doc and not args.names:
        write_section(ROOT / "docs" / "benchmarks.md", outcomes, seconds, datetime.now(UTC))
    return 0


def row(o: Outcome) -> str:
    said = "=".join(map(str, o.counts)) if len(set(o.counts)) == 1 else "≠".join(map(str, o.counts))
    return (
        f"{o.name:<28} {'block' if o.proposed else 'none ':<5} "
        f"recall {o.recall:4.0%} precision {o.precision:4.0%} "
        f"titles {o.titles}/{o.hits} dates {o.right}/{o.wrong}/{o.missing} of {o.dated} "
        f"counts {said} {'survives' if o.survives else 'FRAGILE'} {'USABLE' if o.usable else ''}"
        + (f" TRACEBACK {o.tracebacks[0]}" if o.tracebacks else "")
        + (f" ({o.note})" if o.note and not o.usable else "")
    )


def total(outcomes: list[Outcome], seconds: float) -> str:
    dated = sum(o.dated for o in outcomes)
    return (
        f"pages {len(outcomes)}: block proposed {sum(o.proposed for o in outcomes)}, usable "
        f"(recall and precision >= {USABLE:.0%}, ingest accepted) "
        f"{sum(o.usable for o in outcomes)}, tracebacks {sum(bool(o.tracebacks) for o in outcomes)}"
        f"; titles exact {sum(o.titles for o in outcomes)} of {sum(o.hits for o in outcomes)} found"
        f"; dates right {sum(o.right for o in outcomes)} wrong {sum(o.wrong for o in outcomes)}"
        f" missing {sum(o.missing for o in outcomes)} of {dated} dated items found"
        f"; selectors survive an added and a removed item on "
        f"{sum(bool(o.survives) for o in outcomes)}"
        f"; one truth (discover = preview = ingest) on "
        f"{sum(len(set(o.counts)) == 1 and o.counts[0] > 0 for o in outcomes)} pages"
        f"; {seconds:.0f} s"
    )


if __name__ == "__main__":
    sys.exit(main())
