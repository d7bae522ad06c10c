"""The shared ingest's queue on a real PostgreSQL (store/queue.py): due sources are queued
once, claimed by one host, come back when a lease runs out, and leave when their holder
finishes them; a feed's render turn makes a second host wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from feedsvc.store import Store
from tests.support.pgcluster import PostgresCluster
from tests.support.shared_ingest import queued_holders

SOURCES = [("t0", "http://127.0.0.1:9/t0"), ("t1", "http://127.0.0.1:9/t1"), ("t2", "x")]


@pytest.fixture
def shared(postgres_cluster: PostgresCluster) -> Iterator[Store]:
    store = Store(postgres_cluster.create_database())
    store.create_schema()
    yield store
    store.close()


def scheduled(store: Store) -> list[int]:
    ids = list(store.source_ids(SOURCES).values())
    store.schedule_sources(ids)
    return ids


def test_due_sources_are_queued_once_and_each_claimed_by_one_host(shared: Store) -> None:
    ids = scheduled(shared)
    assert shared.enqueue_due(60) == 3  # every new source is due at once
    assert shared.enqueue_due(60) == 0  # and not again before its interval
    first = shared.claim_sources("host-a:1", 2, lease_seconds=30)
    second = shared.claim_sources("host-b:2", 2, lease_seconds=30)
    assert len(first) == 2 and len(second) == 1
    assert sorted(first + second) == sorted(ids)
    assert shared.claim_sources("host-c:3", 5, lease_seconds=30) == []
    for source in first:
        shared.finish_source(source, "host-a:1")
    assert set(queued_holders(shared).values()) == {"host-b:2"}


def test_a_lease_that_runs_out_is_claimed_again_and_its_old_holder_cannot_finish_it(
    shared: Store,
) -> None:
    scheduled(shared)
    shared.enqueue_due(60)
    claimed = shared.claim_sources("host-a:1", 3, lease_seconds=0.5)
    assert shared.claim_sources("host-b:2", 3, lease_seconds=30) == []
    time.sleep(0.6)  # host-a died: nothing renewed
    assert sorted(shared.claim_sources("host-b:2", 3, lease_seconds=30)) == sorted(claimed)
    shared.finish_source(claimed[0], "host-a:1")  # too late: not its source any more
    assert len(queued_holders(shared)) == 3
    shared.finish_source(claimed[0], "host-b:2")
    assert len(queued_holders(shared)) == 2


def test_renewed_leases_hold_and_given_back_ones_are_claimed_at_once(shared: Store) -> None:
    scheduled(shared)
    shared.enqueue_due(60)
    claimed = shared.claim_sources("host-a:1", 3, lease_seconds=0.5)
    time.sleep(0.3)
    assert shared.renew_leases("host-a:1", 0.5) == 3
    time.sleep(0.3)  # past the first lease, within the renewed one
    assert shared.claim_sources("host-b:2", 3, lease_seconds=30) == []
    shared.renew_leases("host-a:1", 0)  # host-a stops: gives them back
    assert sorted(shared.claim_sources("host-b:2", 3, lease_seconds=30)) == sorted(claimed)


def test_a_source_dropped_from_the_config_is_no_longer_queued(shared: Store) -> None:
    ids = scheduled(shared)
    shared.schedule_sources(ids[:1])
    assert shared.enqueue_due(60) == 1
    assert list(queued_holders(shared)) == [SOURCES[0]]


def test_a_render_turn_makes_another_host_wait(shared: Store) -> None:
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with shared.render_turn("topics/t0/feed"):
            inside.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with shared.render_turn("topics/t1/feed"):  # another feed: no wait
        order.append("other feed in")
    with shared.render_turn("topics/t0/feed"):
        order.append("second in")
    thread.join()
    assert order == ["other feed in", "first done", "second in"]
