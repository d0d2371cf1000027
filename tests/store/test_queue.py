"""
Tests for the per-agent work queue: order, bounds, leases and their recovery.
"""

from __future__ import annotations

import pytest
import pytest_twisted

from action_llama.store import Database, NewWork, NoSuchRecord, Store
from tests.store.support import reactor


def _work(agent: str, at: float, n: int = 0) -> NewWork:
    """
    A manual trigger of ``agent`` enqueued at ``at``, numbered ``n``.
    """
    return NewWork(agent, "manual", at, context={"n": n})


async def _reopen(db: Database) -> tuple[Database, Store]:
    """
    Close ``db`` without starting its leased work, as a crash would leave it,
    and open the same file again.
    """
    await db.close()
    again = Database(db.path, reactor)
    await again.start()
    return again, Store(again)


@pytest_twisted.ensureDeferred
async def test_queue_is_first_in_first_out(store: Store) -> None:
    """
    Items of an agent are leased in the order they were enqueued, each agent's
    queue apart, and an empty queue leases nothing.
    """
    for n in range(3):
        await store.enqueue(_work("alpha", float(n), n), bound=10)
        await store.enqueue(_work("beta", float(n), n), bound=10)

    leased = [await store.lease("alpha", 10.0) for _ in range(4)]
    assert [item.context["n"] if item else None for item in leased] == [0, 1, 2, None]
    assert leased[0] is not None and leased[0].attempts == 1
    assert await store.queue_depths() == {"alpha": 3, "beta": 3}
    assert [w.context["n"] for w in await store.queued("beta")] == [0, 1, 2]


@pytest_twisted.ensureDeferred
async def test_enqueue_records_a_queued_trigger(store: Store) -> None:
    """
    Enqueueing writes a ``queued`` trigger row that names the work and the
    webhook receipt.
    """
    work = NewWork("alpha", "webhook", 3.0, trigger_source="github", receipt_id="r9")
    result = await store.enqueue(work, bound=10)
    page, _ = await store.list_triggers(1, 10)
    assert result.work_id == work.work_id and result.dropped == ()
    assert [(t.id, t.result, t.work_id, t.receipt_id) for t in page] == [
        (result.trigger_id, "queued", work.work_id, "r9")
    ]


@pytest_twisted.ensureDeferred
async def test_bound_drops_the_oldest_as_dropped(store: Store) -> None:
    """
    Past its bound, a queue loses its oldest items, whose trigger rows become
    ``dropped``; the newest stay, in order.
    """
    for n in range(3):
        await store.enqueue(_work("alpha", float(n), n), bound=3)
    result = await store.enqueue(_work("alpha", 3.0, 3), bound=2)

    assert [w.context["n"] for w in result.dropped] == [0, 1]
    assert [w.context["n"] for w in await store.queued("alpha")] == [2, 3]
    page, _ = await store.list_triggers(1, 10)
    assert [t.result for t in page] == ["queued", "queued", "dropped", "dropped"]


@pytest_twisted.ensureDeferred
async def test_bound_never_drops_a_leased_item(store: Store) -> None:
    """
    A leased item counts toward the bound but is never dropped; the oldest
    unleased ones go instead.
    """
    await store.enqueue(_work("alpha", 0.0, 0), bound=2)
    await store.lease("alpha", 1.0)
    await store.enqueue(_work("alpha", 2.0, 1), bound=2)
    result = await store.enqueue(_work("alpha", 3.0, 2), bound=2)
    assert [w.context["n"] for w in result.dropped] == [1]
    assert [w.context["n"] for w in await store.queued("alpha")] == [0, 2]


@pytest_twisted.ensureDeferred
async def test_unlease_puts_the_item_back_without_an_attempt(store: Store) -> None:
    """
    An unleased item is the next one leased again, and the refused lease does
    not count as an attempt.
    """
    await store.enqueue(_work("alpha", 0.0, 0), bound=10)
    await store.enqueue(_work("alpha", 1.0, 1), bound=10)
    first = await store.lease("alpha", 2.0)
    assert first is not None
    await store.unlease(first.work_id)
    again = await store.lease("alpha", 3.0)
    assert again is not None
    assert (again.work_id, again.attempts, again.leased_at) == (first.work_id, 1, 3.0)
    await store.unlease(again.work_id)
    with pytest.raises(NoSuchRecord):
        await store.unlease(again.work_id)


@pytest_twisted.ensureDeferred
async def test_a_crash_between_lease_and_start_loses_nothing(
    database: Database, store: Store
) -> None:
    """
    An item leased when the service died is back in the queue after recovery,
    and its next lease counts a second attempt.
    """
    queued = await store.enqueue(_work("alpha", 0.0), bound=10)
    await store.lease("alpha", 1.0)

    db, store = await _reopen(database)
    quarantined = await store.recover_leases(2.0)
    item = await store.lease("alpha", 3.0)
    await db.close()

    assert quarantined == []
    assert item is not None
    assert (item.work_id, item.attempts) == (queued.work_id, 2)


@pytest_twisted.ensureDeferred
async def test_three_deaths_quarantine_the_item(
    database: Database, store: Store
) -> None:
    """
    An item whose run died with the service three times is quarantined as a
    ``crashed_repeatedly`` dead letter, and leaves the queue.
    """
    queued = await store.enqueue(_work("alpha", 0.0), bound=10)
    db = database
    quarantined = []
    for death in range(3):
        assert await store.lease("alpha", 10.0 * death) is not None
        db, store = await _reopen(db)
        quarantined = await store.recover_leases(10.0 * death + 5)

    dead, total = await store.list_triggers(1, 10, dead_letter_only=True)
    depths = await store.queue_depths()
    nothing = await store.lease("alpha", 100.0)
    await db.close()
    assert [(w.work_id, w.attempts, w.quarantined_at) for w in quarantined] == [
        (queued.work_id, 3, 25.0)
    ]
    assert [(t.id, t.result, t.dead_letter_reason) for t in dead] == [
        (queued.trigger_id, "dead-letter", "crashed_repeatedly")
    ]
    assert total == 1
    assert (depths, nothing) == ({}, None)
