"""
Tests for the trigger history: pages, totals, the dead-letter filter and
retention.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st

from action_llama.store import MIGRATIONS, NewRun, NewWork, Store, migrate, queries


@contextmanager
def _memory_database() -> Iterator[sqlite3.Connection]:
    """
    A migrated in-memory database, for running queries directly.
    """
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    migrate(conn, MIGRATIONS)
    try:
        yield conn
    finally:
        conn.close()


@pytest_twisted.ensureDeferred
async def test_pages_run_newest_first_with_totals(store: Store) -> None:
    """
    Pages list the history newest first (equal times by id), the last page is
    partial, a page past the end is empty, and every page gives the total.
    """
    ids = [
        await store.record_trigger(float(i // 2), "cron", None, f"a{i}", "completed")
        for i in range(23)
    ]
    newest_first = ids[::-1]
    pages = [await store.list_triggers(page, 5) for page in range(1, 7)]
    assert [[t.id for t in entries] for entries, _ in pages] == [
        newest_first[0:5],
        newest_first[5:10],
        newest_first[10:15],
        newest_first[15:20],
        newest_first[20:23],
        [],
    ]
    assert {total for _, total in pages} == {23}


@pytest_twisted.ensureDeferred
async def test_dead_letter_filter_and_total(store: Store) -> None:
    """
    The dead-letter listing holds only dead letters, with their reasons, and
    its own total.
    """
    await store.record_trigger(1.0, "webhook", "github", "alpha", "completed")
    await store.record_trigger(
        2.0, "webhook", "github", None, "dead-letter", dead_letter_reason="no_match"
    )
    await store.record_trigger(3.0, "cron", None, "alpha", "skipped")
    await store.record_trigger(
        4.0, "webhook", "linear", None, "dead-letter", dead_letter_reason="stale"
    )
    dead, dead_total = await store.list_triggers(1, 10, dead_letter_only=True)
    _, total = await store.list_triggers(1, 10)
    assert [(t.trigger_source, t.dead_letter_reason) for t in dead] == [
        ("linear", "stale"),
        ("github", "no_match"),
    ]
    assert (dead_total, total) == (2, 4)


@pytest_twisted.ensureDeferred
async def test_bad_page_parameters_are_refused(store: Store) -> None:
    """
    A page or limit below 1 fails with ``ValueError``.
    """
    with pytest.raises(ValueError):
        await store.list_triggers(0, 10)
    with pytest.raises(ValueError):
        await store.list_triggers(1, 0)


_rows = st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=0, max_size=40)


@given(
    rows=_rows,
    changes=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["flip", "del"]))),
    page=st.integers(1, 12),
    limit=st.integers(1, 7),
    dead_letter_only=st.booleans(),
)
def test_pages_match_a_sorted_slice(
    rows: list[tuple[int, bool]],
    changes: list[tuple[int, str]],
    page: int,
    limit: int,
    dead_letter_only: bool,
) -> None:
    """
    After any inserts, result changes and deletions, every page is the matching
    slice of the history sorted newest first, and the total is its length.
    """
    with _memory_database() as conn:
        ids = [
            queries.record_trigger(
                conn, ts, "webhook", None, None, "dead-letter" if dead else "completed"
            )
            for ts, dead in rows
        ]
        for index, change in changes:
            if index < len(ids):
                if change == "del":
                    conn.execute("DELETE FROM triggers WHERE id = ?", (ids[index],))
                else:
                    conn.execute(
                        "UPDATE triggers SET result = CASE result"
                        " WHEN 'dead-letter' THEN 'completed' ELSE 'dead-letter' END"
                        " WHERE id = ?",
                        (ids[index],),
                    )
        expected = [
            row["id"]
            for row in conn.execute("SELECT * FROM triggers ORDER BY ts DESC, id DESC")
            if row["result"] == "dead-letter" or not dead_letter_only
        ]
        entries, total = queries.list_triggers(conn, page, limit, dead_letter_only)
    assert total == len(expected)
    assert [t.id for t in entries] == expected[(page - 1) * limit : page * limit]


@pytest_twisted.ensureDeferred
async def test_prune_deletes_only_old_finished_records(store: Store) -> None:
    """
    Pruning deletes finished runs, settled triggers and finished calls older
    than the cut-off, in several small batches, and keeps whatever is in
    flight or newer.
    """
    for i in range(7):
        await store.start_run(NewRun(f"old-{i}", "alpha", "cron", float(i)))
        await store.finish_run(f"old-{i}", float(i) + 1, "completed", 0)
    await store.start_run(NewRun("still-running", "alpha", "cron", 8.0))
    queued = await store.enqueue(NewWork("alpha", "manual", 9.0), bound=10)
    old_call = await store.create_call("old-1", "alpha", "beta", {}, 1, 2.0)
    await store.update_call(old_call.call_id, "completed", 3.0)
    open_call = await store.create_call("old-2", "alpha", "beta", {}, 1, 3.0)
    await store.start_run(NewRun("new-1", "alpha", "cron", 200.0))
    await store.finish_run("new-1", 201.0, "completed", 0)

    deleted = await store.prune(100.0, batch_size=3)

    runs = await store.list_runs()
    page, total = await store.list_triggers(1, 50)
    assert deleted == 7 + 7 + 1
    assert [r.instance_id for r in runs] == ["new-1", "still-running"]
    assert [t.instance_id or t.work_id for t in page] == [
        "new-1",
        queued.work_id,
        "still-running",
    ]
    assert total == 3
    assert await store.get_call(old_call.call_id) is None
    assert await store.get_call(open_call.call_id) == open_call
