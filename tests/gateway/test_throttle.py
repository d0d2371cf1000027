"""
The login throttle on its own, with a ``task.Clock``.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from action_llama.gateway.login import LoginThrottle


def test_fifth_failure_locks_the_client_until_the_window_passes() -> None:
    """
    Five failures within the window make the client wait until the first of
    them has left it; other clients are not affected.
    """
    clock = Clock()
    throttle = LoginThrottle(clock, max_failures=5, window=300)
    for _ in range(4):
        throttle.failed("10.0.0.1")
        clock.advance(10)
    assert throttle.retry_after("10.0.0.1") is None
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 260
    assert throttle.retry_after("10.0.0.2") is None
    clock.advance(259.5)
    assert throttle.retry_after("10.0.0.1") == 1
    clock.advance(0.5)
    assert throttle.retry_after("10.0.0.1") is None


def test_failures_spread_out_never_lock() -> None:
    """
    Failures further apart than the window allows never add up to a lock.
    """
    clock = Clock()
    throttle = LoginThrottle(clock, max_failures=5, window=300)
    for _ in range(20):
        throttle.failed("10.0.0.1")
        assert throttle.retry_after("10.0.0.1") is None
        clock.advance(76)


def test_clients_are_forgotten_after_the_window() -> None:
    """
    A client whose last failure has left the window is forgotten at the next
    failure of anyone.
    """
    clock = Clock()
    throttle = LoginThrottle(clock, window=300)
    for n in range(100):
        throttle.failed(f"10.0.0.{n}")
    clock.advance(301)
    throttle.failed("10.0.1.1")
    assert len(throttle) == 1


@given(st.lists(st.integers(0, 50), max_size=300))
def test_memory_stays_bounded(clients: list[int]) -> None:
    """
    However many clients fail, no more than ``max_clients`` are remembered.
    """
    throttle = LoginThrottle(Clock(), max_clients=10)
    for client in clients:
        throttle.failed(str(client))
        assert len(throttle) <= 10
