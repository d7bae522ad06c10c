"""A search answers the newest matches by feed order, whatever order they were stored in: a
backfill stores old items last, and a page's dates are not the order of its links. Checked
against every stored item sorted in Python, on both databases."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.model import Item
from feedsvc.query import parse_query
from feedsvc.store import Store
from feedsvc.store.search_keys import search_key
from feedsvc.store.search_reads import CANDIDATES_PER_RESULT
from tests.support.items import TOPICS, item, source_url
from tests.support.stores import as_revision_0012

NOW = datetime(2026, 12, 1, tzinfo=UTC)
LIMIT = 20


def with_word(made: Item, word: str | None, published: datetime) -> Item:
    summary = f"{made.summary_text} {word}" if word else made.summary_text
    return replace(made, summary_text=summary, published=published)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shuffled_store(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Store]:
    """600 items over 25 years stored in random order, a third with `ferry`, and one minute
    whose six `minute` items were stored newest first: keys alone (minute, then id) would
    put them backwards."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_cluster").create_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('search-order') / 'feedsvc.db'}"
    store = Store(url)
    store.create_schema()
    rng = random.Random(19)
    made = [item(n, rng, 0) for n in range(600)]
    made = [with_word(m, "ferry" if n % 3 == 0 else None, m.published) for n, m in enumerate(made)]
    minute = datetime(2024, 5, 6, 7, 8, tzinfo=UTC)
    made += [
        with_word(item(1_000 + n, rng, 0), "minute", minute + timedelta(seconds=50 - 10 * n))
        for n in range(6)
    ]
    made += [with_word(item(2_000, rng, 0), "minute", minute - timedelta(seconds=1))]
    made += [with_word(item(2_001, rng, 0), "ferry", datetime(1955, 3, 1, tzinfo=UTC))]
    by_topic: dict[str, list[Item]] = {}
    for number, one in enumerate(made):
        by_topic.setdefault(TOPICS[number % 5], []).append(one)
    store.bulk_insert([(t, source_url(t), chunk) for t, chunk in by_topic.items()], NOW)
    yield store
    store.close()


def expected(store: Store, word: str, limit: int, type_slug: str = "", topic: str = "") -> list:
    """The newest `limit` visible items holding `word`, sorted here from every stored row."""
    rows = store.run(
        "SELECT i.guid, i.order_key, i.type_slug, i.summary_text, t.topic FROM items i "
        "JOIN topic_items t ON t.item_id = i.id WHERE NOT i.hidden",
        (),
    )
    matching = {
        guid: key
        for guid, key, slug, text, in_topic in rows
        if word in text.split()
        and (not type_slug or slug == type_slug)
        and (not topic or in_topic == topic)
    }
    return sorted(matching, key=matching.__getitem__, reverse=True)[:limit]


def found(store: Store, query: str, limit: int = LIMIT) -> list[str]:
    return [stored.guid for stored in store.search(parse_query(query), limit)]


def test_the_newest_matches_whatever_order_they_were_stored_in(shuffled_store: Store) -> None:
    answer = found(shuffled_store, "ferry")
    assert len(answer) == LIMIT
    assert answer == expected(shuffled_store, "ferry", LIMIT)
    everything = found(shuffled_store, "ferry", 500)
    assert everything == expected(shuffled_store, "ferry", 500)
    assert everything[-1].endswith("/2001.html")  # 1955: a key below the epoch sorts last


def test_a_minute_cut_by_the_limit_is_sorted_to_the_second(shuffled_store: Store) -> None:
    newest_three = found(shuffled_store, "minute", 3)
    assert newest_three == expected(shuffled_store, "minute", 3)
    assert [guid.rsplit("/", 1)[1] for guid in newest_three] == [
        "1000.html",
        "1001.html",
        "1002.html",
    ]
    assert found(shuffled_store, "minute", 7)[-1].endswith("/2000.html")


@pytest.mark.parametrize(
    ("query", "type_slug", "topic"),
    [("ferry type:report", "report", ""), (f"ferry topic:{TOPICS[1]}", "", TOPICS[1])],
)
def test_filters_answer_the_newest_of_their_matches(
    shuffled_store: Store, query: str, type_slug: str, topic: str
) -> None:
    """Among the newest CANDIDATES_PER_RESULT x limit matches: at 5 results that is 100 of
    the 201 `ferry` matches, and the answer must still be exact within them."""
    limit = 5
    assert len(expected(shuffled_store, "ferry", 1_000)) > CANDIDATES_PER_RESULT * limit
    assert found(shuffled_store, query, limit) == expected(
        shuffled_store, "ferry", limit, type_slug, topic
    )


def test_a_filter_looks_no_further_than_its_window(shuffled_store: Store) -> None:
    """`ferry type:X` where no X is among the newest 20 x limit ferries finds nothing rather
    than walking the whole index; a shorter window of the same query would."""
    ferries = expected(shuffled_store, "ferry", 1_000)
    window = set(ferries[: CANDIDATES_PER_RESULT * 1])
    slugs = dict(shuffled_store.run("SELECT guid, type_slug FROM items", ()))
    outside = {slugs[g] for g in ferries} - {slugs[g] for g in window}
    if not outside:
        pytest.skip("every type of ferry is among the newest 20")
    rare = sorted(outside)[0]
    assert found(shuffled_store, f"ferry type:{rare}", 1) == []
    assert found(shuffled_store, f"ferry type:{rare}", 1_000)  # a wider window finds it


def test_keys_follow_the_order_key_to_the_minute() -> None:
    early = search_key(7, "20240506070800" + "0" * 15)
    late_id_low = search_key(3, "20240506070900" + "0" * 15)
    assert late_id_low > early
    assert search_key(7, "19550301000000" + "0" * 15) < 0 < early
    assert search_key(5, "20240506070859" + "9" * 15) < search_key(6, "20240506070800" + "0" * 15)


def test_an_index_keyed_by_id_is_keyed_again_on_upgrade(tmp_path: Path) -> None:
    """Revision 0013 builds SQLite's index again with search keys; searches then answer in
    feed order. (PostgreSQL's index is unchanged: its planner sorts by order key.)"""
    database = tmp_path / "feedsvc.db"
    store = Store(f"sqlite:///{database}")
    store.create_schema()
    rng = random.Random(13)
    made = [with_word(item(n, rng, 0), "ferry", item(n, rng, 0).published) for n in range(60)]
    store.bulk_insert([(TOPICS[0], source_url(TOPICS[0]), made)], NOW)
    as_revision_0012(database)
    assert store.create_schema() is not None
    keys = store.run("SELECT rowid FROM item_search ORDER BY rowid", ())
    stored = store.run("SELECT id, order_key FROM items", ())
    assert [key for (key,) in keys] == sorted(search_key(i, order) for i, order in stored)
    assert found(store, "ferry") == expected(store, "ferry", LIMIT)
    store.close()
