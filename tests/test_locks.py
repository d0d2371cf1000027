"""
Tests for ``action_llama.locks``: grants, TTL, fencing tokens, the wait-for
graph, the wire shapes, and a model-based run of random operations.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from attrs import define
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from twisted.internet.task import Clock
from twisted.logger import capturedLogs

from action_llama.locks import (
    DeadlockDetected,
    Extended,
    Granted,
    HeldByAnother,
    LockInfo,
    LockKeyError,
    LockTable,
    Refused,
    Released,
)

KEY = "github://acme/app/issues/42"
OTHER_KEY = "github://acme/app/issues/43"
TTL = 100.0


@pytest.fixture
def clock() -> Clock:
    """
    A clock standing at the epoch.
    """
    return Clock()


@pytest.fixture
def table(clock: Clock) -> LockTable:
    """
    A lock table on ``clock`` with a ``TTL``-second TTL.
    """
    return LockTable(clock, ttl=TTL)


def test_free_key_is_granted(clock: Clock, table: LockTable) -> None:
    """
    A free key is granted with a fencing token and an expiry one TTL away.
    """
    clock.advance(50.0)
    result = table.acquire(KEY, "fix-a1", "fix")
    assert result == Granted(KEY, 1, 150.0)
    assert table.active() == [LockInfo(KEY, "fix-a1", "fix", 50.0, 150.0, 1)]


def test_contention_refuses_second_instance(clock: Clock, table: LockTable) -> None:
    """
    A key held by one instance is refused to another, naming the holder.
    """
    clock.advance(10.0)
    table.acquire(KEY, "fix-a1", "fix")
    clock.advance(5)
    result = table.acquire(KEY, "fix-b2", "fix")
    assert result == HeldByAnother(KEY, "fix-a1", 10.0)
    assert not result.ok
    assert [lock.holder for lock in table.active()] == ["fix-a1"]


def test_reacquire_by_holder_keeps_token_and_refreshes_ttl(
    clock: Clock, table: LockTable
) -> None:
    """
    A holder acquiring its own key again keeps the token and gets a new TTL.
    """
    first = table.acquire(KEY, "fix-a1", "fix")
    clock.advance(60)
    second = table.acquire(KEY, "fix-a1", "fix")
    assert isinstance(first, Granted)
    assert second == Granted(KEY, first.token, 160.0)
    assert table.active()[0].held_since == 0.0


def test_only_holder_releases(table: LockTable) -> None:
    """
    Another instance cannot release a lock, and the holder can.
    """
    table.acquire(KEY, "fix-a1", "fix")
    assert table.release(KEY, "fix-b2") == Refused(KEY, "held by another instance")
    assert table.release(KEY, "fix-a1") == Released(KEY)
    assert table.active() == []


def test_release_of_free_key_is_refused(table: LockTable) -> None:
    """
    Releasing a key nobody holds is refused as not held.
    """
    assert table.release(KEY, "fix-a1") == Refused(KEY, "not held")


def test_only_holder_heartbeats(table: LockTable) -> None:
    """
    A heartbeat from another instance, or on a free key, is refused.
    """
    assert table.heartbeat(KEY, "fix-a1") == Refused(KEY, "not held")
    table.acquire(KEY, "fix-a1", "fix")
    refused = table.heartbeat(KEY, "fix-b2")
    assert refused == Refused(KEY, "held by another instance")
    assert table.active()[0].expires_at == TTL


def test_lock_expires_after_ttl(clock: Clock, table: LockTable) -> None:
    """
    A lock not heartbeated for a TTL is free, and goes to the next asker.
    """
    table.acquire(KEY, "fix-a1", "fix")
    clock.advance(TTL - 1)
    assert isinstance(table.acquire(KEY, "fix-b2", "fix"), HeldByAnother)
    clock.advance(1)
    assert table.active() == []
    assert table.acquire(KEY, "fix-b2", "fix") == Granted(KEY, 2, 2 * TTL)


def test_heartbeat_extends_expiry(clock: Clock, table: LockTable) -> None:
    """
    A heartbeat restarts the TTL from the time of the heartbeat.
    """
    table.acquire(KEY, "fix-a1", "fix")
    clock.advance(90)
    assert table.heartbeat(KEY, "fix-a1") == Extended(KEY, 190.0)
    clock.advance(90)
    assert [lock.holder for lock in table.active()] == ["fix-a1"]
    clock.advance(10)
    assert table.active() == []


def test_expired_lock_cannot_be_heartbeated(clock: Clock, table: LockTable) -> None:
    """
    The former holder of an expired lock is refused a heartbeat.
    """
    table.acquire(KEY, "fix-a1", "fix")
    clock.advance(TTL)
    assert table.heartbeat(KEY, "fix-a1") == Refused(KEY, "not held")


def test_fencing_tokens_never_reused(clock: Clock, table: LockTable) -> None:
    """
    Every new grant gets a larger token, across keys, releases and expiry.
    """
    tokens: list[int] = []
    for holder in ["a", "b"]:
        for key in [KEY, OTHER_KEY]:
            granted = table.acquire(key, holder, "fix")
            assert isinstance(granted, Granted)
            tokens.append(granted.token)
            table.release(key, holder)
    table.acquire(KEY, "c", "fix")
    clock.advance(TTL)
    granted = table.acquire(KEY, "c", "fix")
    assert isinstance(granted, Granted)
    tokens.append(granted.token)
    assert tokens == [1, 2, 3, 4, 6]


def test_two_instance_deadlock_is_detected(table: LockTable) -> None:
    """
    Two instances each wanting what the other holds get a deadlock answer.
    """
    table.acquire("x", "A", "fix")
    table.acquire("y", "B", "fix")
    assert table.acquire("y", "A", "fix") == HeldByAnother("y", "B", 0.0)
    result = table.acquire("x", "B", "fix")
    assert result == DeadlockDetected("x", ("B", "A"))
    assert not result.ok


def test_three_party_deadlock_is_detected(table: LockTable) -> None:
    """
    A cycle of waits through three instances is reported starting at the asker.
    """
    for holder, key in [("A", "x"), ("B", "y"), ("C", "z")]:
        table.acquire(key, holder, "fix")
    assert isinstance(table.acquire("y", "A", "fix"), HeldByAnother)
    assert isinstance(table.acquire("z", "B", "fix"), HeldByAnother)
    assert table.acquire("x", "C", "fix") == DeadlockDetected("x", ("C", "A", "B"))


def test_waits_cleared_by_release(table: LockTable) -> None:
    """
    An instance that releases a lock no longer counts as waiting.
    """
    table.acquire("x", "A", "fix")
    table.acquire("y", "B", "fix")
    table.acquire("w", "A", "fix")
    table.acquire("y", "A", "fix")
    table.release("w", "A")
    assert table.acquire("x", "B", "fix") == HeldByAnother("x", "A", 0.0)


def test_waits_cleared_by_acquiring(table: LockTable) -> None:
    """
    An instance that acquires anything no longer counts as waiting.
    """
    table.acquire("x", "A", "fix")
    table.acquire("y", "B", "fix")
    table.acquire("y", "A", "fix")
    table.acquire("w", "A", "fix")
    assert table.acquire("x", "B", "fix") == HeldByAnother("x", "A", 0.0)


def test_wait_for_holder_vanishes_when_it_holds_nothing(table: LockTable) -> None:
    """
    Waiting on a key whose holder released it no longer closes a cycle.
    """
    table.acquire("x", "A", "fix")
    table.acquire("y", "B", "fix")
    table.acquire("y", "A", "fix")
    table.release("y", "B")
    table.acquire("z", "C", "fix")
    assert table.acquire("z", "B", "fix") == HeldByAnother("z", "C", 0.0)
    assert isinstance(table.acquire("x", "C", "fix"), HeldByAnother)


def test_wait_follows_key_to_new_holder(table: LockTable) -> None:
    """
    A wait on a key points at whoever holds that key now.
    """
    table.acquire("x", "A", "fix")
    table.acquire("y", "B", "fix")
    table.acquire("y", "A", "fix")
    table.release("y", "B")
    table.acquire("y", "C", "fix")
    assert table.acquire("x", "C", "fix") == DeadlockDetected("x", ("C", "A"))


def test_release_all_frees_everything_held(table: LockTable) -> None:
    """
    A run's exit frees all its locks and returns their keys, sorted.
    """
    table.acquire(OTHER_KEY, "A", "fix")
    table.acquire(KEY, "A", "fix")
    table.acquire("y", "B", "fix")
    table.acquire("y", "A", "fix")
    assert table.release_all("A") == [KEY, OTHER_KEY]
    assert table.release_all("A") == []
    assert [lock.key for lock in table.active()] == ["y"]
    assert table.acquire(KEY, "B", "fix") == Granted(KEY, 4, TTL)


def test_release_all_skips_expired_locks(clock: Clock, table: LockTable) -> None:
    """
    Locks that expired before the exit are not reported as released.
    """
    table.acquire(KEY, "A", "fix")
    clock.advance(50)
    table.acquire(OTHER_KEY, "A", "fix")
    clock.advance(50)
    assert table.release_all("A") == [OTHER_KEY]


def test_held_by_lists_one_holder(table: LockTable) -> None:
    """
    ``held_by`` lists the live locks of one instance, sorted by key.
    """
    table.acquire(OTHER_KEY, "A", "fix")
    table.acquire(KEY, "A", "fix")
    table.acquire("y", "B", "review")
    assert [lock.key for lock in table.held_by("A")] == [KEY, OTHER_KEY]
    assert [lock.agent for lock in table.held_by("B")] == ["review"]
    assert table.held_by("C") == []


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("x" * 513, "513 characters long; the limit is 512"),
        ("github://acme/app\n", "control character ('\\n') at position 17"),
        ("a\x00b", "control character ('\\x00') at position 1"),
        ("a\x7fb", "control character ('\\x7f') at position 1"),
    ],
)
def test_invalid_key_rejected(key: str, message: str, table: LockTable) -> None:
    """
    Empty, over-long or control-character keys raise a readable error.
    """
    attempts: list[Callable[[], object]] = [
        lambda: table.acquire(key, "A", "fix"),
        lambda: table.release(key, "A"),
        lambda: table.heartbeat(key, "A"),
    ]
    for attempt in attempts:
        with pytest.raises(LockKeyError, match=re.escape(message)):
            attempt()


def test_longest_and_unicode_keys_accepted(table: LockTable) -> None:
    """
    A key of exactly 512 characters, or with non-ASCII letters, is valid.
    """
    assert table.acquire("x" * 512, "A", "fix").ok
    assert table.acquire("file:///tmp/café", "A", "fix").ok


def test_wire_shapes(clock: Clock, table: LockTable) -> None:
    """
    Every result and lock serialises to the SPEC.md 5.6 shape with ISO times.
    """
    clock.advance(1_700_000_000.25)
    assert table.acquire(KEY, "A", "fix").to_json() == {
        "ok": True,
        "resourceKey": KEY,
        "fencingToken": 1,
        "expiresAt": "2023-11-14T22:15:00.250Z",
    }
    assert table.active()[0].to_json() == {
        "resourceKey": KEY,
        "holder": "A",
        "agentName": "fix",
        "heldSince": "2023-11-14T22:13:20.250Z",
        "expiresAt": "2023-11-14T22:15:00.250Z",
        "fencingToken": 1,
    }
    assert table.acquire(KEY, "B", "fix").to_json() == {
        "ok": False,
        "holder": "A",
        "heldSince": "2023-11-14T22:13:20.250Z",
        "reason": "held by another instance",
    }
    clock.advance(30)
    assert table.heartbeat(KEY, "A").to_json() == {
        "ok": True,
        "resourceKey": KEY,
        "expiresAt": "2023-11-14T22:15:30.250Z",
    }
    assert table.release(KEY, "B").to_json() == {
        "ok": False,
        "reason": "held by another instance",
    }
    assert table.release(KEY, "A").to_json() == {"ok": True, "resourceKey": KEY}
    assert table.heartbeat(KEY, "A").to_json() == {"ok": False, "reason": "not held"}


def test_deadlock_wire_shape() -> None:
    """
    A deadlock answer carries the reason and the cycle as a list.
    """
    assert DeadlockDetected("x", ("B", "A")).to_json() == {
        "ok": False,
        "reason": "possible deadlock detected",
        "cycle": ["B", "A"],
    }


def test_listeners_called_on_changes_only(clock: Clock, table: LockTable) -> None:
    """
    Listeners hear of grants, heartbeats, releases and expiry, not refusals.
    """
    calls: list[str] = []
    table.add_listener(lambda: calls.append("one"))
    table.add_listener(lambda: calls.append("two"))
    table.acquire(KEY, "A", "fix")
    table.acquire(KEY, "B", "fix")
    table.release(KEY, "B")
    table.heartbeat(KEY, "A")
    table.release(KEY, "A")
    table.release_all("A")
    table.acquire(KEY, "A", "fix")
    clock.advance(TTL)
    table.active()
    table.active()
    assert calls == ["one", "two"] * 5


def test_failing_listener_is_logged(table: LockTable) -> None:
    """
    A listener that raises is logged, and neither the change nor others suffer.
    """
    calls: list[str] = []

    def broken() -> None:
        """
        Fail the way a buggy publisher would.
        """
        raise RuntimeError("publisher broke")

    table.add_listener(broken)
    table.add_listener(lambda: calls.append("called"))
    with capturedLogs() as events:
        assert table.acquire(KEY, "A", "fix").ok
    assert calls == ["called"]
    [event] = events
    assert event["listener"] is broken
    assert event["log_failure"].check(RuntimeError)


HOLDERS = [f"fix-{n}" for n in range(8)]
KEYS = [f"github://acme/app/issues/{n}" for n in range(4)]


@define
class ModelLock:
    """
    What the model expects of one held lock.
    """

    holder: str
    token: int
    held_since: float
    expires_at: float


class LockTableMachine(RuleBasedStateMachine):
    """
    Random acquires, releases, heartbeats, clock advances and crashes by
    eight contenders over four keys, checked against a model: a dictionary
    of live locks, and each instance's set of keys it waits for.
    """

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.table = LockTable(self.clock, ttl=TTL)
        self.model: dict[str, ModelLock] = {}
        self.waits: dict[str, set[str]] = {}
        self.last_token = 0

    def now(self) -> float:
        """
        The current time of the clock.
        """
        return self.clock.seconds()

    def live(self, key: str) -> ModelLock | None:
        """
        The model's lock on ``key``, if it has not expired.
        """
        lock = self.model.get(key)
        if lock is None or lock.expires_at <= self.now():
            return None
        return lock

    def waits_for(self, waiter: str, holder: str) -> bool:
        """
        Whether the model has ``waiter`` waiting for a key ``holder`` holds.
        """
        return any(
            (lock := self.live(key)) is not None and lock.holder == holder
            for key in self.waits.get(waiter, ())
        )

    def reaches(self, start: str, goal: str) -> bool:
        """
        Whether a chain of waits leads from ``start`` to ``goal``.
        """
        seen = {start}
        stack = [start]
        while stack:
            waiter = stack.pop()
            for holder in HOLDERS:
                if holder not in seen and self.waits_for(waiter, holder):
                    if holder == goal:
                        return True
                    seen.add(holder)
                    stack.append(holder)
        return False

    def held_keys(self) -> dict[str, str]:
        """
        The model's live locks, as holder by key.
        """
        return {
            key: lock.holder
            for key in self.model
            if (lock := self.live(key)) is not None
        }

    @rule(key=st.sampled_from(KEYS), holder=st.sampled_from(HOLDERS))
    def acquire(self, key: str, holder: str) -> None:
        """
        Any instance tries any key.
        """
        self.check_acquire(key, holder)

    @precondition(lambda self: len(set(self.held_keys().values())) >= 2)
    @rule(data=st.data())
    def hold_and_wait(self, data: st.DataObject) -> None:
        """
        An instance holding a lock tries one held by another instance, the
        pattern that builds deadlocks.
        """
        held = self.held_keys()
        holder = data.draw(st.sampled_from(sorted(set(held.values()))))
        key = data.draw(st.sampled_from(sorted(k for k in held if held[k] != holder)))
        self.check_acquire(key, holder)

    def check_acquire(self, key: str, holder: str) -> None:
        """
        Acquire: granted when free or already ours, with a fresh token only
        when free; otherwise refused, as a deadlock exactly when the holder's
        chain of waits leads back to the asker.
        """
        lock = self.live(key)
        result = self.table.acquire(key, holder, "fix")
        if lock is None or lock.holder == holder:
            assert isinstance(result, Granted)
            self.waits.pop(holder, None)
            if lock is None:
                assert result.token > self.last_token
                self.last_token = result.token
                lock = ModelLock(holder, result.token, self.now(), 0.0)
                self.model[key] = lock
            assert result.token == lock.token
            lock.expires_at = self.now() + TTL
            assert result.expires_at == lock.expires_at
        elif self.reaches(lock.holder, holder):
            assert isinstance(result, DeadlockDetected)
            cycle = result.cycle
            assert cycle[:2] == (holder, lock.holder)
            assert len(set(cycle)) == len(cycle)
            for waiter, held_by in zip(cycle[1:], cycle[2:] + cycle[:1]):
                assert self.waits_for(waiter, held_by)
        else:
            assert result == HeldByAnother(key, lock.holder, lock.held_since)
            self.waits.setdefault(holder, set()).add(key)

    @rule(key=st.sampled_from(KEYS), holder=st.sampled_from(HOLDERS))
    def release(self, key: str, holder: str) -> None:
        """
        Any instance tries to release any key.
        """
        self.check_release(key, holder)

    @precondition(lambda self: bool(self.held_keys()))
    @rule(data=st.data())
    def release_own(self, data: st.DataObject) -> None:
        """
        A holder releases one of its locks, as agents mostly do.
        """
        held = self.held_keys()
        key = data.draw(st.sampled_from(sorted(held)))
        self.check_release(key, held[key])

    def check_release(self, key: str, holder: str) -> None:
        """
        Release: only the live holder succeeds.
        """
        lock = self.live(key)
        result = self.table.release(key, holder)
        assert result.ok == (lock is not None and lock.holder == holder)
        if result.ok:
            del self.model[key]
            self.waits.pop(holder, None)

    @rule(key=st.sampled_from(KEYS), holder=st.sampled_from(HOLDERS))
    def heartbeat(self, key: str, holder: str) -> None:
        """
        Heartbeat: only the live holder succeeds, and its TTL restarts.
        """
        lock = self.live(key)
        result = self.table.heartbeat(key, holder)
        assert result.ok == (lock is not None and lock.holder == holder)
        if lock is not None and result.ok:
            lock.expires_at = self.now() + TTL

    @rule(seconds=st.sampled_from([1.0, 10.0, 50.0, TTL - 1, TTL, 2 * TTL]))
    def advance(self, seconds: float) -> None:
        """
        Let time pass, possibly expiring locks.
        """
        self.clock.advance(seconds)

    @rule(holder=st.sampled_from(HOLDERS))
    def crash(self, holder: str) -> None:
        """
        A run exits: all its live locks, and only those, are released.
        """
        expected = sorted(
            key
            for key in self.model
            if (lock := self.live(key)) is not None and lock.holder == holder
        )
        assert self.table.release_all(holder) == expected
        for key in expected:
            del self.model[key]
        self.waits.pop(holder, None)

    @invariant()
    def table_matches_model(self) -> None:
        """
        The table reports exactly the model's live locks (so one holder per
        key, and the holder that was granted it), in full and per holder.
        """
        expected = [
            LockInfo(
                key, lock.holder, "fix", lock.held_since, lock.expires_at, lock.token
            )
            for key in sorted(self.model)
            if (lock := self.live(key)) is not None
        ]
        assert self.table.active() == expected
        for holder in HOLDERS:
            mine = [lock for lock in expected if lock.holder == holder]
            assert self.table.held_by(holder) == mine


def test_lock_table_matches_model() -> None:
    """
    Random operations by eight contenders agree with a simple lock model.
    """
    run_state_machine_as_test(
        LockTableMachine,
        settings=settings(max_examples=300, stateful_step_count=50, deadline=None),
    )
