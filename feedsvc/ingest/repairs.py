"""Repairs in the ingest: the selectors in force for a source, and the repair tried when a
run is refused as broken ([ingest] auto_repair).

`in_force` is the one place that says how a source is read now: with the config's
selectors, or with an applied repair's. The config wins: a repair found while the source's
block said something else is dropped, and the drop is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from feedsvc.config import Config, ConfigError, SourceConfig, sqlite_file
from feedsvc.discover.repair import CannotRepair, Ranked, Repair, rank_repairs, selectors_block
from feedsvc.extract.fingerprint import extraction_fingerprint
from feedsvc.fetch.client import Fetched, Fetcher, FetchError
from feedsvc.fetch.page import fetch_source_page
from feedsvc.model import SourceRepair
from feedsvc.store import Store, open_store

log = logging.getLogger(__name__)

KNOWN_ITEMS = 500  # stored items, last seen first, a repair looks for on the page
PROPOSED, APPLIED = "proposed", "applied"


def in_force(store: Store, topic: str, source: SourceConfig, now: datetime) -> SourceConfig:
    """The source as ingest, preview, check and backfill read it: the config's, or with its
    applied repair's selectors. A repair made for another block of the config is dropped."""
    repair = store.source_repair(topic, source.url)
    if repair is None:
        return source
    if repair.config_fingerprint != extraction_fingerprint(source):
        why = "the source's block in the config changed since the repair; the config wins"
        store.drop_repair(topic, source.url, now, "repair-drop", why)
        log.info("%s %s: repair dropped: %s", topic, source.url, why)
        return source
    if repair.state != APPLIED:
        return source
    try:
        return selectors_block(source, repair.block)
    except ConfigError as exc:  # a block this version no longer reads: the config's again
        store.drop_repair(topic, source.url, now, "repair-drop", f"unreadable block ({exc})")
        return source


def settled(store: Store, topic: str, url: str, now: datetime) -> None:
    """A run read the page with the selectors in force: a repair still only proposed is
    stale (the site came back, or the config was fixed) and goes, logged."""
    kept = store.source_repair(topic, url)
    if kept is not None and kept.state == PROPOSED:
        why = "the page reads again with the selectors in force"
        store.drop_repair(topic, url, now, "repair-drop", why)


def sources_in_force(
    config: Config, topic: str, sources: Sequence[SourceConfig]
) -> list[SourceConfig]:
    """`in_force` for commands that read pages without storing them (preview, check): a store
    not made yet holds no repair, and none is made for them."""
    database = sqlite_file(config.service.database)
    if database is not None and not database.exists():
        return list(sources)
    store = open_store(config.service)
    try:
        store.create_schema()
        now = datetime.now(UTC).replace(microsecond=0)
        return [in_force(store, topic, source, now) for source in sources]
    finally:
        store.close()


def unwaited(
    fetcher: Fetcher, config: Config, source: SourceConfig, failure: FetchError
) -> list[Fetched]:
    """A browser source whose `wait_for` a redesign removed times out before its page is
    read: read page 1 again without waiting for the old markup, so the run can tell the
    redesign (and repair it). Empty when that is not why the fetch failed, or the page
    cannot be read without waiting either."""
    waited = source.fetch == "browser" and source.wait_for
    if config.ingest.auto_repair == "off" or not waited:
        return []
    if f"waiting for `{source.wait_for}`" not in str(failure):
        return []
    try:
        return [fetch_source_page(fetcher, replace(source, wait_for=None), source.url)]
    except FetchError:  # the page never settles at all: the wait's failure is the reason
        return []


def find_repair(
    store: Store, config: Config, topic: str, source: SourceConfig, page: Fetched, now: datetime
) -> Repair:
    """Every candidate block for the page, ranked against the source's stored items."""
    known = store.known_items(topic, source.url, KNOWN_ITEMS)
    if not known:
        raise CannotRepair("no item of this source is stored yet: nothing to recognise", [])
    return rank_repairs(
        page.body, source, page.url, page.encoding, known, config.ingest.repair_min_known, now
    )


def keep(
    store: Store,
    topic: str,
    source: SourceConfig,
    repair: Repair,
    state: str,
    now: datetime,
    action: str | None = None,
) -> SourceRepair:
    """Keep the proposed block (`state` proposed or applied), made for the config's `source`."""
    assert repair.proposed is not None
    kept = SourceRepair(
        topic,
        source.url,
        state,
        now,
        extraction_fingerprint(source),
        repair.proposed.block,
        len(repair.proposed.recognised),
        repair.visible,
        summary(repair.proposed, repair.visible),
    )
    store.keep_repair(kept, action)
    return kept


def summary(ranked: Ranked, visible: int) -> str:
    """What a block does, in one line."""
    return (
        f"item = {ranked.source.selectors.item!r} recognises {len(ranked.recognised)} of the "
        f"{visible} stored items the page links; {len(ranked.new)} new, {len(ranked.lost)} lost"
    )


def after_broken(
    store: Store, config: Config, topic: str, source: SourceConfig, page: Fetched, now: datetime
) -> tuple[SourceConfig | None, str]:
    """A run was refused as broken: find a repair ([ingest] auto_repair). With "apply", the
    repaired source to store the page with; otherwise None, and a note for the run's error
    when a repair is proposed (why none was found is logged: the error stays the page's)."""
    if config.ingest.auto_repair == "off":
        return None, ""
    try:
        repair = find_repair(store, config, topic, source, page, now)
    except CannotRepair as exc:
        log.info("%s %s: %s", topic, source.url, exc)
        return None, ""
    except Exception:  # a bug met by an odd page must not hide why the run was refused
        log.exception("%s %s: looking for a repair failed", topic, source.url)
        return None, ""
    if repair.proposed is None:
        log.info("%s %s: cannot repair: %s", topic, source.url, repair.why_not())
        return None, ""
    if config.ingest.auto_repair == "apply":
        keep(store, topic, source, repair, APPLIED, now, "repair-apply")
        line = summary(repair.proposed, repair.visible)
        log.warning("%s %s: repaired: %s", topic, source.url, line)
        return repair.proposed.source, ""
    kept = store.source_repair(topic, source.url)
    if kept is None or kept.block != repair.proposed.block or kept.state != PROPOSED:
        keep(store, topic, source, repair, PROPOSED, now)
    return None, f"a repair is proposed (feedsvc repair --topic {topic} --apply)"
