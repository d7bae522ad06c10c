"""Two hosts on 127.0.0.1 sharing one PostgreSQL, each with `serve`, `schedule` and
`export --follow` (tests/support/cluster.py): one source, ingested by one host at a time;
kill -9 of the leader's process group as the source comes due again hands the lead to the
other, which queues it, and it is ingested within 30 s; both hosts' answers and published
files carry the new feed within 5 s; readers on both see no error.
`make bench-cluster` runs the same with more rounds and reports the times."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from feedsvc.store import Store
from feedsvc.store.schema import items
from tests.support.cluster import Host, Readers, fail_over, leading, serving_everywhere, wait_for
from tests.support.load import GrowingSite
from tests.support.pgcluster import PostgresCluster

BASE_ITEMS = 22  # the 2024 capture GrowingSite starts from


def test_one_scheduler_fails_over_and_every_host_follows_the_store(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    database = postgres_cluster.create_database()
    site = GrowingSite()
    hosts = [Host(name, tmp_path / name, database, site.url) for name in ("a", "b")]
    try:
        for host in hosts:
            host.start("web")  # runs `feedsvc migrate` first: the two hosts take turns
            host.start("follow")
        empty = wait_for(lambda: serving_everywhere(hosts, None), 30)  # published by migrate
        for host in hosts:
            host.start("scheduler")
        first = wait_for(lambda: leading(hosts), 30)
        wait_for(lambda: serving_everywhere(hosts, empty), 30)
        with Readers(hosts) as readers:  # from the first ingest on: the feed has entries
            wait_for(lambda: readers.answers > 20, 30)
            assert len(site.requests) == 1  # one host ingested it, once
            round_ = fail_over(hosts, site, new_items=5)
            assert (round_.old_leader, round_.new_leader) == (
                first.name,
                next(h.name for h in hosts if h is not first),
            )
            print(round_)  # shown with -s: the failover and cross-host invalidation times
            assert round_.seconds_to_ingest < 30
            assert round_.seconds_to_serve < 5
            wait_for(lambda: leading(hosts), 30)  # the restarted scheduler follows
        assert readers.failures == []
        # One ingest per interval, never two at once (the page server's request log).
        assert len(site.requests) == 2
        (_, first_end), (second_start, _) = site.requests
        assert first_end <= second_start
        store = Store(database)
        with store.engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(items))
            distinct = conn.scalar(select(func.count(items.c.guid.distinct())))
        store.close()
        assert stored == distinct == BASE_ITEMS + 5
    finally:
        for host in hosts:
            host.stop()
        site.close()
